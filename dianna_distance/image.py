"""The Distance Explainer (Meijer & Bos, 2025) for images: why is an image close to, or far from, a reference?

The algorithm lives in :mod:`dianna_distance.core`; this module adds what is the image's own: RISE masks over
the pixels, the channels axis, and masked images as the model's input.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dianna_distance.checks import check_callable, check_finite_array, check_int
from dianna_distance.core import MaskedDistanceExplainer
from dianna_distance.distances import DistanceLike
from dianna_distance.layers import EMBEDDING_POOLINGS
from dianna_distance.masks import GENERATORS, RiseMasks
from dianna_distance.model import ModelLike, OnnxModel, load_model
from dianna_distance.regression import grid_cells

AxisLabels = dict[int, str] | Sequence[str] | None


@dataclass
class _Image:
    """An image checked for masking: its values in the working dtype, channels axis and spatial shape."""

    pixels: np.ndarray
    channels_axis: int | None
    spatial_shape: tuple[int, int]
    buffer: np.ndarray | None = field(default=None, repr=False)


class DistanceExplainer(MaskedDistanceExplainer):
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
        weighting: ``"ranges"`` (default: the paper's selection ranges), ``"linear"`` (every mask weighted by
            its rank, closest +, farthest -: about the paper's converged map with about half the masks) or
            ``"normal"`` (normal scores of the ranks); see :func:`~dianna_distance.distances.rank_weights`.
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
            estimated per-pixel spread (:func:`dianna_distance.convergence.estimate_map_spread`) is at most
            ``tolerance``, or ``max_masks`` masks are used. None (default): use exactly ``n_masks`` masks.
        max_masks: Upper limit on the number of masks when ``tolerance`` is set (a ceiling: masks are drawn only
            as they are used).
        mask_pairs: ``"auto"`` (default: None, independent masks, the paper's), None, ``"complement"`` or
            ``"flip"``: masks in pairs, the second the first's complement or the first with one grid cell flipped;
            see the core class.
        embedding_output: For an ONNX file: the name of an inner tensor of its graph to use as the embedding
            instead of the graph's first output (see :mod:`dianna_distance.layers`;
            :func:`~dianna_distance.layers.list_embedding_outputs` lists them). None: the first output.
        embedding_pooling: How ``embedding_output`` becomes one vector per image: ``"auto"`` (default: a spatial
            ``(B, C, H, W)`` or ``(B, H, W, C)`` tensor averaged over H and W, others flattened), ``"flatten"``,
            ``"mean"`` or ``"max"``.

    Attributes:
        masks_: The masks of the last run, indexable like an array ``(n_masks, H, W)``.
        embeddings_: Float64 embeddings of the masked images, ``(n_masks, D)``.
        distances_: Distance of each masked image to the reference, ``(n_masks,)``, or ``(K, n_masks)``.
        weights_: Weight of each mask in the map, ``(n_masks,)`` or ``(K, n_masks)``. Masks whose distances are
            tied share their ranks' weights equally, so the map does not depend on the order of the masks.
        positive_indices_: Indices of the masks with positive weight (the positive selection), closest first;
            ``(K, n)`` for K references.
        negative_indices_: Indices of the masks with negative weight, closest first.
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
        weighting: str = "ranges",
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
        mask_pairs: str | None = "auto",
        embedding_output: str | None = None,
        embedding_pooling: str = "auto",
    ) -> None:
        self._store_shared_parameters(locals())
        self.feature_res = feature_res
        self.axis_labels = axis_labels
        self.preprocess_function = preprocess_function
        self.providers = providers
        self.mask_generator = mask_generator
        self.embedding_output = embedding_output
        self.embedding_pooling = embedding_pooling

    def attribute(self, model: ModelLike, image: np.ndarray, embedded_reference: np.ndarray) -> np.ndarray:
        """Explain why ``image`` is close to or far from ``embedded_reference`` in the model's embedded space.

        Args:
            model: Path to an ONNX file, or a callable that maps a batch laid out like ``image`` with a leading
                batch axis, ``(B, *image.shape)``, to embeddings ``(B, D)``.
            image: ``(H, W)``, or ``(H, W, C)`` / ``(C, H, W)`` (see ``axis_labels``).
            embedded_reference: ``(D,)``, or ``(K, D)`` for K references explained in one pass of the model.

        Returns:
            Saliency map ``(H, W)`` for a ``(D,)`` reference, ``(K, H, W)`` for ``(K, D)``.

        Raises:
            ValueError: For an ONNX model (path or :class:`~dianna_distance.model.OnnxModel`) without a
                ``preprocess_function``: when the image is not laid out as one item of the model's input (channels
                first or last, height and width where the graph fixes them), naming both shapes, before the
                model runs.
        """
        if isinstance(model, (str, Path)):
            self._validate_parameters()
            model = self.load_model(model)
        if isinstance(model, OnnxModel) and self.preprocess_function is None:
            check_image_fits_model(np.shape(image), model)
        return super().attribute(model, image, embedded_reference)

    # -- the image modality -----------------------------------------------------------------------------------

    _input_noun = "images"

    def _prepare_input(self, image: np.ndarray) -> _Image:
        image = check_finite_array(image, "image")
        channels_axis = self.channels_axis(image)
        spatial_shape = image.shape[:2] if channels_axis in (None, 2) else image.shape[1:]
        if min(spatial_shape) < 1:
            raise ValueError(f"image must have at least one pixel, got shape {image.shape}")
        work_dtype = np.result_type(image.dtype, np.float32)
        return _Image(image.astype(work_dtype, copy=False), channels_axis, tuple(spatial_shape))

    def _draw_masks(self, prepared: _Image, n_masks: int) -> RiseMasks:
        return RiseMasks(prepared.spatial_shape, n_masks, self.feature_res, self.p_keep, self.random_state,
                         generator=self.mask_generator, pairing=self._pairing())

    def _feature_shape(self, prepared: _Image) -> tuple[int, int]:
        return prepared.spatial_shape

    def _regression_cells(self, feature_shape: tuple[int, ...], n_masks: int) -> np.ndarray:
        """``weighting="regression"``: a ``feature_res`` x ``feature_res`` grid of pixel blocks (the masks' own grid).

        Every pixel of a block gets the block's coefficient. A RISE mask is a bilinear upsampling of a
        ``feature_res`` grid at a random shift: finer blocks would be nearly collinear (noisy coefficients).
        """
        height, width = int(feature_shape[0]), int(feature_shape[1])
        return grid_cells((height, width), min(self.feature_res, height), min(self.feature_res, width))

    def _input_size(self, prepared: _Image) -> int:
        return prepared.pixels.size

    def _masked_batch(self, prepared: _Image, masks: np.ndarray) -> np.ndarray:
        """The image times each mask, ``(b, *image.shape)``, in a buffer reused from batch to batch."""
        if prepared.buffer is None or len(prepared.buffer) < len(masks):
            prepared.buffer = np.empty((len(masks), *prepared.pixels.shape), dtype=prepared.pixels.dtype)
        # Where the mask's channel axis goes when it multiplies the image: (B, H, W) -> (B, 1, H, W) etc.
        mask_view = {None: (...,), 0: (slice(None), None), 2: (..., None)}[prepared.channels_axis]
        masked = np.multiply(prepared.pixels, masks.astype(prepared.pixels.dtype, copy=False)[mask_view],
                             out=prepared.buffer[: len(masks)])
        return masked if self.preprocess_function is None else self.preprocess_function(masked)

    def load_model(self, model: ModelLike) -> Callable:
        """The model as a callable: an ONNX file in one ONNX Runtime session (with ``providers``), or the callable."""
        return load_model(model, providers=self.providers, embedding_output=self.embedding_output,
                          embedding_pooling=self.embedding_pooling)

    def _validate_modality(self) -> None:
        check_int(self.feature_res, "feature_res", minimum=1)
        check_callable(self.preprocess_function, "preprocess_function", "(batch) -> batch")
        if not isinstance(self.mask_generator, str) or self.mask_generator not in GENERATORS:
            raise ValueError(f"mask_generator must be one of {GENERATORS}, got {self.mask_generator!r}")
        if self.embedding_output is not None and (not isinstance(self.embedding_output, str)
                                                  or not self.embedding_output):
            raise TypeError(f"embedding_output must be None or a tensor name (str), got {self.embedding_output!r}")
        if not isinstance(self.embedding_pooling, str) or self.embedding_pooling not in EMBEDDING_POOLINGS:
            raise ValueError(f"embedding_pooling must be one of {EMBEDDING_POOLINGS}, got {self.embedding_pooling!r}")

    def channels_axis(self, image: np.ndarray) -> int | None:
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


def check_image_fits_model(image_shape: tuple[int, ...], model: OnnxModel) -> None:
    """Check that an image is laid out as one item of an ONNX model's input ``(N, ...)``.

    Args:
        image_shape: Shape of the image to mask.
        model: The model; its declared input shape fixes the rank, and every axis with a fixed length.

    Raises:
        ValueError: Naming both shapes, whether the channels axis sits at the other end, and how to lay the image
            out (:func:`dianna_distance.models.load_image_for_model`, or
            :meth:`dianna_distance.models.ImageEncoder.prepare` with a preset).
    """
    expected = tuple(model.input_shape[1:])
    fits = len(expected) == len(image_shape) and all(
        not isinstance(n, int) or n <= 0 or n == size for n, size in zip(expected, image_shape))
    if fits:
        return
    shown = tuple(n if isinstance(n, int) and n > 0 else "?" for n in expected)
    hint = ""
    if len(expected) == len(image_shape) == 3 and tuple(image_shape[::-1][:1]) == shown[:1]:
        hint = " (the image has its channels last, the model takes them first)"
    elif len(expected) == len(image_shape) == 3 and tuple(image_shape[:1]) == shown[-1:]:
        hint = " (the image has its channels first, the model takes them last)"
    raise ValueError(f"image has shape {tuple(image_shape)}, but model {str(model.path)!r} takes input of shape "
                     f"{list(model.input_shape)}, one item of which is {shown}{hint}; lay the image out as the model "
                     "takes it: read it with dianna_distance.models.load_image_for_model(path, model), or with "
                     "ImageEncoder.prepare for a model preset")
