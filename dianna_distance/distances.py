"""Distances in the embedded space, and the ranking-based mask selection of the Distance Explainer."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from dianna_distance.checks import check_selection_range, warn

DistanceLike = str | Callable[[np.ndarray, np.ndarray], np.ndarray]


def cosine_distance(embeddings: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Cosine distance scaled to [0, 1]: ``(1 - cos) / 2``, computed as ``|u/|u| - v/|v||^2 / 4``.

    The two are equal for every pair of vectors, but the second does not cancel when ``u`` lies very close to
    the direction of ``v`` (a near-duplicate image): ``1 - cos`` loses every digit below float64's resolution of
    ``cos`` (about 1e-16), so nearly equal embeddings would get only a few distinct distances, while the
    difference of the unit vectors keeps its relative precision. An embedding of zero length has cosine 0 with
    everything (distance 0.5), as in scikit-learn.

    Args:
        embeddings: Array ``(N, D)``.
        reference: Array ``(D,)`` or ``(K, D)``.

    Returns:
        Distances ``(N,)`` for a ``(D,)`` reference, ``(K, N)`` for ``(K, D)``.
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    units, references = _unit_rows(embeddings), _unit_rows(np.atleast_2d(reference))
    zero = ~np.any(units != 0, axis=-1)
    distances = np.empty((len(references), len(units)))
    for k, unit_reference in enumerate(references):
        row = np.einsum("nd,nd->n", *(2 * [units - unit_reference])) / 4.0
        distances[k] = np.where(zero | (not np.any(unit_reference != 0)), 0.5, row)
    return distances[0] if reference.ndim == 1 else distances


def euclidean_distance(embeddings: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Euclidean distance.

    Args:
        embeddings: Array ``(N, D)``.
        reference: Array ``(D,)`` or ``(K, D)``.

    Returns:
        Distances ``(N,)`` for a ``(D,)`` reference, ``(K, N)`` for ``(K, D)``.
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    differences = embeddings - reference[..., None, :]
    # As for the cosine, scale before squaring so that large finite values cannot overflow.
    scale = np.max(np.abs(differences), axis=-1, keepdims=True)
    scale = np.where((scale == 0) | ~np.isfinite(scale), 1.0, scale)
    return np.linalg.norm(differences / scale, axis=-1) * scale[..., 0]


#: The distances known by name.
DISTANCES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "cosine": cosine_distance,
    "euclidean": euclidean_distance,
}


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    # Scale each row by its largest magnitude first, so that squares of large finite values cannot overflow.
    scale = np.max(np.abs(vectors), axis=-1, keepdims=True)
    scaled = vectors / np.where(scale == 0, 1.0, scale)
    norm = np.linalg.norm(scaled, axis=-1, keepdims=True)
    return scaled / np.where(norm == 0, 1.0, norm)


def get_distance(distance: DistanceLike) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Resolve a distance given by name (``"cosine"``, ``"euclidean"``) or as a callable.

    Args:
        distance: A name in :data:`DISTANCES` or a callable ``(embeddings (N, D), reference (D,)) -> (N,)``.

    Returns:
        The distance function.
    """
    if callable(distance):
        return distance
    if isinstance(distance, str) and distance in DISTANCES:
        return DISTANCES[distance]
    raise ValueError(f"distance must be one of {sorted(DISTANCES)} or a callable "
                     f"(embeddings (N, D), reference (D,)) -> (N,), got {distance!r}")


def compute_distances(embeddings: np.ndarray, references: np.ndarray, distance: DistanceLike) -> np.ndarray:
    """Distances of every embedding to every reference.

    Args:
        embeddings: Array ``(N, D)``.
        references: Array ``(K, D)``.
        distance: See :func:`get_distance`. Built-in distances are vectorised over references; a callable is
            called once per reference.

    Returns:
        Array ``(K, N)``.
    """
    function = get_distance(distance)
    if function in DISTANCES.values():
        distances = np.atleast_2d(function(embeddings, references))
    else:
        rows = []
        for reference in references:
            row = np.asarray(function(embeddings, reference))
            if row.shape != (len(embeddings),) or not (np.issubdtype(row.dtype, np.integer)
                                                       or np.issubdtype(row.dtype, np.floating)):
                raise ValueError(f"distance: the callable must return a real array of shape ({len(embeddings)},), "
                                 f"got {row.dtype} of shape {row.shape}")
            rows.append(row.astype(np.float64))
        distances = np.stack(rows)
    if not np.all(np.isfinite(distances)):
        raise ValueError("distance returned NaN or infinite values: the distances cannot be ranked")
    if function in DISTANCES.values():
        warn_unresolved(distances, embeddings, references, function)
    return distances


