"""Evaluating distance explanations: faithfulness, robustness, randomisation and convergence.

Four metrics, as used to judge the Distance Explainer in Meijer & Bos (2025), written for the distance task
(an embedding model and a reference embedding rather than a classifier and a label). Each metric is a class
whose parameters are given up front and whose ``__call__`` returns a small dataclass of arrays, in the style of
Quantus; a function of the same name in lower case runs it in one line:

* :class:`IncrementalDeletion` / :func:`incremental_deletion` (faithfulness): delete pixels or superpixels in
  order of attribution (most positive first, "LoDF"; most negative first, "HiDF") and at random, and follow
  the distance to the reference.
* :class:`AverageSensitivity` / :func:`average_sensitivity` (robustness): how much the map changes when the input
  gets a little Gaussian noise, with the masks held fixed.
* :class:`ModelParameterRandomisation` / :func:`model_parameter_randomisation` (randomisation, MPRT): shuffle the
  weights of an ONNX model layer by layer and compare the maps with the original (Spearman rank correlation).
* :class:`SeedSpread` / :func:`seed_spread` (convergence): the mean per-pixel standard deviation of maps across
  random seeds, for several numbers of masks.

For choosing the number of masks automatically, :func:`estimate_pixel_spread` estimates from a single run how
much a map would vary between seeds, and :func:`embed_until_converged` adds batches of masks until that estimate
falls below a tolerance.

Plots of the results are drawn by :func:`dianna_distance.visualization.plot_incremental_deletion`,
:func:`~dianna_distance.visualization.plot_randomisation` and :func:`~dianna_distance.visualization.plot_seed_spread`;
:func:`randomisation_table` formats the MPRT correlations as text.
"""

from __future__ import annotations

import inspect
import numbers
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from dianna_distance.distances import DistanceLike, compute_distances, get_distance, select_masks
from dianna_distance.explainer import DistanceExplainer, _auto_batch_size, _check_finite_array, _check_int
from dianna_distance.model import ModelLike, load_model

RandomState = int | np.random.Generator | None
ExplainFunction = Callable[[Any, np.ndarray, np.ndarray], np.ndarray]

BASELINES = ("black", "mean", "blur")
MPRT_MODES = ("top_down", "bottom_up", "independent")
SENSITIVITY_DENOMINATORS = ("explanation", "input", None)


# -- shared helpers -----------------------------------------------------------------------------------------------


def _check_random_state(random_state: object) -> None:
    if not (random_state is None or isinstance(random_state, np.random.Generator)
            or (isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool))):
        raise TypeError(f"random_state must be None, an int or a numpy.random.Generator, got {random_state!r}")


def _check_bool(value: object, name: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def _check_positive(value: object, name: str) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _check_value_range(value_range: object) -> None:
    if (not isinstance(value_range, (tuple, list)) or len(value_range) != 2
            or not all(isinstance(v, numbers.Real) and np.isfinite(v) for v in value_range)
            or not value_range[0] < value_range[1]):
        raise ValueError(f"value_range must be a pair (low, high) of finite numbers with low < high, "
                         f"got {value_range!r}")


def _check_explainer(explainer: object, explain_func: object) -> None:
    if explainer is not None and not isinstance(explainer, DistanceExplainer):
        raise TypeError(f"explainer must be a DistanceExplainer or None, got {type(explainer).__name__}")
    if explain_func is not None and not callable(explain_func):
        raise TypeError(f"explain_func must be a callable (model, image, reference) -> map, got {explain_func!r}")
    if explainer is not None and explain_func is not None:
        raise ValueError("give either explainer or explain_func, not both")


def _explainer_params(explainer: DistanceExplainer | None) -> dict[str, Any]:
    """The constructor parameters of an explainer (stored verbatim by its ``__init__``), or the defaults."""
    template = DistanceExplainer() if explainer is None else explainer
    names = [name for name in inspect.signature(DistanceExplainer.__init__).parameters if name != "self"]
    return {name: getattr(template, name) for name in names}


def _fixed_mask_explainer(params: dict[str, Any], masks: np.ndarray) -> DistanceExplainer:
    """An explainer configured like ``params`` that always uses ``masks`` (n_masks, H, W), without progress bar."""
    return DistanceExplainer(**{**params, "masks": masks, "n_masks": len(masks), "progress": False})


def _explain_with_fixed_masks(
    params: dict[str, Any], model: Any, image: np.ndarray, reference: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, DistanceExplainer]:
    """Explain once and return the map and an explainer that reuses that run's masks.

    The masks are the explainer's own (its ``masks``, or drawn with its ``random_state``); when both are None
    they are drawn from ``rng``.
    """
    first = DistanceExplainer(**{**params, "progress": False,
                                 "random_state": rng if params["random_state"] is None else params["random_state"]})
    attribution = first.attribute(model, image, reference)
    return attribution, _fixed_mask_explainer(params, np.asarray(first.masks_, dtype=np.float32))


def _spatial_view(channels_axis: int | None) -> tuple:
    """Index that turns an ``(H, W)`` array into one broadcasting against the image."""
    return {None: (...,), 0: (None,), 2: (..., None)}[channels_axis]


def _channels_axis(image: np.ndarray, axis_labels: Any) -> int | None:
    """The channels axis of the image (0, 2, or None for 2-D), found as the explainer finds it."""
    return DistanceExplainer(axis_labels=axis_labels)._channels_axis(image)


def _trapezoid(values: np.ndarray, positions: np.ndarray) -> float:
    return float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(positions)))


# -- incremental deletion -----------------------------------------------------------------------------------------


