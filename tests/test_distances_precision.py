"""Cosine distances keep their precision next to the reference, and distances at rounding level are called noise."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from dianna_distance import DistanceExplainer, cosine_distance
from dianna_distance.distances import compute_distances


def near_duplicates(epsilon: float, n: int = 100, dim: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A unit reference v and embeddings v + epsilon * w_i with w_i orthogonal to v and |w_i| = 1 + i / 1000.

    Their exact distance is ``(1 - 1 / sqrt(1 + epsilon^2 |w_i|^2)) / 2``, increasing with i.
    """
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=dim)
    reference /= np.linalg.norm(reference)
    directions = rng.normal(size=(n, dim))
    directions -= np.outer(directions @ reference, reference)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    lengths = 1 + np.arange(n) / 1000
    return reference + epsilon * lengths[:, None] * directions, reference


def test_cosine_distance_of_near_duplicates_keeps_every_distinct_distance():
    embeddings, reference = near_duplicates(1e-7)
    lengths = 1 + np.arange(100) / 1000
    exact = (1e-7 * lengths) ** 2 / 4  # (1 - 1/sqrt(1 + x^2)) / 2 = x^2 / 4 - O(x^4), here to 1e-14 relative
    distances = cosine_distance(embeddings, reference)
    assert len(np.unique(distances)) == 100
    np.testing.assert_allclose(distances, exact, rtol=1e-6)
    np.testing.assert_array_equal(np.argsort(distances), np.arange(100))


def test_cosine_distance_still_equals_one_minus_cosine_over_two_far_from_the_reference():
    rng = np.random.default_rng(1)
    embeddings, reference = rng.normal(size=(50, 6)), rng.normal(size=(3, 6))
    cosines = (reference / np.linalg.norm(reference, axis=1, keepdims=True)) @ (
        embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)).T
    np.testing.assert_allclose(cosine_distance(embeddings, reference), (1 - cosines) / 2, atol=1e-15)
    assert cosine_distance(np.zeros((2, 6)), reference[0]).tolist() == [0.5, 0.5]


def test_distances_whose_spread_is_float32_rounding_are_called_noise():
    embeddings, reference = near_duplicates(1e-9)
    with pytest.warns(UserWarning, match="rounding noise"):
        compute_distances(embeddings, reference[None], "cosine")
    with pytest.warns(UserWarning, match="rounding noise"):
        compute_distances(reference + 1e-9 * np.arange(10)[:, None], reference[None], "euclidean")


def test_distances_that_spread_beyond_rounding_give_no_noise_warning():
    embeddings, reference = near_duplicates(1e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compute_distances(embeddings, reference[None], "cosine")
        compute_distances(embeddings, reference[None], "euclidean")


def test_an_explanation_whose_masks_barely_move_the_embedding_warns_that_the_map_is_noise():
    reference = np.array([1.0, 2.0, 3.0])

    def model(batch: np.ndarray) -> np.ndarray:  # the embedding moves by 1e-10 of its length under masking
        return reference + 1e-10 * batch.reshape(len(batch), -1).mean(axis=1, keepdims=True)

    explainer = DistanceExplainer(n_masks=50, random_state=0, progress=False)
    with pytest.warns(UserWarning, match="rounding noise"):
        explainer.attribute(model, np.ones((16, 16)), reference)
