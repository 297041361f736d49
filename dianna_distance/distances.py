"""Distances in the embedded space, and the ranking-based mask selection of the Distance Explainer."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DistanceLike = str | Callable[[np.ndarray, np.ndarray], np.ndarray]


def cosine_distance(embeddings: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Cosine distance scaled to [0, 1]: ``(1 - cos) / 2``.

    An embedding of zero length has cosine 0 with everything (distance 0.5), as in scikit-learn.

    Args:
        embeddings: Array ``(N, D)``.
        reference: Array ``(D,)`` or ``(K, D)``.

    Returns:
        Distances ``(N,)`` for a ``(D,)`` reference, ``(K, N)`` for ``(K, D)``.
    """
    embeddings = _unit_rows(np.asarray(embeddings, dtype=np.float64))
    reference = np.asarray(reference, dtype=np.float64)
    distances = (1.0 - _unit_rows(np.atleast_2d(reference)) @ embeddings.T) / 2.0
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
    return np.linalg.norm(embeddings - reference[..., None, :], axis=-1)


DISTANCES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "cosine": cosine_distance,
    "euclidean": euclidean_distance,
}


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norm == 0, 1.0, norm)


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
        return np.atleast_2d(function(embeddings, references))
    rows = []
    for reference in references:
        row = np.asarray(function(embeddings, reference), dtype=np.float64)
        if row.shape != (len(embeddings),):
            raise ValueError(f"distance callable must return an array of shape ({len(embeddings)},), "
                             f"got shape {row.shape}")
        rows.append(row)
    return np.stack(rows)


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
    distances: np.ndarray, positive_range: tuple[float, float], negative_range: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank masks by distance and select the positive (closest) and negative (farthest) sets.

    Args:
        distances: Array ``(N,)``: the distance of each masked image's embedding to the reference.
        positive_range: ``(min, max)`` fractions of the ranking averaged with weight +1.
        negative_range: ``(min, max)`` fractions of the ranking averaged with weight -1.

    Returns:
        ``(weights, positive_indices, negative_indices)``: ``weights`` ``(N,)`` is ``1/|P|`` on the positive set
        minus ``1/|N|`` on the negative set, so ``weights @ masks`` is the mean positive mask minus the mean
        negative mask (an empty set contributes 0); the index arrays list mask indices in ascending distance.
    """
    order = np.argsort(distances, kind="stable")
    positive = order[selected_ranks(len(order), *positive_range)]
    negative = order[selected_ranks(len(order), *negative_range)]
    weights = np.zeros(len(order))
    if len(positive):
        np.add.at(weights, positive, 1.0 / len(positive))
    if len(negative):
        np.add.at(weights, negative, -1.0 / len(negative))
    return weights, positive, negative