@dataclass
class DeletionResult:
    """Distances to the reference while pixels or superpixels are deleted, as returned by IncrementalDeletion.

    With ``S = n_steps`` and ``U`` pixels or superpixels, step ``k`` has the first ``boundaries[k]`` units of an
    order deleted (``boundaries[0] == 0``: the original image; ``boundaries[S] == U``: all deleted).

    Attributes:
        fractions: ``(S + 1,)`` fraction of the units deleted at each step, from 0 to 1.
        lodf: ``(S + 1,)`` distance after each step, deleting the most positive attribution first ("LoDF": the
            units that keep the image low-distance). For a faithful map this rises fastest.
        hidf: ``(S + 1,)`` distance after each step, deleting the most negative attribution first ("HiDF").
            For a faithful map this falls, or rises slowest.
        random: ``(n_random, S + 1)`` distances for random deletion orders.
        random_mean: ``(S + 1,)`` mean of ``random`` over the orders.
        random_std: ``(S + 1,)`` standard deviation of ``random`` over the orders.
        area_lodf: Signed area between the LoDF curve and the mean random curve (trapezoid rule over
            ``fractions``); positive when LoDF lies above random, as expected.
        area_hidf: Signed area between the HiDF curve and the mean random curve; negative when expected.
        order_lodf: ``(U,)`` unit labels in LoDF deletion order.
        order_hidf: ``(U,)`` unit labels in HiDF deletion order.
        boundaries: ``(S + 1,)`` number of units deleted at each step.
        segments: ``(H, W)`` integer unit label (0 to U - 1) of every pixel.
        image: The original image.
        baseline_image: The values that replace deleted pixels, shaped like ``image``.
        channels_axis: The image's channels axis (0 or 2), or None for a 2-D image.
    """

    fractions: np.ndarray
    lodf: np.ndarray
    hidf: np.ndarray
    random: np.ndarray
    random_mean: np.ndarray
    random_std: np.ndarray
    area_lodf: float
    area_hidf: float
    order_lodf: np.ndarray
    order_hidf: np.ndarray
    boundaries: np.ndarray
    segments: np.ndarray
    image: np.ndarray
    baseline_image: np.ndarray
    channels_axis: int | None

    def deleted_image(self, order: str, step: int) -> np.ndarray:
        """The image after ``step`` deletion steps in the ``"lodf"`` or ``"hidf"`` order.

        Args:
            order: ``"lodf"`` or ``"hidf"``.
            step: Step number, 0 to ``n_steps``.

        Returns:
            Array shaped like ``image``.
        """
        orders = {"lodf": self.order_lodf, "hidf": self.order_hidf}
        if order not in orders:
            raise ValueError(f"order must be 'lodf' or 'hidf', got {order!r}")
        if not 0 <= step < len(self.boundaries):
            raise ValueError(f"step must be in [0, {len(self.boundaries) - 1}], got {step}")
        return _delete_units(self.image, self.baseline_image, self.segments, orders[order][: self.boundaries[step]],
                             self.channels_axis)


def _delete_units(
    image: np.ndarray, baseline: np.ndarray, segments: np.ndarray, units: np.ndarray, channels_axis: int | None
) -> np.ndarray:
    deleted = np.zeros(segments.max() + 1, dtype=bool)
    deleted[units] = True
    return np.where(deleted[segments][_spatial_view(channels_axis)], baseline, image)