#: Relative resolution of the embeddings. Models compute in float32, whose rounding bounds what a distance can tell.
EMBEDDING_EPS = float(np.finfo(np.float32).eps)


def warn_unresolved(distances: np.ndarray, embeddings: np.ndarray, references: np.ndarray,
                    function: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
    """Warn when the distances of a reference spread no more than float32 rounding of the embeddings can move them.

    Such distances rank the masks by rounding noise: the map means nothing. The noise bound of a distance ``d``
    is ``2 eps sqrt(d) + eps^2`` for the cosine distance (unit vectors rounded to float32's ``eps``) and
    ``eps * max |embedding|`` for the euclidean one. Rows that are all equal are left to the explainer, which
    says that the model's output did not change.

    Args:
        distances: ``(K, N)``.
        embeddings: ``(N, D)``.
        references: ``(K, D)``.
        function: :func:`cosine_distance` or :func:`euclidean_distance`.
    """
    if distances.shape[1] < 3:
        return
    spread = np.ptp(distances, axis=1)
    if function is cosine_distance:
        noise = 2 * EMBEDDING_EPS * np.sqrt(distances.max(axis=1)) + EMBEDDING_EPS**2
    else:
        scale = max(float(np.max(np.abs(embeddings), initial=0)), float(np.max(np.abs(references), initial=0)))
        noise = np.full(len(distances), EMBEDDING_EPS * scale)
    unresolved = np.flatnonzero((spread > 0) & (spread <= noise))
    if len(unresolved):
        which = "" if len(distances) == 1 else f" of reference(s) {unresolved.tolist()}"
        warnings.warn(f"the distances{which} to the masked inputs spread no more than float32 rounding of the "
                      "embeddings can move them (the masked embeddings are nearly identical as seen from the "
                      "reference): the ranking of the masks, and so the map, is rounding noise", UserWarning,
                      stacklevel=4)


#: The weightings, how the masks enter the map. The paper's selection ``"ranges"``, the rank weights ``"linear"``
#: and ``"normal"`` (:func:`rank_weights`), and ``"regression"``, least squares of the distances on the masks
#: (:mod:`dianna_distance.regression`).
WEIGHTINGS = ("ranges", "linear", "normal", "regression")
#: The weightings whose map is ``weights @ masks`` with weights from the ranks (:func:`rank_weights`).
RANK_WEIGHTINGS = ("ranges", "linear", "normal")


def rank_weights(
    n_masks: int,
    weighting: str = "ranges",
    positive_range: tuple[float, float] = (0.0, 0.1),
    negative_range: tuple[float, float] = (0.9, 1.0),
) -> np.ndarray:
    """The weight of each rank (position in ascending distance order) in the map.

    Args:
        n_masks: Number of ranked masks.
        weighting: ``"ranges"`` (the paper's selection): ``1/|P|`` on the ranks in ``positive_range`` minus
            ``1/|N|`` on those in ``negative_range`` (an empty range contributes 0), so that ``weights @ masks``
            is the mean of the closest masks minus the mean of the farthest. ``"linear"``: ``0.5 - rank/(n-1)``
            (closest +0.5, farthest -0.5), the average of the mirror selections over all thresholds.
            ``"normal"``: normal scores of the ranks (Blom, ``-Phi^-1((rank + 5/8) / (n + 1/4))``). Both rank
            weightings are scaled so that the positive weights sum to 1, like the paper's positive mean; the
            ranges are ignored for them.
        positive_range: ``(min, max)`` fractions of the ranking averaged with weight +1 (``"ranges"`` only).
        negative_range: ``(min, max)`` fractions of the ranking averaged with weight -1 (``"ranges"`` only).

    Returns:
        Array ``(n_masks,)``: the weight of rank 0 (closest) to rank ``n_masks - 1`` (farthest).
    """
    if weighting == "ranges":
        weights = np.zeros(n_masks)
        for (low, high), sign in ((positive_range, 1.0), (negative_range, -1.0)):
            selected = selected_ranks(n_masks, low, high)
            count = len(range(n_masks)[selected])
            if count:
                weights[selected] += sign / count
        return weights
    if n_masks == 1:
        return np.zeros(1)
    ranks = np.arange(n_masks)
    if weighting == "linear":
        weights = 0.5 - ranks / (n_masks - 1)
    elif weighting == "normal":
        from scipy.special import ndtri

        weights = -ndtri((ranks + 0.625) / (n_masks + 0.25))
    else:
        raise ValueError(f"weighting must be one of {RANK_WEIGHTINGS} for rank weights, got {weighting!r}")
    return weights / weights[weights > 0].sum()


def selection_weights(distances: np.ndarray, weights_by_rank: np.ndarray) -> np.ndarray:
    """Give each mask the weight of its rank; masks with tied distances share their ranks' weights equally.

    Ranking is by ascending distance. A group of masks with equal distances occupies a block of ranks; each
    member gets the mean weight of that block. So the result does not depend on the order in which the masks
    were drawn, and equals plain rank weighting when there are no ties. (For ``"linear"`` this is weighting by
    average ranks.)

    Args:
        distances: Array ``(N,)``: the distance of each masked input's embedding to the reference.
        weights_by_rank: Array ``(N,)`` from :func:`rank_weights`.

    Returns:
        Array ``(N,)`` of mask weights; ``weights @ masks`` is the map.
    """
    order = np.argsort(distances, kind="stable")
    ordered = distances[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    if len(starts) == len(ordered):  # no ties
        shared = weights_by_rank
    else:
        sums = np.add.reduceat(weights_by_rank, starts)
        sizes = np.diff(np.r_[starts, len(ordered)])
        shared = np.repeat(sums / sizes, sizes)
    weights = np.empty(len(distances))
    weights[order] = shared
    return weights


def selected_ranks(n_masks: int, range_min: float, range_max: float) -> slice:
    """The ranks (positions in ascending distance order) that a selection range covers.

    Args:
        n_masks: Number of ranked masks.
        range_min: Lower end of the range, a fraction in [0, 1].
        range_max: Upper end of the range, a fraction in [0, 1].

    Returns:
        ``slice(int(n_masks * range_min), int(n_masks * range_max))``.
    """
    return slice(int(n_masks * range_min), int(n_masks * range_max))


def select_masks(
    distances: np.ndarray,
    positive_range: tuple[float, float],
    negative_range: tuple[float, float],
    weighting: str = "ranges",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank masks by distance and weight them; tied masks share their ranks' weights (:func:`selection_weights`).

    Args:
        distances: Array ``(N,)``: the distance of each masked image's embedding to the reference.
        positive_range: ``(min, max)`` fractions of the ranking averaged with weight +1.
        negative_range: ``(min, max)`` fractions of the ranking averaged with weight -1.
        weighting: See :func:`rank_weights`.

    Returns:
        ``(weights, positive_indices, negative_indices)``: ``weights`` ``(N,)`` (with ``"ranges"`` and no ties,
        ``1/|P|`` on the positive set minus ``1/|N|`` on the negative set, so ``weights @ masks`` is the mean
        positive mask minus the mean negative mask); the indices of the masks with positive and with negative
        weight, in ascending distance.
    """
    distances = np.asarray(distances, dtype=np.float64)
    weights = selection_weights(distances, rank_weights(len(distances), weighting, positive_range, negative_range))
    order = np.argsort(distances, kind="stable")
    return weights, order[weights[order] > 0], order[weights[order] < 0]


def check_selection(n_masks: int, ranges: tuple[float, float, float, float], weighting: object, distance: DistanceLike,
                     stacklevel: int = 4,
                     warn_empty: bool = True, used: bool = False) -> None:
    """Check the selection ranges, the weighting and the distance; warn about a range that selects no mask.

    Args:
        n_masks: The number of masks ranked.
        ranges: ``(min, max, negative_min, negative_max)``.
        weighting: One of :data:`WEIGHTINGS`.
        distance: See :func:`get_distance`.
        stacklevel: Of the warning.
        warn_empty: Warn about a range that selects no mask.
        used: ``n_masks`` is the number of masks a ``tolerance`` run used (named so in the warning).
    """
    if not isinstance(weighting, str) or weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    get_distance(distance)
    for name, (range_min, range_max) in (("mask_selection_range", ranges[:2]),
                                         ("mask_selection_negative_range", ranges[2:])):
        check_selection_range(range_min, range_max, name)
        ranks = selected_ranks(n_masks, range_min, range_max)
        if warn_empty and weighting == "ranges" and range_min < range_max and ranks.stop <= ranks.start:
            count = f"the {n_masks} masks the run used" if used else f"n_masks={n_masks}"
            warn(f"{name} [{range_min}, {range_max}) selects no masks out of {count}; it contributes 0 "
                 f"to the map", stacklevel=stacklevel)
