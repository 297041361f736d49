"""The Distance Explainer (Meijer & Bos, 2025): why is an image close to, or far from, a reference embedding?"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Sequence

import numpy as np
from tqdm import tqdm

from dianna_distance.distances import DistanceLike, compute_distances, get_distance, select_masks, selected_ranks
from dianna_distance.masks import GENERATORS, RiseMasks
from dianna_distance.model import ModelLike, load_model

AxisLabels = dict[int, str] | Sequence[str] | None

_BATCH_VALUES = 2**22  # automatic batch size: about this many input values (16 MB of float32) per batch
_MAX_AUTO_BATCH = 256


class DistanceExplainer:
    """Explain the distance between an image's embedding and a reference embedding with a saliency map.

    The image is masked ``n_masks`` times with RISE masks; every masked image is embedded by the model and its
    distance to the reference computed. The masks are ranked by that distance. The map is the mean of the masks
    ranked in ``[mask_selection_range_min, mask_selection_range_max)`` (closest first) minus the mean of those
    in ``[mask_selection_negative_range_min, mask_selection_negative_range_max)``. Positive values mark pixels
    whose presence brings the image closer to the reference; negative values, pixels that push it away.

    Parameters are stored as given and checked when :meth:`attribute` runs.

    Args:
        n_masks: Number of masks (model evaluations).
        feature_res: Number of mask grid cells per image axis.
        p_keep: Probability that a grid cell is kept, in (0, 1].
        mask_selection_range_min: Lower end of the positive selection, a fraction of the ranking in [0, 1].
        mask_selection_range_max: Upper end of the positive selection.
        mask_selection_negative_range_min: Lower end of the negative selection.
        mask_selection_negative_range_max: Upper end of the negative selection.
        batch_size: Masked images per model call. Default: about 4 million input values per batch, at most 256.
        axis_labels: Names of the image axes, as in DIANNA: a dict ``{axis index: name}`` or a list of names,
            with one axis called ``"channels"``. Default: the channels axis is found from the image shape
            (first or last axis of length 1 or 3), with a warning.
        preprocess_function: Applied to each batch of masked images ``(B, *image.shape)`` before the model.
        distance: ``"cosine"`` (``(1 - cos) / 2``, in [0, 1]), ``"euclidean"``, or a callable
            ``(embeddings (N, D), reference (D,)) -> (N,)``.
        random_state: Seed (int) or :class:`numpy.random.Generator` for the masks; the global RNG is never used.
        masks: Masks to use instead of generated ones, ``(n_masks, H, W)`` or ``(n_masks, H, W, 1)``, in [0, 1].
        progress: Show a progress bar.
        providers: ONNX Runtime execution providers when the model is an ONNX file. Default: CUDA when
            available, else CPU.
        mask_generator: ``"vectorized"`` (default) or ``"dianna"`` (DIANNA's upsampling, mask by mask); both
            give the same masks.
        tolerance: Choose the number of masks automatically: add ``n_masks`` masks at a time until the map's
            estimated per-pixel spread (:func:`dianna_distance.evaluation.estimate_pixel_spread`) is at most
            ``tolerance``, or ``max_masks`` masks are used. None (default): use exactly ``n_masks`` masks.
        max_masks: Upper limit on the number of masks when ``tolerance`` is set.

    Attributes:
        masks_: The masks of the last run, indexable like an array ``(n_masks, H, W)``.
        embeddings_: Embeddings of the masked images, ``(n_masks, D)``.
        distances_: Distance of each masked image to the reference, ``(n_masks,)``, or ``(K, n_masks)``.
        positive_indices_: Indices of the masks in the positive selection, closest first; ``(K, n)`` for K
            references.
        negative_indices_: Indices of the masks in the negative selection, closest first.
        embedded_reference_: The reference(s) of the last map, ``(D,)`` or ``(K, D)``.
        n_masks_used_: Number of masks the last run used (differs from ``n_masks`` when ``tolerance`` is set).
        converged_: With ``tolerance``: whether the spread fell to the tolerance before ``max_masks`` ran out.

    Example:
        >>> explainer = DistanceExplainer(n_masks=500, random_state=0)
        >>> saliency = explainer.attribute("model.onnx", image, reference)  # doctest: +SKIP
    """

    def __init__(
        self,
        n_masks: int = 1000,
        feature_res: int = 8,
        p_keep: float = 0.5,
        mask_selection_range_min: float = 0.0,
        mask_selection_range_max: float = 0.1,
        mask_selection_negative_range_min: float = 0.9,
        mask_selection_negative_range_max: float = 1.0,
        batch_size: int | None = None,
        axis_labels: AxisLabels = None,
        preprocess_function: Callable[[np.ndarray], np.ndarray] | None = None,
        distance: DistanceLike = "cosine",
        random_state: int | np.random.Generator | None = None,
        masks: np.ndarray | None = None,
        progress: bool = True,
        providers: Sequence[str] | None = None,
        mask_generator: str = "vectorized",
        tolerance: float | None = None,
        max_masks: int = 10_000,
    ) -> None:
        self.n_masks = n_masks
        self.feature_res = feature_res
        self.p_keep = p_keep
        self.mask_selection_range_min = mask_selection_range_min
        self.mask_selection_range_max = mask_selection_range_max
        self.mask_selection_negative_range_min = mask_selection_negative_range_min
        self.mask_selection_negative_range_max = mask_selection_negative_range_max
        self.batch_size = batch_size
        self.axis_labels = axis_labels
        self.preprocess_function = preprocess_function
        self.distance = distance
        self.random_state = random_state
        self.masks = masks
        self.progress = progress
        self.providers = providers
        self.mask_generator = mask_generator
        self.tolerance = tolerance
        self.max_masks = max_masks

    def attribute(self, model: ModelLike, image: np.ndarray, embedded_reference: np.ndarray) -> np.ndarray:
        """Explain why ``image`` is close to or far from ``embedded_reference`` in the model's embedded space.

        Args:
            model: Path to an ONNX file, or a callable that maps a batch laid out like ``image`` with a leading
                batch axis, ``(B, *image.shape)``, to embeddings ``(B, D)``.
            image: ``(H, W)``, or ``(H, W, C)`` / ``(C, H, W)`` (see ``axis_labels``).
            embedded_reference: ``(D,)``, or ``(K, D)`` for K references explained in one pass of the model.

        Returns:
            Saliency map ``(H, W)`` for a ``(D,)`` reference, ``(K, H, W)`` for ``(K, D)``.
        """
        self._validate_parameters()
        image = _check_finite_array(image, "image")
        channels_axis = self._channels_axis(image)
        references = self._check_reference(embedded_reference, self.distance)
        spatial_shape = image.shape[:2] if channels_axis in (None, 2) else image.shape[1:]
        run_model = load_model(model, providers=self.providers)
        if self.tolerance is None:
            masks = self._make_masks(spatial_shape)
            self.embeddings_ = self._embed_masked_images(run_model, image, channels_axis, masks, references.shape[1])
            self.converged_ = None
        else:
            from dianna_distance.evaluation import embed_until_converged

            pool = RiseMasks(spatial_shape, self.max_masks, self.feature_res, self.p_keep,
                             np.random.default_rng(self.random_state), generator=self.mask_generator)
            result = embed_until_converged(
                lambda batch: self._embed_masked_images(run_model, image, channels_axis, batch, references.shape[1],
                                                        progress=False),
                pool, references, self.tolerance, step=self.n_masks, distance=self.distance,
                positive_range=(self.mask_selection_range_min, self.mask_selection_range_max),
                negative_range=(self.mask_selection_negative_range_min, self.mask_selection_negative_range_max),
                progress=self.progress)
            masks, self.embeddings_, self.converged_ = pool.head(result.n_masks), result.embeddings, result.converged
        self.masks_ = masks
        self.n_masks_used_ = len(masks)
        ranges = (self.mask_selection_range_min, self.mask_selection_range_max,
                  self.mask_selection_negative_range_min, self.mask_selection_negative_range_max)
        return self._select(embedded_reference, self.distance, ranges)

    def reselect(
        self,
        embedded_reference: np.ndarray | None = None,
        distance: DistanceLike | None = None,
        mask_selection_range_min: float | None = None,
        mask_selection_range_max: float | None = None,
        mask_selection_negative_range_min: float | None = None,
        mask_selection_negative_range_max: float | None = None,
    ) -> np.ndarray:
        """Recompute the map from the stored embeddings of the last run, without running the model again.

        Arguments left as None keep the value of the last run (the reference) or of the explainer (the rest).
        The attributes ``distances_``, ``positive_indices_``, ``negative_indices_`` and
        ``embedded_reference_`` are updated to describe the returned map.

        Args:
            embedded_reference: Reference(s) ``(D,)`` or ``(K, D)``.
            distance: See the class parameters.
            mask_selection_range_min: See the class parameters.
            mask_selection_range_max: See the class parameters.
            mask_selection_negative_range_min: See the class parameters.
            mask_selection_negative_range_max: See the class parameters.

        Returns:
            Saliency map ``(H, W)``, or ``(K, H, W)`` for ``(K, D)`` references.
        """
        if not hasattr(self, "embeddings_"):
            raise RuntimeError("reselect needs the embeddings of a run: call attribute() first")
        given = (mask_selection_range_min, mask_selection_range_max, mask_selection_negative_range_min,
                 mask_selection_negative_range_max)
        own = (self.mask_selection_range_min, self.mask_selection_range_max,
               self.mask_selection_negative_range_min, self.mask_selection_negative_range_max)
        ranges = tuple(value if value is not None else default for value, default in zip(given, own))
        _check_selection_ranges(len(self.embeddings_), *ranges)
        distance = self.distance if distance is None else distance
        get_distance(distance)
        if embedded_reference is None:
            embedded_reference = self.embedded_reference_
        self._check_reference(embedded_reference, distance, self.embeddings_.shape[1])
        return self._select(embedded_reference, distance, ranges)

    def _select(self, embedded_reference: np.ndarray, distance: DistanceLike, ranges: tuple) -> np.ndarray:
        """Rank the stored embeddings by distance to the reference(s), select, and average the masks."""
        references = np.atleast_2d(embedded_reference)
        distances = compute_distances(self.embeddings_, references, distance)
        selections = [select_masks(row, ranges[:2], ranges[2:]) for row in distances]
        maps = self._weighted_mask_sum(np.stack([weights for weights, _, _ in selections]))
        positive = np.stack([positive for _, positive, _ in selections])
        negative = np.stack([negative for _, _, negative in selections])

        single = np.ndim(embedded_reference) == 1
        self.embedded_reference_ = np.asarray(embedded_reference)
        self.distances_ = distances[0] if single else distances
        self.positive_indices_ = positive[0] if single else positive
        self.negative_indices_ = negative[0] if single else negative
        return maps[0] if single else maps

    # -- running ----------------------------------------------------------------------------------------------

    def _make_masks(self, spatial_shape: tuple[int, int]) -> RiseMasks | np.ndarray:
        if self.masks is None:
            return RiseMasks(spatial_shape, self.n_masks, self.feature_res, self.p_keep,
                             np.random.default_rng(self.random_state), generator=self.mask_generator)
        masks = np.asarray(self.masks)
        expected = f"({self.n_masks}, {spatial_shape[0]}, {spatial_shape[1]}) or ({self.n_masks}, " \
                   f"{spatial_shape[0]}, {spatial_shape[1]}, 1)"
        if masks.ndim == 4 and masks.shape[-1] == 1:
            masks = masks[..., 0]
        if masks.shape != (self.n_masks, *spatial_shape):
            raise ValueError(f"masks must have shape {expected} (n_masks, height, width), got {np.shape(self.masks)}")
        if not np.issubdtype(masks.dtype, np.number) or not np.all((masks >= 0) & (masks <= 1)):
            raise ValueError("masks must hold numbers in [0, 1] (NaN is not allowed)")
        return masks

    def _embed_masked_images(
        self, run_model: Callable, image: np.ndarray, channels_axis: int | None, masks: RiseMasks | np.ndarray,
        embedding_length: int, progress: bool | None = None,
    ) -> np.ndarray:
        """Embed the masked images batch by batch; only one batch of masked images exists at a time."""
        n_masks = len(masks)
        batch_size = self.batch_size or _auto_batch_size(image.size, n_masks)
        work_dtype = np.result_type(image.dtype, np.float32)
        image = image.astype(work_dtype, copy=False)
        # Where the mask's channel axis goes when it multiplies the image: (B, H, W) -> (B, 1, H, W) etc.
        mask_view = {None: (...,), 0: (slice(None), None), 2: (..., None)}[channels_axis]
        buffer = np.empty((min(batch_size, n_masks), *image.shape), dtype=work_dtype)
        embeddings = None
        show = self.progress if progress is None else progress
        with tqdm(total=n_masks, desc="Explaining", unit="mask", disable=not show) as bar:
            for start in range(0, n_masks, batch_size):
                batch_masks = np.asarray(masks[start : start + batch_size], dtype=work_dtype)
                masked = np.multiply(image, batch_masks[mask_view], out=buffer[: len(batch_masks)])
                if self.preprocess_function is not None:
                    masked = self.preprocess_function(masked)
                batch_embeddings = _check_embeddings(run_model(masked), len(batch_masks), embedding_length)
                if embeddings is None:
                    embeddings = np.empty((n_masks, embedding_length), dtype=batch_embeddings.dtype)
                embeddings[start : start + len(batch_masks)] = batch_embeddings
                bar.update(len(batch_masks))
        return embeddings

    def _weighted_mask_sum(self, weights: np.ndarray) -> np.ndarray:
        """``weights (K, n_masks) @ masks (n_masks, H, W)``, generating only the masks with non-zero weight."""
        used = np.flatnonzero(np.any(weights != 0, axis=0))
        n_references, (height, width) = len(weights), self.masks_.shape[1:3]
        maps = np.zeros((n_references, height * width))
        step = _auto_batch_size(height * width, len(used))  # independent of batch_size: same sums, same map
        for start in range(0, len(used), step):
            indices = used[start : start + step]
            maps += weights[:, indices] @ np.asarray(self.masks_[indices], dtype=np.float64).reshape(len(indices), -1)
        return maps.reshape(n_references, height, width)

    # -- validation -------------------------------------------------------------------------------------------

    def _validate_parameters(self) -> None:
        _check_int(self.n_masks, "n_masks", minimum=1)
        _check_int(self.feature_res, "feature_res", minimum=1)
        if not isinstance(self.p_keep, numbers.Real) or not 0 < self.p_keep <= 1:
            raise ValueError(f"p_keep must be a number in (0, 1], got {self.p_keep!r}")
        if self.batch_size is not None:
            _check_int(self.batch_size, "batch_size", minimum=1)
        _check_selection_ranges(self.n_masks, self.mask_selection_range_min, self.mask_selection_range_max,
                                self.mask_selection_negative_range_min, self.mask_selection_negative_range_max,
                                stacklevel=4)
        get_distance(self.distance)
        if self.preprocess_function is not None and not callable(self.preprocess_function):
            raise TypeError(f"preprocess_function must be callable or None, got {self.preprocess_function!r}")
        random_state = self.random_state
        if not (random_state is None or isinstance(random_state, np.random.Generator)
                or (isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool))):
            raise TypeError(f"random_state must be None, an int or a numpy.random.Generator, got {random_state!r}")
        if self.mask_generator not in GENERATORS:
            raise ValueError(f"mask_generator must be one of {GENERATORS}, got {self.mask_generator!r}")
        if self.tolerance is not None:
            if not isinstance(self.tolerance, numbers.Real) or not self.tolerance > 0:
                raise ValueError(f"tolerance must be None or a positive number, got {self.tolerance!r}")
            _check_int(self.max_masks, "max_masks", minimum=self.n_masks)
            if self.masks is not None:
                raise ValueError("masks and tolerance cannot be combined: given masks fix the number of masks")
        if not isinstance(self.progress, (bool, np.bool_)):
            raise TypeError(f"progress must be True or False, got {self.progress!r}")

    def _channels_axis(self, image: np.ndarray) -> int | None:
        """Index (0 or 2) of the channels axis of a 3-D image; None for a 2-D image."""
        if image.ndim not in (2, 3):
            raise ValueError(f"image must be 2-D (height, width) or 3-D (with a channels axis first or last), "
                             f"got an array of shape {image.shape}")
        labels = self.axis_labels
        if labels is None or len(labels) == 0:
            if image.ndim == 2:
                return None
            from dianna.utils import locate_channels_axis

            return locate_channels_axis(image.shape) % 3
        if not isinstance(labels, (dict, list, tuple)):
            raise TypeError(f"axis_labels must be a dict {{axis index: name}} or a list of names, got {labels!r}")
        items = labels.items() if isinstance(labels, dict) else enumerate(labels)
        channel_axes = [index for index, name in items if name == "channels"]
        if len(channel_axes) != 1:
            raise ValueError(f"axis_labels must name exactly one axis 'channels', got {labels!r}")
        if image.ndim == 2:
            raise ValueError(f"axis_labels name a 'channels' axis, but the image is 2-D with shape {image.shape}")
        axis = channel_axes[0]
        if not isinstance(axis, numbers.Integral) or not -3 <= axis < 3 or axis % 3 == 1:
            raise ValueError(f"axis_labels: the 'channels' axis must be the first or last axis of the 3-D image, "
                             f"got axis {axis}")
        return axis % 3

    @staticmethod
    def _check_reference(
        embedded_reference: np.ndarray, distance: DistanceLike, embedding_length: int | None = None
    ) -> np.ndarray:
        """The reference(s) as a ``(K, D)`` array, checked."""
        references = _check_finite_array(embedded_reference, "embedded_reference")
        if references.ndim not in (1, 2) or references.shape[-1] == 0 or references.shape[0] == 0:
            raise ValueError(f"embedded_reference must have shape (D,) or (K, D), got {references.shape}")
        references = np.atleast_2d(references)
        if embedding_length is not None and references.shape[1] != embedding_length:
            raise ValueError(f"embedded_reference has length {references.shape[1]}, but the model's embeddings "
                             f"have length {embedding_length}")
        if isinstance(distance, str) and distance == "cosine" and np.any(np.linalg.norm(references, axis=1) == 0):
            raise ValueError("embedded_reference is a zero vector; cosine distance to it is undefined")
        return references


def _auto_batch_size(values_per_image: int, n_masks: int) -> int:
    return max(1, min(n_masks, _MAX_AUTO_BATCH, _BATCH_VALUES // max(values_per_image, 1)))


def _check_int(value: object, name: str, minimum: int) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")


def _check_selection_ranges(
    n_masks: int, low: float, high: float, negative_low: float, negative_high: float, stacklevel: int = 3
) -> None:
    named = {
        "mask_selection_range": (low, high),
        "mask_selection_negative_range": (negative_low, negative_high),
    }
    for name, (range_min, range_max) in named.items():
        for end, value in (("min", range_min), ("max", range_max)):
            if not isinstance(value, numbers.Real) or not 0 <= value <= 1:
                raise ValueError(f"{name}_{end} must be a number in [0, 1], got {value!r}")
        if range_min > range_max:
            raise ValueError(f"{name}_min ({range_min}) must not exceed {name}_max ({range_max})")
        ranks = selected_ranks(n_masks, range_min, range_max)
        if range_min < range_max and ranks.stop <= ranks.start:  # min == max switches a side off on purpose
            warnings.warn(f"{name} [{range_min}, {range_max}) selects no masks out of n_masks={n_masks}; it "
                          f"contributes 0 to the map", stacklevel=stacklevel + 1)


def _check_finite_array(values: object, name: str) -> np.ndarray:
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric array, got {type(values).__name__}") from error
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _check_embeddings(embeddings: object, n_rows: int, embedding_length: int) -> np.ndarray:
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2:
        raise ValueError(f"model must return a 2-D array of embeddings (N, D); got shape {embeddings.shape}")
    if embeddings.shape[0] != n_rows:
        raise ValueError(f"model returned {embeddings.shape[0]} embeddings for a batch of {n_rows} images")
    if not np.all(np.isfinite(embeddings)):
        raise ValueError("model returned NaN or infinite values in its embeddings")
    if embeddings.shape[1] != embedding_length:
        raise ValueError(f"embedded_reference has length {embedding_length}, but the model's embeddings have "
                         f"length {embeddings.shape[1]}")
    return embeddings
