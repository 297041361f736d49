"""How far to trust a map: which features' signs one run establishes, with the false-discovery rate controlled.

A map has tens of thousands of features (pixels) or a few dozen (words). Each has a score and a standard error
(:func:`~dianna_distance.convergence.map_standard_error`), so a z-score ``score / standard_error``. A per-feature
rule such as ``|z| >= 2`` marks about 5% of the features whose true score is 0 by chance alone: hundreds of pixels
of a map. :func:`significant_features` controls instead the **false-discovery rate** across the features of a map,
with the Benjamini–Hochberg procedure (Benjamini & Hochberg 1995) on two-sided p-values of the z-scores.

The p-values are those of Student's t with Welch–Satterthwaite degrees of freedom (the score is a difference of
two weighted means of masks, each with its own variance and its effective number of masks), not of the normal
distribution: with few masks per selection the estimated standard error is itself uncertain and the normal
p-values are too small. On a planted model (tests/test_standard_error.py) the t p-values cut the share of marked
pixels that change sign in another seed's run from 17% to 6% at 60 masks and from 7% to 3% at 100 masks, and
mark nearly as many pixels from 300 masks on, where both agree.

What the rule promises:
    Among the features it marks, the expected fraction whose true score (the map's limit over infinitely many
    masks) is 0 is at most ``fdr``. This is proven when the test statistics are independent or positively
    dependent (PRDS, Benjamini & Yekutieli 2001; for two-sided tests of positively correlated statistics it is
    not proven, but is observed to hold), and it holds as far as each ``score / standard_error`` follows
    Student's t with the estimated degrees of freedom: well for means of hundreds of masks, roughly for a handful;
    the standard error treats the run's selection of masks as given (docs/performance.md measures its
    calibration against maps from other seeds). Measured on a planted model (tests/test_standard_error.py): a
    false-discovery proportion of 3.9% on average over 40 runs at ``fdr=0.05``, and 2-6% of the marked pixels
    with the other sign in another seed's run (the per-pixel rule ``|z| >= 2``: 5-27%).

What it does not promise:
    - Nothing about any single feature: a marked pixel may be a false discovery; only the expected fraction is
      bounded. Nor is the family-wise error controlled (some false discoveries are expected in a large map).
    - Nothing about magnitude: a marked feature may matter very little, only its sign is established. An
      unmarked feature is not shown to be irrelevant: more masks may mark it.
    - RISE masks are spatially smooth, so neighbouring pixels' z-scores are strongly correlated. BH stays valid
      under the positive dependence this mostly gives, but "1000 marked pixels" is far fewer independent
      findings than 1000; and a feature beside a relevant region has a real, non-zero score (the masks couple
      it to its neighbours), which the rule rightly marks although the model may never look at that pixel.
    - The false-discovery rate is controlled per map: for K references, separately for each reference.

What a marked feature means, per estimator:
    - The paper's selection and the rank weightings: the sign of the feature's limit score, which is how strongly
      its mask value goes with the ranking. Masks that are smooth (images, time masks) or cover whole channels make
      a feature within about one mask cell of what the model reads carry a real score: a marked pixel means "the
      model reads this pixel or one within about a mask cell of it" (3 % of the marked pixels lie farther on a
      planted image model; on a 2-channel series, 67 % of the marked steps lie outside the read window and a mask
      cell, which is why series default to the regression).
    - ``weighting="regression"`` (:mod:`dianna_distance.regression`): the sign of the cell's partial effect on the
      distance, the other cells held: a marked cell is one whose being kept moves the distance, told apart from
      the cells masked with it (4 % outside the window and a mask cell on the same series; on tables exactly the
      read features up to the false-discovery rate). On a strongly non-linear image model it reaches farther (22 %
      beyond a mask cell), so images keep the paper's estimator by default.
    - A one-sided selection (one range switched off, ``min == max``): its map is a mean of masks, about ``p_keep``
      everywhere; the explainers test it against ``sum(weights)`` times the mean of all the run's masks (what it
      would be if the distances did not depend on the masks), not against 0.

Features with a standard error of 0 have the same value in every mask of each part of the selection (a word kept
by every one of the closest masks and dropped by every one of the farthest). A z-score cannot be formed from a
zero spread, but the spread is unknown, not zero: a handful of masks agree by chance. Such a feature is judged
with ``standard_error_floor`` instead, the standard error it would have if one mask of each part disagreed (see
:func:`standard_error_floor`); with hundreds of masks it is marked, with two or three masks per part it is not. A
score of 0 is never marked; a NaN score or standard error (a feature without a score) is never marked and not
counted among the tests.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, stdtr

from dianna_distance.checks import check_numeric_array, real_number

DEFAULT_FDR = 0.05


def check_fdr(fdr: object) -> float:
    """Check a false-discovery rate: a number in (0, 1); return it as a ``float``."""
    rate = real_number(fdr)
    if rate is None or not 0 < rate < 1:  # NaN is not in (0, 1)
        raise ValueError(f"fdr must be a number in (0, 1), the false-discovery rate, got {fdr!r}")
    return rate


def standard_error_floor(weights: np.ndarray) -> np.ndarray:
    """The standard error a feature would have if one mask of each part of the selection disagreed.

    Masks hold values in [0, 1]. If one of the ``n`` masks of a part has a feature's value 1 and the others 0,
    the variance estimate of that part's weighted sum (:func:`~dianna_distance.convergence.map_standard_error`)
    is about ``sum(w^2) / n`` (exactly ``1 / n^2`` for the paper's equal weights ``1/n``). The floor is the
    square root of the sum over both parts: for the paper's selection ``sqrt(1/|P|^2 + 1/|N|^2)``.

    Args:
        weights: ``(n_masks,)`` or ``(K, n_masks)`` mask weights.

    Returns:
        ``()`` or ``(K,)`` floors (0 for a map without weights; ``inf`` when a part has a single mask).
    """
    weights = np.asarray(weights, dtype=np.float64)
    rows = np.atleast_2d(weights)
    variance = np.zeros(len(rows))
    for part in (rows > 0, rows < 0):
        n = np.count_nonzero(part, axis=1)
        squares = np.sum(np.where(part, rows, 0.0) ** 2, axis=1)
        variance += np.where(n > 1, squares / np.maximum(n, 1), np.where(n == 1, np.inf, 0.0))
    floor = np.sqrt(variance)
    return floor[0] if weights.ndim == 1 else floor


def p_values(scores: np.ndarray, standard_error: np.ndarray, degrees_of_freedom: np.ndarray | None = None
             ) -> np.ndarray:
    """Two-sided p-values of ``scores / standard_error``: Student's t, or normal without degrees of freedom.

    A score of 0 has p-value 1 (also with a standard error of 0); NaN where the score or its error is NaN.
    """
    scores = np.asarray(scores, dtype=np.float64)
    standard_error = np.asarray(standard_error, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(scores) / standard_error
    z = np.where(scores == 0, 0.0, z)  # 0 / 0: no evidence
    p = 2 * (ndtr(-z) if degrees_of_freedom is None else stdtr(np.asarray(degrees_of_freedom, np.float64), -z))
    return np.where(np.isnan(scores) | np.isnan(standard_error), np.nan, np.minimum(p, 1.0))


def benjamini_hochberg(p: np.ndarray, fdr: float = DEFAULT_FDR) -> np.ndarray:
    """The Benjamini–Hochberg rejections of one family of p-values (NaN: not a test, never rejected).

    The ``k`` smallest p-values are rejected, with ``k`` the largest rank such that ``p_(k) <= k * fdr / m``,
    where ``m`` is the number of tests (non-NaN p-values).

    Args:
        p: p-values of any shape; one family.
        fdr: The false-discovery rate ``q``, in (0, 1).

    Returns:
        Boolean array of ``p``'s shape.
    """
    fdr = check_fdr(fdr)
    p = np.asarray(p, dtype=np.float64)
    flat = p.ravel()
    tested = np.flatnonzero(~np.isnan(flat))
    rejected = np.zeros(flat.shape, dtype=bool)
    if len(tested):
        order = tested[np.argsort(flat[tested], kind="stable")]
        thresholds = fdr * np.arange(1, len(order) + 1) / len(order)
        passing = np.flatnonzero(flat[order] <= thresholds)
        if len(passing):
            rejected[order[: passing[-1] + 1]] = True
    return rejected.reshape(p.shape)


def significant_features(
    scores: np.ndarray,
    standard_error: np.ndarray,
    fdr: float = DEFAULT_FDR,
    standard_error_floor: float | np.ndarray | None = None,
    n_maps: int | None = None,
    degrees_of_freedom: np.ndarray | None = None,
) -> np.ndarray:
    """The features whose sign a run establishes, with the false-discovery rate controlled (Benjamini–Hochberg).

    See the module's documentation for what the rule promises and what it does not.

    Args:
        scores: A map ``feature_shape``, or K maps ``(K, *feature_shape)`` (then give ``n_maps=K``).
        standard_error: The per-feature standard errors, the shape of ``scores``.
        fdr: The false-discovery rate ``q`` controlled across the features of each map, in (0, 1).
        standard_error_floor: Used where ``standard_error`` is 0: a number, or ``(K,)`` one per map. None: a
            feature with standard error 0 is not marked.
        n_maps: Number of maps K stacked along the first axis (each is its own family of tests); None: one map.
        degrees_of_freedom: Per-feature degrees of freedom of the t-statistics, the shape of ``scores``
            (:func:`~dianna_distance.convergence.map_with_uncertainty`); None: normal p-values.

    Returns:
        Boolean array of the shape of ``scores``: True where the feature's sign is established.
    """
    fdr = check_fdr(fdr)
    scores = check_numeric_array(scores, "scores").astype(np.float64)
    standard_error = check_numeric_array(standard_error, "standard_error").astype(np.float64)
    if scores.shape != standard_error.shape:
        raise ValueError(f"standard_error must have the shape of scores {scores.shape}, got {standard_error.shape}")
    if np.any(standard_error < 0):
        raise ValueError("standard_error must not be negative")
    if n_maps is not None and (scores.ndim < 1 or scores.shape[0] != n_maps):
        raise ValueError(f"scores must have n_maps={n_maps} maps along its first axis, got shape {scores.shape}")
    rows = scores.reshape(1 if n_maps is None else n_maps, -1)
    errors = standard_error.reshape(rows.shape)
    freedoms: list[np.ndarray | None] = [None] * len(rows)
    if degrees_of_freedom is not None:
        given = check_numeric_array(degrees_of_freedom, "degrees_of_freedom").astype(np.float64)
        if given.shape != scores.shape or np.any(given <= 0):
            raise ValueError(f"degrees_of_freedom must be positive numbers of the shape of scores {scores.shape}")
        freedoms = list(given.reshape(rows.shape))
    floor = np.inf if standard_error_floor is None else standard_error_floor  # inf: z = 0, never marked
    floors = np.broadcast_to(np.asarray(floor, dtype=np.float64), (len(rows),))
    if np.any(np.isnan(floors) | (floors < 0)):
        raise ValueError(f"standard_error_floor must be None or non-negative numbers, got {standard_error_floor!r}")
    marked = np.zeros(rows.shape, dtype=bool)
    for k, (row, error, floor, freedom) in enumerate(zip(rows, errors, floors, freedoms)):
        marked[k] = benjamini_hochberg(p_values(row, np.where(error == 0, floor, error), freedom), fdr)
    return marked.reshape(scores.shape)
