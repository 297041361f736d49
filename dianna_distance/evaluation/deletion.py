"""Incremental deletion (faithfulness): does deleting what the map marks move the distance as it predicts?"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from dianna_distance.checks import (
    check_bool,
    check_finite_array,
    check_int,
    check_positive,
    check_random_state,
    check_value_range,
)
from dianna_distance.core import auto_batch_size, check_embeddings
from dianna_distance.distances import DistanceLike, compute_distances, get_distance
from dianna_distance.evaluation.common import (
    DeletionCurves,
    RandomState,
    deletion_orders,
    deletion_summary,
    find_channels_axis,
    spatial_view,
)
from dianna_distance.image import AxisLabels
from dianna_distance.model import ModelLike, load_model

BASELINES = ("black", "mean", "blur")


@dataclass
class DeletionResult(DeletionCurves):
    """What :class:`IncrementalDeletion` returns: the deletion curves, over pixels or superpixels.

    Its curves, areas, orders and ``boundaries`` are :class:`~dianna_distance.evaluation.common.DeletionCurves`'.

    Attributes:
        segments: ``(H, W)`` integer unit label (0 to U - 1) of every pixel.
        image: The original image.
        baseline_image: The values that replace deleted pixels, shaped like ``image``.
        channels_axis: The image's channels axis (0 or 2), or None for a 2-D image.
    """

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
    return np.where(deleted[segments][spatial_view(channels_axis)], baseline, image)


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
        axis_labels: AxisLabels = None,
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
        image = check_finite_array(image, "image")
        attribution = check_finite_array(attribution, "attribution").astype(np.float64)
        reference = check_finite_array(reference, "reference")
        if reference.ndim != 1:
            raise ValueError(f"reference must have shape (D,); explain one reference at a time, got shape "
                             f"{reference.shape}")
        channels_axis = find_channels_axis(image, self.axis_labels)
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

        unit_scores = (np.bincount(segments.ravel(), weights=attribution.ravel(), minlength=n_units)
                       / np.bincount(segments.ravel(), minlength=n_units))  # the mean score of each unit
        orders, boundaries = deletion_orders(unit_scores, self.n_steps, self.n_random, self.random_state)
        curves = self._distance_curves(load_model(model, providers=self.providers), image, baseline, segments,
                                       orders, boundaries, reference, channels_axis)
        return DeletionResult(
            **deletion_summary(curves, boundaries, n_units),
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
        batch_size = self.batch_size or auto_batch_size(image.size, len(jobs))
        curves = np.empty((len(orders), len(boundaries)))
        with tqdm(total=len(jobs), desc="Deleting", unit="image", disable=not self.progress) as bar:
            for start in range(0, len(jobs), batch_size):
                chunk = jobs[start : start + batch_size]
                batch = np.stack([_delete_units(image, baseline, segments, orders[o][: boundaries[s]], channels_axis)
                                  for o, s in chunk])
                if self.preprocess_function is not None:
                    batch = self.preprocess_function(batch)
                embeddings = check_embeddings(run_model(batch), len(chunk), None, "images")
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
        check_int(self.n_steps, "n_steps", minimum=1)
        if isinstance(self.superpixels, numbers.Integral) and not isinstance(self.superpixels, bool):
            check_int(self.superpixels, "superpixels", minimum=1)
        elif not (isinstance(self.superpixels, np.ndarray) and self.superpixels.ndim == 2
                  and np.issubdtype(self.superpixels.dtype, np.integer)):
            raise TypeError(f"superpixels must be an int (superpixel side in pixels) or an (H, W) integer array "
                            f"of segment labels, got {self.superpixels!r}")
        if isinstance(self.baseline, str):
            if self.baseline not in BASELINES:
                raise ValueError(f"baseline must be one of {BASELINES}, a number or an array, got {self.baseline!r}")
        elif not (isinstance(self.baseline, (numbers.Real, np.ndarray)) and not isinstance(self.baseline, bool)):
            raise TypeError(f"baseline must be one of {BASELINES}, a number or an array, got {self.baseline!r}")
        elif isinstance(self.baseline, numbers.Real) and not np.isfinite(self.baseline):
            raise ValueError(f"baseline must be a finite number, got {self.baseline!r}")
        else:
            check_finite_array(self.baseline, "baseline")
        check_int(self.n_random, "n_random", minimum=1)
        check_value_range(self.value_range)
        check_positive(self.blur_sigma, "blur_sigma")
        get_distance(self.distance)
        if self.preprocess_function is not None and not callable(self.preprocess_function):
            raise TypeError(f"preprocess_function must be callable or None, got {self.preprocess_function!r}")
        if self.batch_size is not None:
            check_int(self.batch_size, "batch_size", minimum=1)
        check_random_state(self.random_state)
        check_bool(self.progress, "progress")


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
