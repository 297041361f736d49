"""Segment deletion (faithfulness on time series): does deleting what a series' map marks move the distance?

The time-series counterpart of :mod:`~dianna_distance.evaluation.deletion` and
:mod:`~dianna_distance.evaluation.words`: the units are segments of ``segment_length`` time steps of one channel,
scored by the sum of the map over them, and deleted as the explainer masks them (their values become the fill of
``mask_type``). The orders, steps and areas are those of the other deletions
(:func:`~dianna_distance.evaluation.common.deletion_orders`,
:func:`~dianna_distance.evaluation.common.deletion_summary`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from dianna_distance.checks import check_bool, check_int, check_random_state
from dianna_distance.core import check_embeddings, check_reference
from dianna_distance.distances import DistanceLike, compute_distances, get_distance
from dianna_distance.evaluation.common import DeletionCurves, RandomState, check_map, deletion_orders, deletion_summary
from dianna_distance.model import ModelLike
from dianna_distance.timeseries import MaskTypeLike, TimeSeriesDistanceExplainer, check_series, mask_fill, masked_series


@dataclass
class TimeSeriesDeletionResult(DeletionCurves):
    """What :class:`TimeSeriesDeletion` returns: the deletion curves over the U segments of the series.

    Attributes:
        segments: ``(U, 3)`` ints ``(channel, start, stop)`` of each segment (the orders index these rows).
        series_lodf: ``(S + 1, T, C)`` the series the model saw along the LoDF curve.
    """

    segments: np.ndarray
    series_lodf: np.ndarray


class TimeSeriesDeletion:
    """Segment deletion: delete segments of a series in order of their scores and follow the distance.

    Segments (``segment_length`` steps of one channel) are deleted cumulatively in ``n_steps`` steps in three
    orders: most positive score first ("LoDF": the distance should rise fast), most negative first ("HiDF"), and
    ``n_random`` random orders. A deleted value becomes the fill of ``mask_type``, as in the explainer.

    Args:
        n_steps: Number of deletion steps; default (None) one segment per step.
        n_random: Number of random deletion orders (at least 1).
        segment_length: Time steps per segment (the last one of a channel may be shorter).
        mask_type: ``"mean"``, a number or a callable, as :class:`~dianna_distance.TimeSeriesDistanceExplainer`'s.
        distance: ``"cosine"``, ``"euclidean"``, or a callable.
        batch_size: Series per model call; default 256.
        random_state: Seed or generator for the random orders.
        progress: Show a progress bar.
        providers: ONNX Runtime execution providers when the model is an ONNX file.
        embedding_output: For an ONNX file, the inner tensor used as the embedding (as the explainer's).
    """

    def __init__(
        self,
        n_steps: int | None = None,
        n_random: int = 10,
        segment_length: int = 1,
        mask_type: MaskTypeLike = "mean",
        distance: DistanceLike = "cosine",
        batch_size: int | None = None,
        random_state: RandomState = None,
        progress: bool = True,
        providers: Sequence[str] | None = None,
        embedding_output: str | None = None,
    ) -> None:
        self.n_steps = n_steps
        self.n_random = n_random
        self.segment_length = segment_length
        self.mask_type = mask_type
        self.distance = distance
        self.batch_size = batch_size
        self.random_state = random_state
        self.progress = progress
        self.providers = providers
        self.embedding_output = embedding_output

    def __call__(self, model: ModelLike, series: np.ndarray, reference: np.ndarray, scores: np.ndarray
                 ) -> TimeSeriesDeletionResult:
        """Delete segments in the LoDF, HiDF and random orders and measure the distance after each step.

        Args:
            model: A callable ``(B, T, C) -> (B, D)`` or an ONNX file.
            series: The explained series ``(T, C)``.
            reference: Reference embedding ``(D,)``.
            scores: The map to evaluate, ``(T, C)``.

        Returns:
            A :class:`TimeSeriesDeletionResult`.
        """
        self._validate_parameters()
        values = check_series(series, "series")
        values = values.astype(np.result_type(values.dtype, np.float32), copy=False)
        scores = check_map(scores, "scores")
        if scores.shape != values.shape:
            raise ValueError(f"scores must have the series' shape {values.shape}, got {scores.shape}")
        reference = check_reference(reference, self.distance)
        if len(reference) != 1:
            raise ValueError(f"reference must have shape (D,); evaluate one reference at a time, got shape "
                             f"{reference.shape}")
        length, channels = values.shape
        segments = np.array([(c, start, min(start + self.segment_length, length))
                             for c in range(channels) for start in range(0, length, self.segment_length)])
        n_steps = len(segments) if self.n_steps is None else self.n_steps
        if n_steps > len(segments):
            raise ValueError(f"n_steps must be at most the number of segments ({len(segments)}), got {n_steps}")
        segment_scores = np.array([scores[start:stop, c].sum() for c, start, stop in segments])
        orders, boundaries = deletion_orders(segment_scores, n_steps, self.n_random, self.random_state)
        keep = np.ones((len(orders), len(boundaries), length, channels), dtype=bool)
        for o, order in enumerate(orders):
            for s, boundary in enumerate(boundaries):
                for c, start, stop in segments[order[:boundary]]:
                    keep[o, s, start:stop, c] = False
        fill = mask_fill(values, self.mask_type)
        explainer = TimeSeriesDistanceExplainer(providers=self.providers, embedding_output=self.embedding_output)
        run_model = explainer.load_model(model)
        curves = self._distance_curves(run_model, values, fill, keep.reshape(-1, length, channels), reference[0])
        return TimeSeriesDeletionResult(
            **deletion_summary(curves.reshape(len(orders), len(boundaries)), boundaries, len(segments)),
            order_lodf=orders[0], order_hidf=orders[1], boundaries=boundaries, segments=segments,
            series_lodf=masked_series(values, keep[0], fill))

    def _distance_curves(self, run_model: Any, values: np.ndarray, fill: np.ndarray, keep: np.ndarray,
                         reference: np.ndarray) -> np.ndarray:
        batch_size = self.batch_size or 256
        distances = np.empty(len(keep))
        length = None
        with tqdm(total=len(keep), desc="Deleting segments", unit="series", disable=not self.progress) as bar:
            for start in range(0, len(keep), batch_size):
                rows = keep[start : start + batch_size]
                embeddings = check_embeddings(run_model(masked_series(values, rows, fill)), len(rows), length,
                                              "series")
                if length is None and embeddings.shape[1] != len(reference):
                    raise ValueError(f"reference has length {len(reference)}, but the model's embeddings have "
                                     f"length {embeddings.shape[1]}")
                length = embeddings.shape[1]
                distances[start : start + len(rows)] = compute_distances(embeddings, reference[None], self.distance)[0]
                bar.update(len(rows))
        return distances

    def _validate_parameters(self) -> None:
        if self.n_steps is not None:
            check_int(self.n_steps, "n_steps", minimum=1)
        check_int(self.n_random, "n_random", minimum=1)
        check_int(self.segment_length, "segment_length", minimum=1)
        get_distance(self.distance)
        if self.batch_size is not None:
            check_int(self.batch_size, "batch_size", minimum=1)
        check_random_state(self.random_state)
        check_bool(self.progress, "progress")


def timeseries_deletion(model: ModelLike, series: np.ndarray, reference: np.ndarray, scores: np.ndarray,
                        **parameters: Any) -> TimeSeriesDeletionResult:
    """Run :class:`TimeSeriesDeletion` with ``parameters`` in one call; see there."""
    return TimeSeriesDeletion(**parameters)(model, series, reference, scores)
