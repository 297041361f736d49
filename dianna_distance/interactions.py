"""Second-order explanations of a pair's distance: each side's first-order scores and the cross-side interactions.

Both items of a pair are masked at once, each feature kept independently with probability ``p`` (``p_a`` on side
A, ``p_b`` on side B); ``a_j``, ``b_k`` are the keep values (0 or 1) of feature ``j`` of A and ``k`` of B in one
joint sample, and ``v = -distance`` of the two masked items' embeddings (or a rank score of it, see
:func:`pair_values`): larger is closer.

**What the scores are.** Under the masks' distribution (independent Bernoulli(``p``) features),

- the first-order score of feature ``j`` of A is ``phi_j = E[v | a_j = 1] - E[v | a_j = 0]``: how much closer
  the pair is on average when the part is present (positive: its presence brings the pair closer, as in the
  single-side maps);
- the interaction of ``j`` (of A) and ``k`` (of B) is the ``p``-weighted Banzhaf interaction index::

      gamma_jk = E_context[ v(a_j=1, b_k=1) - v(a_j=1, b_k=0) - v(a_j=0, b_k=1) + v(a_j=0, b_k=0) ]

  averaged over random contexts (the other features of both items kept with probability ``p``): how much
  closer the pair gets when **both** parts are present, beyond what each brings alone. Equivalently, ``gamma_jk``
  is the coefficient of ``a_j b_k`` in the least-squares fit of ``v`` on ``[1, a, b, a_j b_k]`` under the masks'
  distribution (the second-order term of the functional ANOVA decomposition in the ``p``-biased Walsh basis,
  which is orthogonal for independent masks; Grabisch & Roubens 1999; FIxLIP, NeurIPS 2025, uses the same
  weighted Banzhaf interactions for CLIP).

A positive ``gamma_jk``: the word binds the region (the pair is closer with both than the two separate effects
predict); negative: the two parts substitute for, or contradict, each other.

**What the product of the first-order maps loses.** ``phi_j psi_k`` (A's score times B's) is large whenever both
parts matter on their own: for the caption "a bee and a car" over a bee on the left and a car on the right, both
nouns and both halves matter, so the product pairs "bee" with the car as strongly as with the bee. It is a rank-one
matrix: it cannot say that "bee" goes with one half and "car" with the other. The interaction measures the
dependence itself: the word "bee" brings the caption closer to the image when the bee is visible and pushes it
away when it is not.

**The estimator.** Monte Carlo in the orthogonal basis ``chi_j = (a_j - p) / (p (1 - p))``, for which
``E[v chi_j] = phi_j`` and ``E[v chi^A_j chi^B_k] = gamma_jk`` exactly: ``phi`` and ``psi`` are the least-squares
coefficients of ``v`` on ``[1, a - p_a, b - p_b]`` from the run's samples (which needs more samples than
``F_A + F_B + 1``), and ``gamma_jk`` is the mean of ``r chi^A_j chi^B_k`` over the samples, with ``r`` the residual
of that first-order fit (a control variate: it removes the first-order effects' share of the variance and leaves
the expectation unchanged). Each score's standard error is that of its mean over the ``n`` samples (the sample
standard deviation of its terms over ``sqrt(n)``), so every interaction has its own standard error even when there
are more interactions than samples; memory is ``F_A x F_B`` (image cells, never pixels). Significance: two-sided
t p-values with ``n - F_A - F_B - 2`` degrees of freedom, Benjamini–Hochberg across the ``F_A F_B`` interactions
(and across each side's features for the first-order scores) at the false-discovery rate ``fdr``
(:func:`~dianna_distance.uncertainty.significant_features`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

from dianna_distance.distances import DistanceLike, get_distance

#: What a joint sample's value is, the negative distance or a rank score of it.
PAIR_WEIGHTINGS = ("distance", "linear", "normal")


def paired_distances(embeddings_a: np.ndarray, embeddings_b: np.ndarray, distance: DistanceLike) -> np.ndarray:
    """The distance of each pair of rows ``(embeddings_a[i], embeddings_b[i])``, ``(n,)``.

    Args:
        embeddings_a: ``(n, D)``.
        embeddings_b: ``(n, D)``.
        distance: ``"cosine"`` (``(1 - cos) / 2``), ``"euclidean"`` or a callable
            ``(embeddings (N, D), reference (D,)) -> (N,)`` (called once per pair).
    """
    if embeddings_a.shape != embeddings_b.shape:
        raise ValueError(f"the two sides' models must embed into one space: side a's embeddings have length "
                         f"{embeddings_a.shape[1]}, side b's {embeddings_b.shape[1]}")
    function = get_distance(distance)
    if isinstance(distance, str):
        if distance == "cosine":
            units_a, units_b = _units(embeddings_a), _units(embeddings_b)
            values = np.einsum("nd,nd->n", units_a - units_b, units_a - units_b) / 4.0
            zero = ~np.any(units_a != 0, axis=1) | ~np.any(units_b != 0, axis=1)
            values = np.where(zero, 0.5, values)
        else:
            values = np.linalg.norm(embeddings_a - embeddings_b, axis=1)
    else:
        values = np.array([np.asarray(function(embeddings_a[i : i + 1], embeddings_b[i]), dtype=np.float64)
                           .reshape(-1)[0] for i in range(len(embeddings_a))])
    if not np.all(np.isfinite(values)):
        raise ValueError("distance returned NaN or infinite values for some pairs")
    return values


def _units(vectors: np.ndarray) -> np.ndarray:
    scale = np.max(np.abs(vectors), axis=1, keepdims=True)
    scaled = vectors / np.where(scale == 0, 1.0, scale)
    norm = np.linalg.norm(scaled, axis=1, keepdims=True)
    return scaled / np.where(norm == 0, 1.0, norm)


def pair_values(distances: np.ndarray, weighting: str = "distance") -> np.ndarray:
    """Each joint sample's value ``v`` (larger: closer), from the pair distances.

    Args:
        distances: ``(n,)`` pair distances.
        weighting: ``"distance"``: ``v = -distance`` (scores in units of distance); ``"linear"``: ``v = 1/2 -
            (rank - 1) / (n - 1)`` (closest +1/2, farthest -1/2); ``"normal"``: Blom's normal score of the rank,
            ``-Phi^-1((rank - 3/8) / (n + 1/4))``. Tied distances share their mean rank. The rank scores do not
            depend on the distance's scale and bound the weight of outlying samples.
    """
    if not isinstance(weighting, str) or weighting not in PAIR_WEIGHTINGS:
        raise ValueError(f"weighting must be one of {PAIR_WEIGHTINGS}, got {weighting!r}")
    distances = np.asarray(distances, dtype=np.float64)
    if weighting == "distance":
        return -distances
    n = len(distances)
    ranks = rankdata(distances)  # 1 = closest; ties share their mean rank
    if weighting == "linear":
        return 0.5 - (ranks - 1) / max(n - 1, 1)
    return -ndtri((ranks - 0.375) / (n + 0.25))


class PairEstimate(NamedTuple):
    """First-order scores and interactions of one run, with their standard errors (:func:`estimate_pair`).

    Attributes:
        scores_a: ``(F_A,)`` first-order scores of side A's features.
        standard_error_a: ``(F_A,)``.
        scores_b: ``(F_B,)``.
        standard_error_b: ``(F_B,)``.
        interactions: ``(F_A, F_B)``.
        standard_error: ``(F_A, F_B)`` of the interactions.
        degrees_of_freedom: Of every score's t statistic, ``n - F_A - F_B - 2``.
        mean_value: The mean of ``v`` over the samples.
    """

    scores_a: np.ndarray
    standard_error_a: np.ndarray
    scores_b: np.ndarray
    standard_error_b: np.ndarray
    interactions: np.ndarray
    standard_error: np.ndarray
    degrees_of_freedom: float
    mean_value: float


def minimum_samples(n_features_a: int, n_features_b: int) -> int:
    """The fewest joint samples the estimator takes: ``F_A + F_B + 3`` (a first-order fit with residual freedom)."""
    return n_features_a + n_features_b + 3


def estimate_pair(keep_a: np.ndarray, keep_b: np.ndarray, values: np.ndarray, p_a: float, p_b: float
                  ) -> PairEstimate:
    """First-order scores of both sides and their interactions, with standard errors (see the module docstring).

    Args:
        keep_a: ``(n, F_A)`` keep values (0/1) of side A's features in each joint sample.
        keep_b: ``(n, F_B)``.
        values: ``(n,)`` the samples' values ``v`` (:func:`pair_values`).
        p_a: The probability with which side A's masks keep a feature, in (0, 1).
        p_b: Side B's.

    Returns:
        A :class:`PairEstimate`.
    """
    n, features_a = keep_a.shape
    features_b = keep_b.shape[1]
    if n < minimum_samples(features_a, features_b):
        raise ValueError(f"n_masks must be at least {minimum_samples(features_a, features_b)} for {features_a} x "
                         f"{features_b} features (more samples than first-order scores), got {n}")
    values = np.asarray(values, dtype=np.float64)
    centred_a = keep_a.astype(np.float64) - p_a
    centred_b = keep_b.astype(np.float64) - p_b
    design = np.concatenate([np.ones((n, 1)), centred_a, centred_b], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
    residual = values - design @ coefficients
    dof = float(n - features_a - features_b - 2)
    chi_a = centred_a / (p_a * (1 - p_a))
    chi_b = centred_b / (p_b * (1 - p_b))
    # Influence of each first-order coefficient: chi_j r (the design's covariance is diagonal under the masks).
    squared = residual**2
    scale = n / max(dof, 1.0)  # the residual's own degrees of freedom
    standard_error_a = np.sqrt((chi_a**2).T @ squared * scale) / n
    standard_error_b = np.sqrt((chi_b**2).T @ squared * scale) / n
    # Interactions: the mean of r chi_a_j chi_b_k, and the variance of its terms, in two matrix products each.
    interactions = chi_a.T @ (residual[:, None] * chi_b) / n
    second = (chi_a**2).T @ (squared[:, None] * chi_b**2) / n
    variance = np.maximum(second - interactions**2, 0.0) * n / (n - 1)
    return PairEstimate(coefficients[1 : 1 + features_a], standard_error_a, coefficients[1 + features_a :],
                        standard_error_b, interactions, np.sqrt(variance / n), dof, float(values.mean()))
