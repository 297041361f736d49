"""Feature deletion (faithfulness on tables): does deleting the features a row's scores mark move the distance?

The table counterpart of :mod:`~dianna_distance.evaluation.deletion` and :mod:`~dianna_distance.evaluation.words`.
A deleted feature takes a fixed background value, as a masked feature of the
:class:`~dianna_distance.tabular.TabularDistanceExplainer` does with ``mask_type="mean"`` or ``"most_frequent"``:
the column mean (categorical features: their most frequent category) by default. A fixed value, not a random
background row, so that every curve is one deterministic model call per step. :class:`SeedSpread` takes a
:class:`~dianna_distance.tabular.TabularDistanceExplainer` as its ``explainer`` as it is.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dianna_distance.checks import check_finite_array, warn
from dianna_distance.distances import DistanceLike
from dianna_distance.evaluation.common import (
    DeletionCurves,
    RandomState,
    check_deletion_parameters,
    check_one_reference,
    deletion_keep,
    deletion_orders,
    deletion_steps,
    deletion_summary,
    distance_curve,
)
from dianna_distance.tabular import (
    TabularDistanceExplainer,
    TabularModelLike,
    background_fill,
    check_categorical_features,
    check_training_data,
)


@dataclass
class FeatureDeletionResult(DeletionCurves):
    """What :class:`FeatureDeletion` returns: the deletion curves over the F features of the row.

    Attributes:
        fill: ``(F,)`` the value each deleted feature took.
        rows_lodf: ``(S + 1, F)`` the rows of the LoDF curve (what the model saw).
    """

    fill: np.ndarray
    rows_lodf: np.ndarray


class FeatureDeletion:
    """Feature deletion: replace a row's features in order of their scores and follow the distance to the reference.

    Features are deleted cumulatively in ``n_steps`` steps in three orders: most positive score first ("LoDF": the
    distance should rise fast), most negative first ("HiDF"), and ``n_random`` random orders.

    Args:
        training_data: Background rows ``(N, F)`` for ``"mean"`` / ``"most_frequent"``; None with a number as
            ``baseline`` (else deleted features are 0, with a warning, as the explainer does).
        baseline: ``"mean"`` (default; categorical features take their most frequent category),
            ``"most_frequent"``, or a number.
        categorical_features: Indices of the categorical features.
        n_steps: Number of deletion steps; default (None) one feature per step.
        n_random: Number of random orders (at least 1).
        distance: ``"cosine"``, ``"euclidean"``, or a callable ``(embeddings (N, D), reference (D,)) -> (N,)``.
        random_state: Seed or generator for the random orders.
        providers: ONNX Runtime execution providers when the model is an ONNX file.
        embedding_output: For an ONNX file: the tensor that is the embedding (as the explainer's).
    """

    def __init__(
        self,
        training_data: np.ndarray | None = None,
        baseline: str | float = "mean",
        categorical_features: Sequence[int] | None = None,
        n_steps: int | None = None,
        n_random: int = 10,
        distance: DistanceLike = "cosine",
        random_state: RandomState = None,
        providers: Sequence[str] | None = None,
        embedding_output: str | None = None,
    ) -> None:
        self.training_data = training_data
        self.baseline = baseline
        self.categorical_features = categorical_features
        self.n_steps = n_steps
        self.n_random = n_random
        self.distance = distance
        self.random_state = random_state
        self.providers = providers
        self.embedding_output = embedding_output

    def __call__(self, model: TabularModelLike, row: np.ndarray, reference: np.ndarray, scores: np.ndarray
                 ) -> FeatureDeletionResult:
        """Delete features in the LoDF, HiDF and random orders and measure the distance after each step.

        Args:
            model: A callable ``(B, F) -> (B, D)`` or an ONNX file.
            row: The explained row ``(F,)``.
            reference: Reference embedding ``(D,)``.
            scores: The explanation to evaluate, ``(F,)``.

        Returns:
            A :class:`FeatureDeletionResult`.
        """
        row = check_finite_array(row, "row").astype(np.float64)
        if row.ndim != 1 or not row.size:
            raise ValueError(f"row must be one table row (F,), got shape {row.shape}")
        n_features = len(row)
        scores = check_finite_array(scores, "scores").astype(np.float64)
        if scores.shape != (n_features,):
            raise ValueError(f"scores must have one value per feature, shape ({n_features},), got {scores.shape}")
        check_deletion_parameters(self.n_steps, self.n_random, self.distance, self.random_state)
        n_steps = deletion_steps(self.n_steps, n_features, "features")
        references = check_one_reference(reference, self.distance)
        categorical = check_categorical_features(self.categorical_features, n_features)
        background = None if self.training_data is None else check_training_data(self.training_data, n_features)
        baseline = self.baseline
        if not (isinstance(baseline, numbers.Real) and not isinstance(baseline, bool)) and baseline not in (
                "mean", "most_frequent"):
            raise ValueError(f"baseline must be 'mean', 'most_frequent' or a number, got {baseline!r}")
        if isinstance(baseline, str) and background is None:
            warn("no training_data: deleted features are set to 0, and the curves depend on that choice; give "
                 "background rows as training_data, or a number as baseline", stacklevel=2)
            baseline = 0.0
        fill = background_fill(baseline, background, categorical, n_features)

        orders, boundaries = deletion_orders(scores, n_steps, self.n_random, self.random_state)
        keep = deletion_keep(orders, boundaries, n_features)
        rows = np.where(keep, row, fill).reshape(-1, n_features)
        explainer = TabularDistanceExplainer(providers=self.providers, embedding_output=self.embedding_output)
        run_model = explainer.load_model(model)
        curves = distance_curve(lambda _: run_model(rows.astype(np.float32)), rows, references[0], self.distance,
                                len(rows), noun="rows").reshape(len(orders), len(boundaries))
        return FeatureDeletionResult(**deletion_summary(curves, boundaries, n_features), order_lodf=orders[0],
                                     order_hidf=orders[1], boundaries=boundaries, fill=fill,
                                     rows_lodf=rows.reshape(len(orders), len(boundaries), n_features)[0])


def feature_deletion(model: TabularModelLike, row: np.ndarray, reference: np.ndarray, scores: np.ndarray,
                     **parameters: Any) -> FeatureDeletionResult:
    """Run :class:`FeatureDeletion` with ``parameters`` in one call; see there."""
    return FeatureDeletion(**parameters)(model, row, reference, scores)