class IncrementalDeletion:
    """Incremental deletion (faithfulness): does deleting what the map marks move the distance as it predicts?

    The pixels, or square superpixels, or the segments of a given segmentation, are ranked by their mean
    attribution. They are deleted (replaced by a baseline) cumulatively in ``n_steps`` steps in three orders:
    most positive attribution first ("LoDF", the units that keep the image close to the reference: the distance
    should rise fast), most negative first ("HiDF": the distance should fall, or rise slowly), and ``n_random``
    random orders. After each step the distance of the image's embedding to the reference is measured.

    Args:
        n_steps: Number of deletion steps; each deletes about ``1 / n_steps`` of the units.
        superpixels: Side length in pixels of square superpixels (1: single pixels), or an ``(H, W)`` integer
            array of segment labels (for example from :func:`skimage.segmentation.slic`).
        baseline: What deleted pixels become: ``"black"`` (``value_range[0]``), ``"mean"`` (the image's mean
            per channel), ``"blur"`` (the image blurred with a Gaussian of ``blur_sigma`` pixels), a number, or an
            array shaped like the image.
        n_random: Number of random deletion orders (at least 1).
        value_range: ``(low, high)`` valid pixel values; ``"black"`` is ``low``.
        blur_sigma: Standard deviation in pixels of the blur baseline.
        distance: ``"cosine"``, ``"euclidean"``, or a callable ``(embeddings (N, D), reference (D,)) -> (N,)``.
        axis_labels: Names of the image axes with one ``"channels"`` axis, as for
            :class:`~dianna_distance.DistanceExplainer`; default: found from the image shape.
        preprocess_function: Applied to each batch of images ``(B, *image.shape)`` before the model.
        batch_size: Images per model call; default: about 4 million input values per batch, at most 256.
        random_state: Seed or generator for the random orders.
        progress: Show a progress bar.
        providers: ONNX Runtime execution providers when the model is an ONNX file.
    """

    def __init__(
        self,
        n_steps: int = 20,
        superpixels: int | np.ndarray = 1,
        baseline: str | float | np.ndarray = "black",
        n_random: int = 5,
        value_range: tuple[float, float] = (0.0, 1.0),
        blur_sigma: float = 2.0,
        distance: DistanceLike = "cosine",
        axis_labels: Any = None,
        preprocess_function: Callable[[np.ndarray], np.ndarray] | None = None,
        batch_size: int | None = None,
        random_state: RandomState = None,
        progress: bool = True,
        providers: Sequence[str] | None = None,
    ) -> None:
        self.n_steps = n_steps
        self.superpixels = superpixels
        self.baseline = baseline
        self.n_random = n_random
        self.value_range = value_range
        self.blur_sigma = blur_sigma
        self.distance = distance
        self.axis_labels = axis_labels
        self.preprocess_function = preprocess_function
        self.batch_size = batch_size
        self.random_state = random_state
        self.progress = progress
        self.providers = providers

    def __call__(
        self, model: ModelLike, image: np.ndarray, reference: np.ndarray, attribution: np.ndarray
    ) -> DeletionResult:
        """Delete units in the LoDF, HiDF and random orders and measure the distance after each step.

        Args:
            model: Path to an ONNX file, or a callable ``(B, *image.shape) -> (B, D)``.
            image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
            reference: Reference embedding ``(D,)``.
            attribution: The map to evaluate, ``(H, W)``.

        Returns:
            A :class:`DeletionResult`.
        """
        self._validate_parameters()
        image = _check_finite_array(image, "image")
        attribution = _check_finite_array(attribution, "attribution").astype(np.float64)
        reference = _check_finite_array(reference, "reference")
        if reference.ndim != 1:
            raise ValueError(f"reference must have shape (D,); explain one reference at a time, got shape "
                             f"{reference.shape}")
        channels_axis = _channels_axis(image, self.axis_labels)
        spatial_shape = image.shape[:2] if channels_axis in (None, 2) else image.shape[1:]
        if attribution.shape != spatial_shape:
            raise ValueError(f"attribution must have the image's spatial shape {spatial_shape}, got "
                             f"{attribution.shape}")
        segments = self._segments(spatial_shape)
        n_units = int(segments.max()) + 1
        if self.n_steps > n_units:
            raise ValueError(f"n_steps must be at most the number of pixels or superpixels ({n_units}), "
                             f"got {self.n_steps}")
        baseline = self._baseline_image(image.astype(np.result_type(image.dtype, np.float32)), channels_axis)

        unit_scores = np.bincount(segments.ravel(), weights=attribution.ravel(), minlength=n_units)
        unit_scores /= np.bincount(segments.ravel(), minlength=n_units)
        rng = np.random.default_rng(self.random_state)
        orders = [np.argsort(-unit_scores, kind="stable"), np.argsort(unit_scores, kind="stable")]
        orders += [rng.permutation(n_units) for _ in range(self.n_random)]
        boundaries = np.round(np.linspace(0, n_units, self.n_steps + 1)).astype(int)

        curves = self._distance_curves(load_model(model, providers=self.providers), image, baseline, segments,
                                       orders, boundaries, reference, channels_axis)
        fractions = boundaries / n_units
        random_mean = curves[2:].mean(axis=0)
        return DeletionResult(
            fractions=fractions,
            lodf=curves[0],
            hidf=curves[1],
            random=curves[2:],
            random_mean=random_mean,
            random_std=curves[2:].std(axis=0),
            area_lodf=_trapezoid(curves[0] - random_mean, fractions),
            area_hidf=_trapezoid(curves[1] - random_mean, fractions),
            order_lodf=orders[0],
            order_hidf=orders[1],
            boundaries=boundaries,
            segments=segments,
            image=image,
            baseline_image=baseline,
            channels_axis=channels_axis,
        )

    def _distance_curves(
        self, run_model: Callable, image: np.ndarray, baseline: np.ndarray, segments: np.ndarray,
        orders: list[np.ndarray], boundaries: np.ndarray, reference: np.ndarray, channels_axis: int | None,
    ) -> np.ndarray:
        """Distances ``(len(orders), n_steps + 1)``; images are built and embedded one batch at a time."""
        jobs = [(o, s) for o in range(len(orders)) for s in range(len(boundaries))]
        batch_size = self.batch_size or _auto_batch_size(image.size, len(jobs))
        curves = np.empty((len(orders), len(boundaries)))
        with tqdm(total=len(jobs), desc="Deleting", unit="image", disable=not self.progress) as bar:
            for start in range(0, len(jobs), batch_size):
                chunk = jobs[start : start + batch_size]
                batch = np.stack([_delete_units(image, baseline, segments, orders[o][: boundaries[s]], channels_axis)
                                  for o, s in chunk])
                if self.preprocess_function is not None:
                    batch = self.preprocess_function(batch)
                embeddings = np.asarray(run_model(batch))
                if embeddings.ndim != 2 or len(embeddings) != len(chunk):
                    raise ValueError(f"model must return embeddings (N, D) for a batch of N={len(chunk)} images, "
                                     f"got shape {embeddings.shape}")
                distances = compute_distances(embeddings, reference[None], self.distance)[0]
                for (o, s), value in zip(chunk, distances):
                    curves[o, s] = value
                bar.update(len(chunk))
        return curves

    def _segments(self, spatial_shape: tuple[int, int]) -> np.ndarray:
        if isinstance(self.superpixels, numbers.Integral):
            rows = np.arange(spatial_shape[0]) // self.superpixels
            cols = np.arange(spatial_shape[1]) // self.superpixels
            return rows[:, None] * (cols[-1] + 1) + cols[None, :]
        labels = np.asarray(self.superpixels)
        if labels.shape != spatial_shape:
            raise ValueError(f"superpixels: a segmentation must have the image's spatial shape {spatial_shape}, "
                             f"got {labels.shape}")
        return np.unique(labels, return_inverse=True)[1].reshape(spatial_shape)

    def _baseline_image(self, image: np.ndarray, channels_axis: int | None) -> np.ndarray:
        spatial_axes = (0, 1) if channels_axis in (None, 2) else (1, 2)
        if isinstance(self.baseline, str):
            if self.baseline == "black":
                return np.full_like(image, self.value_range[0])
            if self.baseline == "mean":
                return np.broadcast_to(image.mean(axis=spatial_axes, keepdims=True), image.shape).copy()
            from scipy.ndimage import gaussian_filter

            sigma = [self.blur_sigma if axis in spatial_axes else 0 for axis in range(image.ndim)]
            return gaussian_filter(image, sigma=sigma)
        if isinstance(self.baseline, numbers.Real):
            return np.full_like(image, self.baseline)
        baseline = np.asarray(self.baseline, dtype=image.dtype)
        if baseline.shape != image.shape:
            raise ValueError(f"baseline: an array baseline must have the image's shape {image.shape}, "
                             f"got {baseline.shape}")
        return baseline

    def _validate_parameters(self) -> None:
        _check_int(self.n_steps, "n_steps", minimum=1)
        if isinstance(self.superpixels, numbers.Integral) and not isinstance(self.superpixels, bool):
            _check_int(self.superpixels, "superpixels", minimum=1)
        elif not (isinstance(self.superpixels, np.ndarray) and self.superpixels.ndim == 2
                  and np.issubdtype(self.superpixels.dtype, np.integer)):
            raise TypeError(f"superpixels must be an int (superpixel side in pixels) or an (H, W) integer array "
                            f"of segment labels, got {self.superpixels!r}")
        if isinstance(self.baseline, str):
            if self.baseline not in BASELINES:
                raise ValueError(f"baseline must be one of {BASELINES}, a number or an array, got {self.baseline!r}")
        elif not (isinstance(self.baseline, (numbers.Real, np.ndarray)) and not isinstance(self.baseline, bool)):
            raise TypeError(f"baseline must be one of {BASELINES}, a number or an array, got {self.baseline!r}")
        _check_int(self.n_random, "n_random", minimum=1)
        _check_value_range(self.value_range)
        _check_positive(self.blur_sigma, "blur_sigma")
        get_distance(self.distance)
        if self.preprocess_function is not None and not callable(self.preprocess_function):
            raise TypeError(f"preprocess_function must be callable or None, got {self.preprocess_function!r}")
        if self.batch_size is not None:
            _check_int(self.batch_size, "batch_size", minimum=1)
        _check_random_state(self.random_state)
        _check_bool(self.progress, "progress")


