"""Convergence: how much would a map vary between mask seeds, and embedding masks until it is small enough.

:func:`estimate_map_spread` estimates from a single run the per-pixel (per-feature) standard error of a map
``weights @ masks``; :func:`embed_until_converged` adds masks a round at a time until that estimate falls to a
tolerance. The explainers' ``tolerance`` option uses both; :class:`dianna_distance.evaluation.SeedSpread`
measures the same spread across seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from dianna_distance.checks import check_bool, check_finite_array, check_int, check_positive
from dianna_distance.distances import DistanceLike, compute_distances, get_distance, rank_weights, select_masks


def estimate_map_spread(masks: Any, weights: np.ndarray) -> float:
    """Estimate from one run how much the map ``weights @ masks`` would vary per pixel between mask seeds.

    The positive and the negative part of the map are weighted means of masks; the per-pixel variance of a
    weighted mean ``sum(w_i m_i)`` with ``sum(w_i) = s`` is estimated as ``n/(n-1) * sum(w_i^2 (m_i - mean)^2)``
    with the weighted mean ``mean``. For the paper's selection (equal weights ``1/|P|`` and ``-1/|N|``) this is
    ``var_P / |P| + var_N / |N|`` (``ddof=1``). The estimate is the mean over pixels of the square root of the
    sum of both parts. A part with one mask gives an infinite estimate; an empty part contributes nothing.

    Args:
        masks: The run's masks, indexable like an array ``(n_masks, *feature_shape)``.
        weights: ``(n_masks,)`` or ``(K, n_masks)`` mask weights of the map(s).

    Returns:
        The estimate; for K maps, the largest of their K estimates.
    """
    estimates = []
    for row in np.atleast_2d(weights):
        variance = 0.0
        for part in (row > 0, row < 0):
            indices = np.flatnonzero(part)
            if len(indices) == 1:
                return float("inf")
            if len(indices):
                variance = variance + _weighted_mean_variance(masks, indices, row[indices])
        estimates.append(float(np.mean(np.sqrt(np.maximum(variance, 0.0)))))
    return max(estimates)


def _weighted_mean_variance(masks: Any, indices: np.ndarray, weights: np.ndarray, chunk: int = 64) -> np.ndarray:
    """``n/(n-1) * sum(w_i^2 (m_i - mean)^2)`` per pixel, over masks generated a chunk at a time."""
    shift = None  # the first mask: values are summed relative to it, against cancellation
    first = second = square = 0.0  # sum(w d), sum(w^2 d), sum(w^2 d^2) with d = m - shift
    for start in range(0, len(indices), chunk):
        w = weights[start : start + chunk]
        values = np.asarray(masks[indices[start : start + chunk]], dtype=np.float64).reshape(len(w), -1)
        shift = values[0].copy() if shift is None else shift
        values -= shift
        first = first + w @ values
        second = second + (w**2) @ values
        square = square + (w**2) @ values**2
    mean = first / weights.sum()
    n = len(indices)
    return (square - 2 * mean * second + mean**2 * np.sum(weights**2)) * n / (n - 1)


def estimate_pixel_spread(masks: Any, positive_indices: np.ndarray, negative_indices: np.ndarray) -> float:
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
    embed: Callable[[Any], np.ndarray],
    masks: Any,
    references: np.ndarray,
    tolerance: float,
    step: int,
    distance: DistanceLike = "cosine",
    positive_range: tuple[float, float] = (0.0, 0.1),
    negative_range: tuple[float, float] = (0.9, 1.0),
    progress: bool = True,
    weighting: str = "ranges",
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
        weighting: See :func:`~dianna_distance.distances.rank_weights`.

    Returns:
        A :class:`ConvergenceResult`.
    """
    check_positive(tolerance, "tolerance")
    check_int(step, "step", minimum=1)
    references = np.atleast_2d(check_finite_array(references, "references"))
    get_distance(distance)
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
            weights = np.stack([select_masks(row, positive_range, negative_range, weighting)[0]
                                for row in distances])
            spread = estimate_map_spread(masks, weights)
            counts.append(n_used)
            spreads.append(spread)
            bar.update(len(batch))
            bar.set_postfix(spread=f"{spread:.4f}")
    return ConvergenceResult(n_masks=n_used, embeddings=np.concatenate(chunks), converged=spread <= tolerance,
                             mask_counts=np.array(counts), spreads=np.array(spreads))
