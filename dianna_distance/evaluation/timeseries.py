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

from dianna_distance.distances import DistanceLike
from dianna_distance.evaluation.common import (
    DeletionCurves,
    RandomState,
    check_deletion_parameters,
    check_map,
    check_one_reference,
    deletion_keep,
    deletion_orders,
    deletion_steps,
    deletion_summary,
    distance_curve,
)
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
        check_deletion_parameters(self.n_steps, self.n_random, self.distance, self.random_state, self.batch_size,
                                  self.progress)
        values = check_series(series, "series")
        values = values.astype(np.result_type(values.dtype, np.float32), copy=False)
        scores = check_map(scores, "scores")
        if scores.shape != values.shape:
            raise ValueError(f"scores must have the series' shape {values.shape}, got {scores.shape}")
        reference = check_one_reference(reference, self.distance)
        length, channels = values.shape
        segments = np.array([(c, start, min(start + self.segment_length, length))
                             for c in range(channels) for start in range(0, length, self.segment_length)])
        n_steps = deletion_steps(self.n_steps, len(segments), "segments")
        segment_scores = np.array([scores[start:stop, c].sum() for c, start, stop in segments])
        orders, boundaries = deletion_orders(segment_scores, n_steps, self.n_random, self.random_state)
        segment_of = np.empty((length, channels), dtype=int)  # the segment of each value of the series
        for index, (c, start, stop) in enumerate(segments):
            segment_of[start:stop, c] = index
        keep = deletion_keep(orders, boundaries, len(segments))[..., segment_of]
        fill = mask_fill(values, self.mask_type)
        explainer = TimeSeriesDistanceExplainer(providers=self.providers, embedding_output=self.embedding_output)
        run_model = explainer.load_model(model)
        curves = distance_curve(lambda rows: run_model(masked_series(values, rows, fill)),
                                keep.reshape(-1, length, channels), reference[0], self.distance,
                                self.batch_size or 256, self.progress, "Deleting segments", "series", "series")
        return TimeSeriesDeletionResult(
            **deletion_summary(curves.reshape(len(orders), len(boundaries)), boundaries, len(segments)),
            order_lodf=orders[0], order_hidf=orders[1], boundaries=boundaries, segments=segments,
            series_lodf=masked_series(values, keep[0], fill))


def timeseries_deletion(model: ModelLike, series: np.ndarray, reference: np.ndarray, scores: np.ndarray,
                        **parameters: Any) -> TimeSeriesDeletionResult:
    """Run :class:`TimeSeriesDeletion` with ``parameters`` in one call; see there."""
    return TimeSeriesDeletion(**parameters)(model, series, reference, scores)