def incremental_deletion(
    model: ModelLike, image: np.ndarray, reference: np.ndarray, attribution: np.ndarray, **parameters: Any
) -> DeletionResult:
    """Run :class:`IncrementalDeletion` once.

    Args:
        model: Path to an ONNX file, or a callable ``(B, *image.shape) -> (B, D)``.
        image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
        reference: Reference embedding ``(D,)``.
        attribution: The map to evaluate, ``(H, W)``.
        **parameters: Parameters of :class:`IncrementalDeletion` (``n_steps``, ``superpixels``, ``baseline``, ...).

    Returns:
        A :class:`DeletionResult`.
    """
    return IncrementalDeletion(**parameters)(model, image, reference, attribution)


# -- average sensitivity ------------------------------------------------------------------------------------------


@dataclass
class SensitivityResult:
    """Average sensitivity of an explanation, as returned by :class:`AverageSensitivity`.

    Attributes:
        score: Mean of ``values``; 0 when the map does not change under the noise.
        values: ``(nr_samples,)`` sensitivity of each noisy sample.
        attribution: The map of the unperturbed image, ``(H, W)`` (or ``(K, H, W)``).
        perturbed_attributions: ``(nr_samples, *attribution.shape)`` maps of the noisy images.
        perturbed_images: ``(nr_samples, *image.shape)`` the noisy images (clipped when ``clip``).
    """

    score: float
    values: np.ndarray
    attribution: np.ndarray
    perturbed_attributions: np.ndarray
    perturbed_images: np.ndarray


class AverageSensitivity:
    """Average sensitivity (Yeh et al. 2019; Bhatt et al. 2020): how much the map changes under input noise.

    The image is perturbed ``nr_samples`` times with Gaussian noise of standard deviation
    ``perturb_std × (high - low)`` (``value_range = (low, high)``), clipped to the valid range when ``clip``, and
    explained again with the masks of the unperturbed run, so only the input varies. With ``a`` the map of the
    image and ``a_s`` that of noisy sample ``s`` (both divided by their maximum absolute value when
    ``normalise``), each sample scores ``||a - a_s||_F / ||a||_F`` (``denominator="explanation"``, as Quantus's
    ``AvgSensitivity``), ``||a - a_s||_F / ||x||_F`` (``"input"``) or ``||a - a_s||_F`` (``None``); the score is
    the mean. Lower is more robust.

    Args:
        nr_samples: Number of noisy samples.
        perturb_std: Noise standard deviation as a fraction of the value range.
        value_range: ``(low, high)`` valid pixel values.
        clip: Clip noisy images to ``value_range``.
        normalise: Divide every map by its maximum absolute value before comparing.
        denominator: ``"explanation"``, ``"input"`` or None (see above).
        explainer: A :class:`~dianna_distance.DistanceExplainer` whose parameters are used (its ``progress`` is
            ignored). Default: ``DistanceExplainer()``. Its masks are its own (``masks``, or drawn with its
            ``random_state``), or drawn from this metric's ``random_state`` when both are None.
        explain_func: Instead of an explainer, any callable ``(model, image, reference) -> map``.
        random_state: Seed or generator for the noise (and masks, see ``explainer``).
        progress: Show a progress bar.
    """

    def __init__(
        self,
        nr_samples: int = 20,
        perturb_std: float = 0.1,
        value_range: tuple[float, float] = (0.0, 1.0),
        clip: bool = True,
        normalise: bool = False,
        denominator: str | None = "explanation",
        explainer: DistanceExplainer | None = None,
        explain_func: ExplainFunction | None = None,
        random_state: RandomState = None,
        progress: bool = True,
    ) -> None:
        self.nr_samples = nr_samples
        self.perturb_std = perturb_std
        self.value_range = value_range
        self.clip = clip
        self.normalise = normalise
        self.denominator = denominator
        self.explainer = explainer
        self.explain_func = explain_func
        self.random_state = random_state
        self.progress = progress

    def __call__(self, model: ModelLike, image: np.ndarray, reference: np.ndarray) -> SensitivityResult:
        """Explain the image and ``nr_samples`` noisy copies of it, and compare the maps.

        Args:
            model: Path to an ONNX file, or a callable ``(B, *image.shape) -> (B, D)``.
            image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
            reference: Reference embedding ``(D,)`` (or ``(K, D)``), held fixed.

        Returns:
            A :class:`SensitivityResult`.
        """
        self._validate_parameters()
        image = _check_finite_array(image, "image")
        mask_rng, noise_rng = np.random.default_rng(self.random_state).spawn(2)
        if self.explain_func is not None:
            explain = self.explain_func
            attribution = np.asarray(explain(model, image, reference), dtype=np.float64)
        else:
            params = _explainer_params(self.explainer)
            model = load_model(model, providers=params["providers"])
            attribution, fixed = _explain_with_fixed_masks(params, model, image, reference, mask_rng)
            explain = fixed.attribute
        low, high = self.value_range
        perturbed_images = np.empty((self.nr_samples, *image.shape), dtype=np.result_type(image.dtype, np.float32))
        perturbed_attributions = np.empty((self.nr_samples, *attribution.shape))
        for sample in tqdm(range(self.nr_samples), desc="Sensitivity", unit="sample", disable=not self.progress):
            noisy = image + noise_rng.normal(0.0, self.perturb_std * (high - low), size=image.shape)
            perturbed_images[sample] = np.clip(noisy, low, high) if self.clip else noisy
            perturbed_attributions[sample] = explain(model, perturbed_images[sample], reference)
        values = sensitivity_values(attribution, perturbed_attributions, image, self.normalise, self.denominator)
        return SensitivityResult(score=float(values.mean()), values=values, attribution=attribution,
                                 perturbed_attributions=perturbed_attributions, perturbed_images=perturbed_images)

    def _validate_parameters(self) -> None:
        _check_int(self.nr_samples, "nr_samples", minimum=1)
        _check_positive(self.perturb_std, "perturb_std")
        _check_value_range(self.value_range)
        _check_bool(self.clip, "clip")
        _check_bool(self.normalise, "normalise")
        if self.denominator not in SENSITIVITY_DENOMINATORS:
            raise ValueError(f"denominator must be one of {SENSITIVITY_DENOMINATORS}, got {self.denominator!r}")
        _check_explainer(self.explainer, self.explain_func)
        _check_random_state(self.random_state)
        _check_bool(self.progress, "progress")


