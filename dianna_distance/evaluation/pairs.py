"""Evaluating pair explanations: does a word bind its own object, and do the top word-region pairs carry the distance?

Two metrics for :class:`~dianna_distance.PairDistanceExplainer`, Quantus style (parameters up front, a call
returns a small dataclass):

* :class:`PairPointingGame` (localisation): for each feature of side B with a known region on side A (a noun of
  a caption and the half of a composite image that holds its object), does the feature's strongest interaction
  lie inside its region? Scored for the interactions and for the baseline that multiplies the two first-order
  maps (:func:`first_order_product`), which cannot tell which word goes with which region.
* :class:`PairDeletion` (faithfulness): rank the pairs ``(feature of A, feature of B)`` by a score matrix, and
  delete (or insert) the features of the top pairs, both sides at once, following the pair's distance.

:func:`side_by_side` makes the composites: two images shrunk into the halves of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dianna_distance.checks import check_finite_array, check_int
from dianna_distance.pairs import PairDistanceExplainer


def side_by_side(left: np.ndarray, right: np.ndarray, background: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Two images ``(H, W, C)`` shrunk to ``(H/2, W/2)`` each, side by side at mid height in one ``(H, W, C)`` image.

    Each image is resized (anti-aliased bilinear, :func:`skimage.transform.resize`) to half its height and half
    its width, so both objects keep their proportions; the quarter above and below each is ``background``.

    Args:
        left: The left image ``(H, W, C)`` (values as the model's prepared images, e.g. RGB in [0, 1]).
        right: The right image, of the same shape.
        background: The value of the rest of the composite.

    Returns:
        ``(composite (H, W, C), halves (2, H, W) bool)``: the left and the right half of the composite.
    """
    from skimage.transform import resize

    left, right = check_finite_array(left, "left"), check_finite_array(right, "right")
    if left.ndim != 3 or left.shape != right.shape:
        raise ValueError(f"left and right must be images (H, W, C) of one shape, got {left.shape} and {right.shape}")
    height, width, channels = left.shape
    half_height, half_width = height // 2, width // 2
    composite = np.full(left.shape, background, dtype=np.result_type(left.dtype, np.float32))
    top = (height - half_height) // 2
    for column, image in ((0, left), (width - half_width, right)):
        small = resize(image, (half_height, half_width, channels), order=1, anti_aliasing=True, preserve_range=True)
        composite[top : top + half_height, column : column + half_width] = small
    halves = np.zeros((2, height, width), dtype=bool)
    halves[0, :, : width // 2] = True
    halves[1, :, width // 2 :] = True
    return composite, halves


def first_order_product(explainer: PairDistanceExplainer) -> np.ndarray:
    """The baseline: the outer product of the two sides' first-order scores, ``(F_A, F_B)`` (a rank-one matrix)."""
    if not hasattr(explainer, "scores_a_"):
        raise RuntimeError("first_order_product needs a run of the explainer: call attribute() first")
    return np.outer(explainer.scores_a_, explainer.scores_b_)


def cells_in_region(explainer: PairDistanceExplainer, region: np.ndarray) -> np.ndarray:
    """Which of side A's image cells lie in a pixel region ``(H, W)`` bool: ``(F_A,)``, a cell whose centre is in it."""
    if explainer.modality_a_ != "image":
        raise ValueError(f"cells_in_region needs an image as side A, got a {explainer.modality_a_}")
    region = np.asarray(region, dtype=bool)
    g_rows, g_cols = explainer.grid_a_
    height, width = region.shape
    rows = ((np.arange(g_rows) + 0.5) * height / g_rows).astype(int)
    cols = ((np.arange(g_cols) + 0.5) * width / g_cols).astype(int)
    return region[rows[:, None], cols[None, :]].ravel()


@dataclass
class PointingResult:
    """What :class:`PairPointingGame` returns, for the features of side B that have a region.

    Attributes:
        features: The features of side B scored (indices).
        hits: ``(n,)`` bool: the feature's strongest interaction lies in its region.
        baseline_hits: ``(n,)`` bool: the same for the product of the first-order maps.
    """

    features: list[int]
    hits: np.ndarray
    baseline_hits: np.ndarray

    @property
    def rate(self) -> float:
        """The fraction of hits."""
        return float(np.mean(self.hits))

    @property
    def baseline_rate(self) -> float:
        """The baseline's fraction of hits."""
        return float(np.mean(self.baseline_hits))


class PairPointingGame:
    """The pointing game for bindings: does each feature of B point at its own region of A?

    For a feature ``k`` of side B with a region of side A's features (a boolean ``(F_A,)``: the cells of its
    object's half), a hit is when ``argmax_j scores[j, k]`` lies in the region. Scored for the interactions and
    for the product of the first-order maps (whose column for ``k`` is A's first-order map times a number, so it
    points at the same cell for every word with a positive score).

    Args:
        use: ``"interactions"`` (default) or ``"significant"``: only significant interactions count (a feature
            without one is a miss).
    """

    def __init__(self, use: str = "interactions") -> None:
        self.use = use

    def __call__(self, explainer: PairDistanceExplainer, regions: dict[int, np.ndarray]) -> PointingResult:
        """Score a run.

        Args:
            explainer: A :class:`~dianna_distance.PairDistanceExplainer` after its ``attribute()``.
            regions: ``{feature of B: (F_A,) bool region of A}``.

        Returns:
            A :class:`PointingResult`.
        """
        if self.use not in ("interactions", "significant"):
            raise ValueError(f"use must be 'interactions' or 'significant', got {self.use!r}")
        interactions = explainer.interactions_
        if self.use == "significant":
            interactions = np.where(explainer.interactions_significant_, interactions, -np.inf)
        baseline = first_order_product(explainer)
        features, hits, baseline_hits = [], [], []
        for k, region in regions.items():
            region = np.asarray(region, dtype=bool)
            if region.shape != (interactions.shape[0],):
                raise ValueError(f"regions[{k}] must be ({interactions.shape[0]},) booleans over side A's features")
            column = interactions[:, k]
            features.append(int(k))
            hits.append(bool(np.isfinite(column.max()) and region[int(np.argmax(column))]))
            baseline_hits.append(bool(region[int(np.argmax(baseline[:, k]))]))
        return PointingResult(features, np.array(hits), np.array(baseline_hits))


@dataclass
class PairDeletionResult:
    """What :class:`PairDeletion` returns: one curve of distances per order, steps 0 .. ``n_steps``.

    Attributes:
        distances: ``{order name: (n_steps + 1,) distances}``; step 0 is the full pair (deletion) or the pair with
            every feature dropped (insertion).
        mode: ``"deletion"`` or ``"insertion"``.
    """

    distances: dict[str, np.ndarray]
    mode: str

    def area(self, name: str) -> float:
        """The mean distance over the steps of one order's curve (deletion: higher is better; insertion: lower)."""
        return float(np.mean(self.distances[name]))


class PairDeletion:
    """Delete (or insert) the features of the top word-region pairs, both sides at once, following the distance.

    The pairs ``(j, k)`` are ranked by each score matrix given (largest first). At step ``m`` the features of the
    first ``m`` pairs (A's ``j`` and B's ``k``) are dropped from the full pair ("deletion": the distance should
    rise fast for a faithful ranking) or are the only ones kept ("insertion": the distance should fall fast).

    Args:
        n_steps: Number of top pairs taken, one per step.
        mode: ``"deletion"`` (default) or ``"insertion"``.
    """

    def __init__(self, n_steps: int = 8, mode: str = "deletion") -> None:
        self.n_steps = n_steps
        self.mode = mode

    def __call__(self, explainer: PairDistanceExplainer, model_a: Any, model_b: Any, orders: dict[str, np.ndarray]
                 ) -> PairDeletionResult:
        """Run the curves.

        Args:
            explainer: A :class:`~dianna_distance.PairDistanceExplainer` after its ``attribute()`` (its items).
            model_a: Side A's model.
            model_b: Side B's model.
            orders: ``{name: (F_A, F_B) scores}``, e.g. ``{"interactions": explainer.interactions_,
                "first-order product": first_order_product(explainer)}``.

        Returns:
            A :class:`PairDeletionResult` (``2 (n_steps + 1)`` model calls per order, batched).
        """
        check_int(self.n_steps, "n_steps", minimum=1)
        if self.mode not in ("deletion", "insertion"):
            raise ValueError(f"mode must be 'deletion' or 'insertion', got {self.mode!r}")
        features_a, features_b = explainer.interactions_.shape
        curves = {}
        for name, scores in orders.items():
            scores = check_finite_array(scores, f"orders[{name!r}]")
            if scores.shape != (features_a, features_b):
                raise ValueError(f"orders[{name!r}] must have shape {(features_a, features_b)}, got {scores.shape}")
            ranked = np.argsort(-scores, axis=None, kind="stable")[: self.n_steps]
            keep_a = np.ones((self.n_steps + 1, features_a), dtype=bool)
            keep_b = np.ones((self.n_steps + 1, features_b), dtype=bool)
            for step, flat in enumerate(ranked, start=1):
                j, k = np.unravel_index(flat, scores.shape)
                keep_a[step:, j] = False
                keep_b[step:, k] = False
            if self.mode == "insertion":
                keep_a, keep_b = ~keep_a, ~keep_b
            curves[name] = explainer.masked_distances(model_a, model_b, keep_a, keep_b)
        return PairDeletionResult(curves, self.mode)
