"""Evaluation on text: word-deletion curves (most positive first vs random) and seed spread across mask seeds."""

from __future__ import annotations

import numpy as np
import pytest
from test_text_explainer import TEXT, BagOfWords

from dianna_distance import TextDistanceExplainer
from dianna_distance.evaluation import SeedSpread, WordDeletion, word_deletion


@pytest.fixture
def model() -> BagOfWords:
    return BagOfWords(TEXT.split())


@pytest.fixture
def scores(model) -> np.ndarray:
    explainer = TextDistanceExplainer(n_masks=300, random_state=0, progress=False)
    return explainer.attribute(model, TEXT, model.vector("car"))


def test_deleting_the_most_positive_words_first_moves_away_faster_than_random(model, scores):
    result = word_deletion(model, TEXT, model.vector("car"), scores, random_state=0, progress=False)
    assert result.area_lodf > 0 > result.area_hidf
    assert result.words[result.order_lodf[0]] == "car"


def test_one_step_per_word_by_default_from_the_text_to_nothing(model, scores):
    result = word_deletion(model, TEXT, model.vector("car"), scores, n_random=3, random_state=0, progress=False)
    np.testing.assert_array_equal(result.boundaries, np.arange(8))
    np.testing.assert_allclose(result.fractions[[0, -1]], [0, 1])
    assert result.random.shape == (3, 8)
    assert result.texts_lodf[0] == TEXT and result.texts_lodf[-1] == ""
    assert "car" not in result.texts_lodf[1].split()


def test_all_curves_start_at_the_distance_of_the_whole_text_and_end_at_the_empty_text(model, scores):
    result = word_deletion(model, TEXT, model.vector("car"), scores, n_steps=3, random_state=0, progress=False)
    assert np.ptp([result.lodf[0], result.hidf[0], *result.random[:, 0]]) == 0
    assert np.ptp([result.lodf[-1], result.hidf[-1], *result.random[:, -1]]) == 0


def test_scores_of_the_wrong_length_are_rejected(model):
    with pytest.raises(ValueError, match=r"one value per word, shape \(7,\)"):
        word_deletion(model, TEXT, model.vector("car"), np.ones(5), progress=False)


def test_more_steps_than_words_are_rejected(model, scores):
    with pytest.raises(ValueError, match="n_steps must be at most the number of words"):
        WordDeletion(n_steps=9, progress=False)(model, TEXT, model.vector("car"), scores)


def test_reference_of_the_wrong_length_is_rejected(model, scores):
    with pytest.raises(ValueError, match="reference has length 3"):
        word_deletion(model, TEXT, np.ones(3), scores, progress=False)


def test_seed_spread_works_on_text_and_falls_with_more_masks(model):
    explainer = TextDistanceExplainer()
    result = SeedSpread(n_masks=[50, 800], n_seeds=4, explainer=explainer, random_state=0, progress=False)(
        model, TEXT, model.vector("car"))
    assert result.maps.shape == (2, 4, 7)
    assert result.spread[1] < result.spread[0]
