"""Convergence: how much would a map vary between mask seeds, and embedding masks until it is small enough.

:func:`map_standard_error` estimates from a single run the per-pixel (per-feature) standard error of a map
``weights @ masks`` (the explainers' ``standard_error_``); :func:`estimate_map_spread` is its mean over features;
:func:`embed_until_converged` adds masks a round at a time until that mean falls to a tolerance. The explainers'
``tolerance`` option uses both; :class:`dianna_distance.evaluation.SeedSpread` measures the same spread across
seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from dianna_distance.checks import check_bool, check_finite_array, check_int, check_positive
from dianna_distance.distances import DistanceLike, compute_distances, get_distance, rank_weights, select_masks
from dianna_distance.masks import LazyMasks, MaskArray
from dianna_distance.regression import NOISY_RATIO, RegressionFit, paired_differences, pooled_design

#: A part's variance below this times sum(w^2) (mask values that agree to about 1e-5) counts as 0.
ROUNDING = 1e-10


def estimate_map_spread(masks: MaskArray, weights: np.ndarray) -> float:
    """Estimate from one run how much the map ``weights @ masks`` would vary per pixel between mask seeds.

    The mean over pixels (features) of :func:`map_standard_error`. A part with one mask gives an infinite
    estimate; an empty part contributes nothing.

    Args:
        masks: The run's masks, indexable like an array ``(n_masks, *feature_shape)``.
        weights: ``(n_masks,)`` or ``(K, n_masks)`` mask weights of the map(s).

    Returns:
        The estimate; for K maps, the largest of their K estimates.
    """
    standard_error = map_standard_error(masks, np.atleast_2d(weights))
    return float(np.max(standard_error.reshape(len(standard_error), -1).mean(axis=1)))


def map_standard_error(masks: MaskArray, weights: np.ndarray) -> np.ndarray:
    """The per-feature standard error of the map ``weights @ masks``: how much it would vary between mask seeds.

    The positive and the negative part of the map are weighted means of masks; the per-feature variance of a
    weighted mean ``sum(w_i m_i)`` with ``sum(w_i) = s`` is estimated as ``n/(n-1) * sum(w_i^2 (m_i - mean)^2)``
    with the weighted mean ``mean``. For the paper's selection (equal weights ``1/|P|`` and ``-1/|N|``) this is
    ``var_P / |P| + var_N / |N|`` (``ddof=1``). The standard error is the square root of the sum of both parts.
    The selection (which masks are in which part) is taken as given: the estimate is that of the spread of the
    weighted means, which measurements across seeds match closely (docs/performance.md).

    Args:
        masks: The run's masks, indexable like an array ``(n_masks, *feature_shape)``.
        weights: ``(n_masks,)`` or ``(K, n_masks)`` mask weights of the map(s).

    Returns:
        ``feature_shape`` (or ``(K, *feature_shape)``) standard errors: ``inf`` for a map one of whose parts has
        a single mask (its spread cannot be estimated), 0 where a feature's value is the same in every mask of
        each part (to about 1e-5, :data:`ROUNDING`).
    """
    return map_with_uncertainty(masks, weights).standard_error


class MapEstimate(NamedTuple):
    """A map with its per-feature uncertainty (:func:`map_with_uncertainty`); each field has the map's shape.

    Attributes:
        map: ``weights @ masks``.
        standard_error: See :func:`map_standard_error`.
        degrees_of_freedom: Welch–Satterthwaite degrees of freedom of ``map / standard_error`` (a difference of
            two weighted means, each with its effective number of masks ``sum(w)^2 / sum(w^2)``); where the
            standard error is 0, the pooled ``n_P + n_N - 2`` (effective numbers).
    """

    map: np.ndarray
    standard_error: np.ndarray
    degrees_of_freedom: np.ndarray


def map_with_uncertainty(masks: MaskArray, weights: np.ndarray, chunk_values: int = 2**20) -> MapEstimate:
    """The map ``weights @ masks``, its per-feature standard error and degrees of freedom, in one pass.

    Only the masks with a non-zero weight are generated, about ``chunk_values`` mask values at a time (the sums
    do not depend on how the masks were batched for the model).

    Args:
        masks: The run's masks, indexable like an array ``(n_masks, *feature_shape)``.
        weights: ``(n_masks,)`` or ``(K, n_masks)`` mask weights.
        chunk_values: About how many mask values are converted to float64 at a time (times the number of maps,
            up to 4).

    Returns:
        A :class:`MapEstimate`; each field ``feature_shape`` for 1-D weights, else ``(K, *feature_shape)``.
    """
    single = np.ndim(weights) == 1
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    feature_shape = tuple(masks.shape[1:])
    n_features = int(np.prod(feature_shape))
    parts = (np.where(weights > 0, weights, 0.0), np.where(weights < 0, weights, 0.0))
    k = len(weights)
    # Two matrix products per chunk of masks, whatever the number of maps (reading the masks is what takes the
    # time): sum(w m) (the map), and per part sum(w m), sum(w^2 m); then per part sum(w^2 d^2) with d = m - shift
    # (shift: the first mask used, against cancellation in the variance, which does not depend on it).
    linear_rows = np.concatenate([weights, parts[0], parts[1], parts[0] ** 2, parts[1] ** 2])
    square_rows = linear_rows[3 * k :]
    linear_sums, square_sums = np.zeros((5 * k, n_features)), np.zeros((2 * k, n_features))
    used = np.flatnonzero(np.any(weights != 0, axis=0))
    # Larger chunks for several maps: the sums (7K rows of features) are then updated less often.
    step = max(1, chunk_values * min(k, 4) // max(n_features, 1))
    shift = np.zeros(n_features)
    for start in range(0, len(used), step):
        indices = used[start : start + step]
        values = np.asarray(masks[indices], dtype=np.float64).reshape(len(indices), -1)
        if start == 0:
            shift = values[0].copy()
        linear_sums += linear_rows[:, indices] @ values
        values -= shift
        square_sums += square_rows[:, indices] @ values**2
    maps = linear_sums[:k]
    sums = [(linear_sums[(1 + j) * k : (2 + j) * k], linear_sums[(3 + j) * k : (4 + j) * k],
             square_sums[j * k : (j + 1) * k]) for j in range(2)]
    variance = np.zeros((len(weights), n_features))
    df_denominator = np.zeros((len(weights), n_features))
    pooled_df = np.zeros((len(weights), 1))
    for part, (first, second, square) in zip(parts, sums):
        n = np.count_nonzero(part, axis=1)[:, None]
        total, total_squares = part.sum(axis=1)[:, None], (part**2).sum(axis=1)[:, None]
        first, second = first - total * shift, second - total_squares * shift  # sums of w d, w^2 d
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(n > 0, first / np.where(n > 0, total, 1.0), 0.0)
            part_variance = (square - 2 * mean * second + mean**2 * total_squares) * n / np.maximum(n - 1, 1)
            effective = np.where(n > 0, total**2 / np.where(n > 0, total_squares, 1.0), 0.0)
        # Values that agree within a part to about 1e-5 (rounding of the sums above) have variance 0.
        part_variance = np.where(part_variance <= ROUNDING * total_squares, 0.0, part_variance)
        part_variance = np.where(n > 1, np.maximum(part_variance, 0.0), np.where(n == 1, np.inf, 0.0))
        variance += part_variance
        with np.errstate(invalid="ignore"):
            df_denominator += np.where(n > 1, part_variance**2 / np.maximum(effective - 1, 1e-12), 0.0)
        pooled_df += np.where(n > 1, effective - 1, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        degrees_of_freedom = np.where(variance > 0, variance**2 / df_denominator, pooled_df)
    degrees_of_freedom = np.where(np.isfinite(degrees_of_freedom) & (degrees_of_freedom > 0), degrees_of_freedom,
                                  np.maximum(pooled_df, 1.0))
    shape = (len(weights), *feature_shape)
    fields = (maps.reshape(shape), np.sqrt(variance).reshape(shape), degrees_of_freedom.reshape(shape))
    return MapEstimate(*(field[0] for field in fields)) if single else MapEstimate(*fields)


def mask_mean(masks: MaskArray, chunk: int = 256) -> np.ndarray:
    """The mean of the masks, ``feature_shape``, read a chunk at a time: a one-sided selection's map without effect.

    A map ``weights @ masks`` whose weights do not sum to 0 (one selection range switched off) is, when the
    distances do not depend on the masks, about ``sum(weights)`` times this; the explainers test it against that.
    """
    total = np.zeros(tuple(masks.shape[1:]))
    for start in range(0, len(masks), chunk):
        total += np.asarray(masks[start : start + chunk], dtype=np.float64).sum(axis=0)
    return total / max(len(masks), 1)


def estimate_pixel_spread(masks: MaskArray, positive_indices: np.ndarray, negative_indices: np.ndarray) -> float:
    """Estimate the per-pixel spread of the paper's map (mean of positive masks minus mean of negative masks).

    The standard error is ``sqrt(var_P / |P| + var_N / |N|)`` per pixel (``ddof=1`` variances of the mask values
    within each set), averaged over pixels: :func:`estimate_map_spread` with equal weights.

    Args:
        masks: The run's masks, indexable like an array ``(n_masks, H, W)`` (e.g. ``explainer.masks_``).
        positive_indices: ``(|P|,)`` mask indices of the positive selection, or ``(K, |P|)`` for K references.
        negative_indices: ``(|N|,)`` or ``(K, |N|)``, likewise.

    Returns:
        The estimate; for K references, the largest of their K estimates.
    """
    positive, negative = np.atleast_2d(positive_indices), np.atleast_2d(negative_indices)
    weights = np.zeros((len(positive), len(masks)))
    for row, pos, neg in zip(weights, positive, negative):
        if len(pos):
            row[pos] = 1.0 / len(pos)
        if len(neg):
            row[neg] = -1.0 / len(neg)
    return estimate_map_spread(masks, weights)


@dataclass
class ConvergenceResult:
    """Outcome of :func:`embed_until_converged`.

    Attributes:
        n_masks: Number of masks used (embedded): the first ``n_masks`` of the given masks.
        embeddings: ``(n_masks, D)`` embeddings of the masked inputs.
        converged: Whether the estimated spread fell to ``tolerance`` (False: the masks ran out first).
        mask_counts: ``(rounds,)`` number of masks after each round.
        spreads: ``(rounds,)`` estimated per-pixel spread (:func:`estimate_map_spread`) after each round.
    """

    n_masks: int
    embeddings: np.ndarray
    converged: bool
    mask_counts: np.ndarray
    spreads: np.ndarray


def embed_until_converged(
    embed: Callable[[np.ndarray], np.ndarray],
    masks: MaskArray,
    references: np.ndarray,
    tolerance: float,
    step: int,
    distance: DistanceLike = "cosine",
    positive_range: tuple[float, float] = (0.0, 0.1),
    negative_range: tuple[float, float] = (0.9, 1.0),
    progress: bool = True,
    weighting: str = "ranges",
    cells: np.ndarray | None = None,
    paired: bool = False,
) -> ConvergenceResult:
    """Embed masked inputs a round of masks at a time until the map's estimated spread is small enough.

    After every round of ``step`` masks, the masks so far are ranked and weighted as the explainer does
    (:func:`~dianna_distance.distances.select_masks`) and the map's per-pixel spread is estimated with
    :func:`estimate_map_spread`; the loop stops when it is at most ``tolerance`` or when ``masks`` run out. Masks
    are taken from ``masks`` in order, and only those used are generated (for a lazy mask set).

    Args:
        embed: Callable mapping a batch of masks ``(k, ...)`` (float32; or the index range ``masks[a:b]``) to the
            embeddings ``(k, D)`` of the input masked by them.
        masks: The masks available, indexable like an array ``(max_masks, ...)``.
        references: Reference embeddings ``(K, D)`` (or ``(D,)``); the largest of their spreads counts.
        tolerance: Stop when the estimated spread is at most this.
        step: Masks per round.
        distance: See :func:`~dianna_distance.distances.get_distance`.
        positive_range: ``(min, max)`` fractions of the ranking in the positive selection.
        negative_range: ``(min, max)`` fractions of the ranking in the negative selection.
        progress: Show a progress bar.
        weighting: See :func:`~dianna_distance.distances.rank_weights`, or ``"regression"``
            (:mod:`dianna_distance.regression`; its spread is the mean standard error of its coefficients, and a
            round is judged only once there are more masks than twice the cells).
        cells: With ``"regression"``: the cell of each feature (int ``feature_shape``).
        paired: With ``"regression"``: the masks are pairs (``mask_pairs``), fitted as differences.

    Returns:
        A :class:`ConvergenceResult`.
    """
    check_positive(tolerance, "tolerance")
    check_int(step, "step", minimum=1)
    references = np.atleast_2d(check_finite_array(references, "references"))
    get_distance(distance)
    regression = weighting == "regression"
    if regression:
        if cells is None:
            raise ValueError("weighting='regression' needs the cells of the features (cells)")
        cell_labels = np.asarray(cells)
        n_cells = int(np.max(cell_labels)) + 1
    else:
        rank_weights(1, weighting)
    check_bool(progress, "progress")
    chunks, counts, spreads = [], [], []
    n_used, spread = 0, float("inf")
    with tqdm(total=len(masks), desc="Explaining", unit="mask", disable=not progress) as bar:
        while n_used < len(masks) and spread > tolerance:
            batch = np.asarray(masks[n_used : n_used + step], dtype=np.float32)
            chunks.append(np.asarray(embed(batch), dtype=np.float64))
            n_used += len(batch)
            distances = compute_distances(np.concatenate(chunks), references, distance)
            if regression:
                spread = float("inf")
                if n_used >= NOISY_RATIO * (n_cells + 1) * (2 if paired else 1):
                    design = pooled_design(masks.head(n_used) if isinstance(masks, LazyMasks) else masks[:n_used],
                                           cell_labels)
                    if paired:
                        design, distances = paired_differences(design, distances)
                    errors = RegressionFit(design, intercept=not paired).fit(distances)[1]
                    errors = errors[:, np.all(np.isfinite(errors), axis=0)]
                    spread = float(np.max(errors.mean(axis=1))) if errors.size else float("inf")
            else:
                weights = np.stack([select_masks(row, positive_range, negative_range, weighting)[0]
                                    for row in distances])
                spread = estimate_map_spread(masks, weights)
            counts.append(n_used)
            spreads.append(spread)
            bar.update(len(batch))
            bar.set_postfix(spread=f"{spread:.4f}")
    return ConvergenceResult(n_masks=n_used, embeddings=np.concatenate(chunks), converged=spread <= tolerance,
                             mask_counts=np.array(counts), spreads=np.array(spreads))