def sensitivity_values(
    attribution: np.ndarray, perturbed_attributions: np.ndarray, image: np.ndarray, normalise: bool = False,
    denominator: str | None = "explanation",
) -> np.ndarray:
    """Per-sample sensitivity of maps of noisy images relative to the map of the image.

    Args:
        attribution: Map of the image, any shape ``A``.
        perturbed_attributions: ``(S, *A)`` maps of ``S`` noisy images.
        image: The unperturbed image (used when ``denominator="input"``).
        normalise: Divide every map by its maximum absolute value first.
        denominator: ``"explanation"`` (``||a||_F``), ``"input"`` (``||image||_F``) or None (1).

    Returns:
        ``(S,)`` values ``||a - a_s||_F / denominator``.
    """
    def scaled(maps: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        peak = np.max(np.abs(maps), axis=axes, keepdims=True)
        return maps / np.where(peak == 0, 1.0, peak) if normalise else maps

    reference_map = scaled(np.asarray(attribution, dtype=np.float64), tuple(range(np.ndim(attribution))))
    perturbed = np.asarray(perturbed_attributions, dtype=np.float64)
    perturbed = scaled(perturbed, tuple(range(1, perturbed.ndim)))
    numerators = np.linalg.norm((perturbed - reference_map).reshape(len(perturbed), -1), axis=1)
    if denominator is None:
        return numerators
    norm = np.linalg.norm(reference_map if denominator == "explanation" else np.asarray(image, dtype=np.float64))
    if norm == 0:
        raise ValueError(f"sensitivity relative to the {denominator} is undefined: its norm is 0 "
                         f"(use denominator=None)")
    return numerators / norm


def average_sensitivity(model: ModelLike, image: np.ndarray, reference: np.ndarray, **parameters: Any
                        ) -> SensitivityResult:
    """Run :class:`AverageSensitivity` once.

    Args:
        model: Path to an ONNX file, or a callable ``(B, *image.shape) -> (B, D)``.
        image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
        reference: Reference embedding ``(D,)`` (or ``(K, D)``).
        **parameters: Parameters of :class:`AverageSensitivity` (``nr_samples``, ``perturb_std``, ``explainer``, ...).

    Returns:
        A :class:`SensitivityResult`.
    """
    return AverageSensitivity(**parameters)(model, image, reference)


# -- model parameter randomisation ---------------------------------------------------------------------------------


def _save_onnx(model: Any, path: str) -> None:
    with open(path, "wb") as file:
        file.write(model.SerializeToString())


def _load_onnx(onnx_model: object):
    import onnx

    if isinstance(onnx_model, onnx.ModelProto):
        copy = onnx.ModelProto()
        copy.CopyFrom(onnx_model)
        return copy
    if isinstance(onnx_model, (str, Path)):
        if not Path(onnx_model).is_file():
            raise FileNotFoundError(f"onnx_model: ONNX file {str(onnx_model)!r} does not exist")
        return onnx.load(str(onnx_model))
    raise TypeError(f"onnx_model must be a path to an ONNX file or an onnx.ModelProto, got "
                    f"{type(onnx_model).__name__}")


def randomisable_layers(onnx_model: str | Path | Any) -> dict[str, tuple[str, ...]]:
    """The layers of an ONNX graph whose weights the MPRT shuffles, from input to output.

    A layer is a node (in the graph's topological order) that takes floating-point initializers with more than
    one value; an initializer used by several nodes belongs to the first. Integer initializers (shapes, indices)
    and scalars are left alone.

    Args:
        onnx_model: Path to an ONNX file, or an :class:`onnx.ModelProto`.

    Returns:
        Dict ``{layer name: names of its initializers}`` in graph order; a node without a name is called
        ``"<op_type>_<node index>"``.
    """
    from onnx import TensorProto

    graph = _load_onnx(onnx_model).graph
    floating = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16}
    candidates = {init.name for init in graph.initializer
                  if init.data_type in floating and int(np.prod(init.dims, dtype=np.int64)) > 1}
    layers, claimed = {}, set()
    for index, node in enumerate(graph.node):
        weights = tuple(name for name in dict.fromkeys(node.input) if name in candidates and name not in claimed)
        if weights:
            claimed.update(weights)
            layers[node.name or f"{node.op_type}_{index}"] = weights
    return layers


@dataclass
class RandomisationResult:
    """Maps of a model whose weights are shuffled layer by layer, as returned by ModelParameterRandomisation.

    Attributes:
        layer_names: Names of the shuffled layers, from input to output (see :func:`randomisable_layers`).
        original: The map of the unmodified model.
        steps: ``{mode: layer names in the order of the steps}``; ``"top_down"`` runs from output to input.
        correlations: ``{mode: (n_layers,)}`` Spearman rank correlation of each step's map with ``original``
            (NaN where a map is constant).
        maps: ``{mode: (n_layers, *original.shape)}`` the map after each step.
    """

    layer_names: tuple[str, ...]
    original: np.ndarray
    steps: dict[str, tuple[str, ...]]
    correlations: dict[str, np.ndarray]
    maps: dict[str, np.ndarray]


def spearman_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman rank correlation of two maps of the same shape, over all their values; NaN if one is constant."""
    from scipy.stats import spearmanr

    first, second = np.ravel(first), np.ravel(second)
    if np.all(first == first[0]) or np.all(second == second[0]):
        return float("nan")
    return float(spearmanr(first, second)[0])


class ModelParameterRandomisation:
    """Model parameter randomisation test (MPRT, Adebayo et al. 2018) for ONNX models.

    Every layer's weights are shuffled (the values of each of its floating-point initializers are permuted at
    random, so their distribution is kept), layer by layer, and the image is explained again with the same masks
    after every step. Modes: ``"top_down"`` cascading (from the output layer towards the input, cumulatively),
    ``"bottom_up"`` cascading (from the input towards the output, cumulatively) and ``"independent"`` (one layer
    at a time, the others original). A layer gets the same permutation in every mode. A map that depends on the
    model's weights should decorrelate from the original as layers are shuffled.

    Args:
        modes: Any of ``"top_down"``, ``"bottom_up"``, ``"independent"``.
        layers: Names of the layers to shuffle (default: all of :func:`randomisable_layers`), kept in graph order.
        explainer: A :class:`~dianna_distance.DistanceExplainer` whose parameters are used (its ``progress`` is
            ignored). Default: ``DistanceExplainer()``. Its masks are its own (``masks``, or drawn with its
            ``random_state``), or drawn from this metric's ``random_state`` when both are None.
        explain_func: Instead of an explainer, any callable ``(model path, image, reference) -> map``.
        random_state: Seed or generator for the permutations (and masks, see ``explainer``).
        progress: Show a progress bar.
    """

    def __init__(
        self,
        modes: Sequence[str] = MPRT_MODES,
        layers: Sequence[str] | None = None,
        explainer: DistanceExplainer | None = None,
        explain_func: ExplainFunction | None = None,
        random_state: RandomState = None,
        progress: bool = True,
    ) -> None:
        self.modes = modes
        self.layers = layers
        self.explainer = explainer
        self.explain_func = explain_func
        self.random_state = random_state
        self.progress = progress

    def __call__(self, onnx_model: str | Path | Any, image: np.ndarray, reference: np.ndarray) -> RandomisationResult:
        """Explain with the original model and after every shuffling step of every mode.

        Args:
            onnx_model: Path to an ONNX file, or an :class:`onnx.ModelProto`.
            image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
            reference: Reference embedding ``(D,)`` (or ``(K, D)``).

        Returns:
            A :class:`RandomisationResult`.
        """
        from onnx import numpy_helper

        self._validate_parameters()
        model = _load_onnx(onnx_model)
        all_layers = randomisable_layers(model)
        if self.layers is not None:
            unknown = [name for name in self.layers if name not in all_layers]
            if unknown:
                raise ValueError(f"layers: {unknown} are not randomisable layers of the model; choose from "
                                 f"{list(all_layers)}")
        names = tuple(name for name in all_layers if self.layers is None or name in self.layers)
        if not names:
            raise ValueError("the model has no layers with floating-point weights to randomise")
        mask_rng, shuffle_rng = np.random.default_rng(self.random_state).spawn(2)
        initializers = {init.name: init for init in model.graph.initializer}
        originals = {name: numpy_helper.to_array(initializers[name]) for layer in names for name in all_layers[layer]}
        shuffled = {name: shuffle_rng.permutation(values.ravel()).reshape(values.shape)
                    for name, values in originals.items()}

        def set_layer(layer: str, source: dict[str, np.ndarray]) -> None:
            for name in all_layers[layer]:
                initializers[name].CopyFrom(numpy_helper.from_array(source[name], name))

        steps = {"top_down": names[::-1], "bottom_up": names, "independent": names}
        maps: dict[str, np.ndarray] = {}
        with tempfile.TemporaryDirectory(prefix="mprt-") as folder:
            path = str(Path(folder) / "model.onnx")
            _save_onnx(model, path)
            if self.explain_func is not None:
                explain = self.explain_func
                original = np.asarray(explain(path, image, reference), dtype=np.float64)
            else:
                original, fixed = _explain_with_fixed_masks(_explainer_params(self.explainer), path, image,
                                                            reference, mask_rng)
                explain = fixed.attribute
            with tqdm(total=len(self.modes) * len(names), desc="Randomising", unit="map",
                      disable=not self.progress) as bar:
                for mode in self.modes:
                    mode_maps = []
                    for layer in steps[mode]:
                        set_layer(layer, shuffled)
                        _save_onnx(model, path)
                        mode_maps.append(np.asarray(explain(path, image, reference), dtype=np.float64))
                        if mode == "independent":
                            set_layer(layer, originals)
                        bar.update()
                    for layer in names:
                        set_layer(layer, originals)
                    maps[mode] = np.stack(mode_maps)
        correlations = {mode: np.array([spearman_correlation(original, m) for m in maps[mode]]) for mode in maps}
        return RandomisationResult(layer_names=names, original=original,
                                   steps={mode: steps[mode] for mode in self.modes},
                                   correlations=correlations, maps=maps)

    def _validate_parameters(self) -> None:
        if isinstance(self.modes, str) or not isinstance(self.modes, Sequence) or not self.modes:
            raise TypeError(f"modes must be a non-empty sequence of mode names from {MPRT_MODES}, got {self.modes!r}")
        unknown = [mode for mode in self.modes if mode not in MPRT_MODES]
        if unknown or len(set(self.modes)) != len(self.modes):
            raise ValueError(f"modes must be distinct names from {MPRT_MODES}, got {list(self.modes)!r}")
        if self.layers is not None and (isinstance(self.layers, str) or not isinstance(self.layers, Sequence)):
            raise TypeError(f"layers must be a sequence of layer names or None, got {self.layers!r}")
        _check_explainer(self.explainer, self.explain_func)
        _check_random_state(self.random_state)
        _check_bool(self.progress, "progress")


def model_parameter_randomisation(
    onnx_model: str | Path | Any, image: np.ndarray, reference: np.ndarray, **parameters: Any
) -> RandomisationResult:
    """Run :class:`ModelParameterRandomisation` once.

    Args:
        onnx_model: Path to an ONNX file, or an :class:`onnx.ModelProto`.
        image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
        reference: Reference embedding ``(D,)`` (or ``(K, D)``).
        **parameters: Parameters of :class:`ModelParameterRandomisation` (``modes``, ``layers``, ``explainer``, ...).

    Returns:
        A :class:`RandomisationResult`.
    """
    return ModelParameterRandomisation(**parameters)(onnx_model, image, reference)


def randomisation_table(result: RandomisationResult) -> str:
    """The MPRT correlations as a plain-text table: one row per layer (graph order), one column per mode.

    Args:
        result: A :class:`RandomisationResult`.

    Returns:
        The table, one line per row.
    """
    modes = list(result.correlations)
    width = max(len("layer"), *(len(name) for name in result.layer_names))
    lines = ["layer".ljust(width) + "".join(f"  {mode:>11}" for mode in modes)]
    for name in result.layer_names:
        cells = [result.correlations[mode][result.steps[mode].index(name)] for mode in modes]
        lines.append(name.ljust(width) + "".join(f"  {value:>11.3f}" for value in cells))
    return "\n".join(lines)


# -- convergence: seed spread and automatic n_masks --------------------------------------------------------------


@dataclass
class SeedSpreadResult:
    """Spread of maps across random seeds, as returned by :class:`SeedSpread`.

    Attributes:
        n_masks: ``(M,)`` the numbers of masks tried.
        spread: ``(M,)`` mean over pixels of the per-pixel standard deviation (``ddof=1``) across seeds.
        estimated_spread: ``(M,)`` the single-run estimate of :func:`estimate_pixel_spread`, averaged over seeds.
        coefficient: ``c`` of the least-squares fit ``spread ≈ c / sqrt(n_masks)``.
        seeds: ``(n_seeds,)`` the seeds of the runs (the same for every number of masks).
        maps: ``(M, n_seeds, *map shape)`` every map.
    """

    n_masks: np.ndarray
    spread: np.ndarray
    estimated_spread: np.ndarray
    coefficient: float
    seeds: np.ndarray
    maps: np.ndarray


class SeedSpread:
    """Convergence: how much the map varies between random seeds, for several numbers of masks.

    For every number of masks, the image is explained with ``n_seeds`` different mask seeds; the spread is the
    per-pixel standard deviation of the maps across seeds, averaged over pixels (Meijer & Bos 2025, table 2). It
    falls about as ``1 / sqrt(n_masks)``.

    Args:
        n_masks: The numbers of masks to try.
        n_seeds: Number of seeds per number of masks (at least 2).
        explainer: A :class:`~dianna_distance.DistanceExplainer` whose other parameters are used (its
            ``n_masks``, ``masks``, ``random_state`` and ``progress`` are replaced). Default: ``DistanceExplainer()``.
        random_state: Seed or generator from which the mask seeds are drawn.
        progress: Show a progress bar.
    """

    def __init__(
        self,
        n_masks: Sequence[int] = (100, 500, 2000),
        n_seeds: int = 5,
        explainer: DistanceExplainer | None = None,
        random_state: RandomState = None,
        progress: bool = True,
    ) -> None:
        self.n_masks = n_masks
        self.n_seeds = n_seeds
        self.explainer = explainer
        self.random_state = random_state
        self.progress = progress

    def __call__(self, model: ModelLike, image: np.ndarray, reference: np.ndarray) -> SeedSpreadResult:
        """Explain the image ``n_seeds`` times for every number of masks.

        Args:
            model: Path to an ONNX file, or a callable ``(B, *image.shape) -> (B, D)``.
            image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
            reference: Reference embedding ``(D,)`` (or ``(K, D)``).

        Returns:
            A :class:`SeedSpreadResult`.
        """
        self._validate_parameters()
        params = _explainer_params(self.explainer)
        run_model = load_model(model, providers=params["providers"])
        seeds = np.random.default_rng(self.random_state).integers(0, 2**31 - 1, size=self.n_seeds)
        n_masks = np.array(self.n_masks)
        maps, estimates = [], []
        with tqdm(total=len(n_masks) * len(seeds), desc="Seed spread", unit="map", disable=not self.progress) as bar:
            for n in n_masks:
                row, row_estimates = [], []
                for seed in seeds:
                    explainer = DistanceExplainer(**{**params, "n_masks": int(n), "masks": None,
                                                     "random_state": int(seed), "progress": False})
                    row.append(explainer.attribute(run_model, image, reference))
                    row_estimates.append(estimate_pixel_spread(explainer.masks_, explainer.positive_indices_,
                                                               explainer.negative_indices_))
                    bar.update()
                maps.append(np.stack(row))
                estimates.append(np.mean(row_estimates))
        maps = np.stack(maps)
        spread = maps.std(axis=1, ddof=1).reshape(len(n_masks), -1).mean(axis=1)
        inverse_root = 1 / np.sqrt(n_masks)
        coefficient = float(spread @ inverse_root / (inverse_root @ inverse_root))
        return SeedSpreadResult(n_masks=n_masks, spread=spread, estimated_spread=np.array(estimates),
                                coefficient=coefficient, seeds=seeds, maps=maps)

    def _validate_parameters(self) -> None:
        if isinstance(self.n_masks, (str, bytes)) or not isinstance(self.n_masks, Sequence) or not self.n_masks:
            raise TypeError(f"n_masks must be a non-empty sequence of ints, got {self.n_masks!r}")
        for value in self.n_masks:
            _check_int(value, "n_masks (each value)", minimum=1)
        _check_int(self.n_seeds, "n_seeds", minimum=2)
        _check_explainer(self.explainer, None)
        _check_random_state(self.random_state)
        _check_bool(self.progress, "progress")


def seed_spread(model: ModelLike, image: np.ndarray, reference: np.ndarray, **parameters: Any) -> SeedSpreadResult:
    """Run :class:`SeedSpread` once.

    Args:
        model: Path to an ONNX file, or a callable ``(B, *image.shape) -> (B, D)``.
        image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
        reference: Reference embedding ``(D,)`` (or ``(K, D)``).
        **parameters: Parameters of :class:`SeedSpread` (``n_masks``, ``n_seeds``, ``explainer``, ...).

    Returns:
        A :class:`SeedSpreadResult`.
    """
    return SeedSpread(**parameters)(model, image, reference)


def estimate_pixel_spread(masks: Any, positive_indices: np.ndarray, negative_indices: np.ndarray) -> float:
    """Estimate from one run how much the map would vary per pixel between mask seeds.

    The map is the mean of the positive masks minus the mean of the negative masks, so its per-pixel standard
    error is ``sqrt(var_P / |P| + var_N / |N|)``, with ``var`` the per-pixel variance (``ddof=1``) of the mask
    values within each set. The estimate is the mean of that over pixels: the single-run counterpart of
    :class:`SeedSpread`'s spread. An empty set contributes nothing (as to the map); a set of one mask gives an
    infinite estimate.

    Args:
        masks: The run's masks, indexable like an array ``(n_masks, H, W)`` (an array or
            :class:`~dianna_distance.RiseMasks`, e.g. ``explainer.masks_``).
        positive_indices: ``(|P|,)`` mask indices of the positive selection, or ``(K, |P|)`` for K references.
        negative_indices: ``(|N|,)`` or ``(K, |N|)``, likewise.

    Returns:
        The estimate; for K references, the largest of their K estimates.
    """
    positive, negative = np.atleast_2d(positive_indices), np.atleast_2d(negative_indices)
    estimates = []
    for pos, neg in zip(positive, negative):
        variance = 0.0
        for indices in (pos, neg):
            if len(indices) == 1:
                return float("inf")
            if len(indices):
                selected = np.asarray(masks[np.asarray(indices)], dtype=np.float64)
                variance = variance + selected.var(axis=0, ddof=1) / len(indices)
        estimates.append(float(np.mean(np.sqrt(variance))))
    return max(estimates)


@dataclass
class ConvergenceResult:
    """Outcome of :func:`embed_until_converged`.

    Attributes:
        n_masks: Number of masks used (embedded): the first ``n_masks`` of the given masks.
        embeddings: ``(n_masks, D)`` embeddings of the masked images.
        converged: Whether the estimated spread fell to ``tolerance`` (False: the masks ran out first).
        mask_counts: ``(rounds,)`` number of masks after each round.
        spreads: ``(rounds,)`` estimated per-pixel spread (:func:`estimate_pixel_spread`) after each round.
    """

    n_masks: int
    embeddings: np.ndarray
    converged: bool
    mask_counts: np.ndarray
    spreads: np.ndarray


def embed_until_converged(
    embed: Callable[[np.ndarray], np.ndarray],
    masks: Any,
    references: np.ndarray,
    tolerance: float,
    step: int,
    distance: DistanceLike = "cosine",
    positive_range: tuple[float, float] = (0.0, 0.1),
    negative_range: tuple[float, float] = (0.9, 1.0),
    progress: bool = True,
) -> ConvergenceResult:
    """Embed masked images a batch of masks at a time until the map's estimated spread is small enough.

    After every round of ``step`` masks, the masks so far are ranked and selected as the Distance Explainer does
    (:func:`~dianna_distance.distances.select_masks`) and the map's per-pixel spread is estimated with
    :func:`estimate_pixel_spread`; the loop stops when it is at most ``tolerance`` or when ``masks`` run out.

    Args:
        embed: Callable mapping a batch of masks ``(k, H, W)`` (float32) to the embeddings ``(k, D)`` of the image
            masked by them.
        masks: The masks available, indexable like an array ``(max_masks, H, W)``; a
            :class:`~dianna_distance.RiseMasks` generates only the ones used.
        references: Reference embeddings ``(K, D)`` (or ``(D,)``); the largest of their spreads counts.
        tolerance: Stop when the estimated spread is at most this.
        step: Masks per round.
        distance: See :func:`~dianna_distance.distances.get_distance`.
        positive_range: ``(min, max)`` fractions of the ranking in the positive selection.
        negative_range: ``(min, max)`` fractions of the ranking in the negative selection.
        progress: Show a progress bar.

    Returns:
        A :class:`ConvergenceResult`.
    """
    _check_positive(tolerance, "tolerance")
    _check_int(step, "step", minimum=1)
    references = np.atleast_2d(_check_finite_array(references, "references"))
    get_distance(distance)
    _check_bool(progress, "progress")
    chunks, counts, spreads = [], [], []
    n_used, spread = 0, float("inf")
    with tqdm(total=len(masks), desc="Explaining", unit="mask", disable=not progress) as bar:
        while n_used < len(masks) and spread > tolerance:
            batch = np.asarray(masks[n_used : n_used + step], dtype=np.float32)
            chunks.append(np.asarray(embed(batch)))
            n_used += len(batch)
            distances = compute_distances(np.concatenate(chunks), references, distance)
            selections = [select_masks(row, positive_range, negative_range) for row in distances]
            spread = estimate_pixel_spread(masks, np.stack([s[1] for s in selections]),
                                           np.stack([s[2] for s in selections]))
            counts.append(n_used)
            spreads.append(spread)
            bar.update(len(batch))
            bar.set_postfix(spread=f"{spread:.4f}")
    return ConvergenceResult(n_masks=n_used, embeddings=np.concatenate(chunks), converged=spread <= tolerance,
                             mask_counts=np.array(counts), spreads=np.array(spreads))


__all__ = [
    "AverageSensitivity",
    "ConvergenceResult",
    "DeletionResult",
    "IncrementalDeletion",
    "ModelParameterRandomisation",
    "RandomisationResult",
    "SeedSpread",
    "SeedSpreadResult",
    "SensitivityResult",
    "average_sensitivity",
    "embed_until_converged",
    "estimate_pixel_spread",
    "incremental_deletion",
    "model_parameter_randomisation",
    "randomisable_layers",
    "randomisation_table",
    "seed_spread",
    "sensitivity_values",
    "spearman_correlation",
]
