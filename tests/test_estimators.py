"""The regression estimator (``weighting="regression"``) and what significance means, on models whose answers are
known: planted linear effects in distance units, honest standard errors, correlated masks separated, maps from stored
embeddings, bad sizes refused; the significance targets of issue 24 on planted tables, series and images; a
one-sided selection's significance and ``reselect``'s false-discovery rate (issue 25)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from dianna_distance import DistanceExplainer, TabularDistanceExplainer, TimeSeriesDistanceExplainer


def first_coordinate(embeddings: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """A 'distance' that is the embedding's first coordinate: the regression's model is then exactly right."""
    return np.asarray(embeddings)[:, 0]


class LinearModel:
    """Embeds rows (B, F) as ``[row @ effects + noise, 1]`` and counts its calls."""

    def __init__(self, effects: np.ndarray, noise: float = 0.0, seed: int = 0) -> None:
        self.effects, self.noise, self.rng, self.calls = effects, noise, np.random.default_rng(seed), 0

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        batch = np.asarray(batch, dtype=np.float64)
        value = batch @ self.effects + self.noise * self.rng.normal(size=len(batch))
        return np.stack([value, np.ones(len(batch))], axis=1)


def table_explainer(**kwargs) -> TabularDistanceExplainer:
    kwargs = {"mask_type": 0.0, "n_masks": 400, "random_state": 0, "progress": False, "weighting": "regression",
              "distance": first_coordinate, "mask_pairs": None, **kwargs}  # independent masks (pairs: test_mask_pairs)
    return TabularDistanceExplainer(**kwargs)


def test_regression_recovers_planted_linear_effects_in_distance_units():
    effects = np.array([0.5, -0.2, 0.0, 0.0, 0.3, 0.0])
    # Features of value 1 masked to 0: keeping feature f adds effects[f] to the distance, so its score is -effects[f].
    scores = table_explainer().attribute(LinearModel(effects), np.ones(6), np.zeros(2))
    np.testing.assert_allclose(scores, -effects, atol=1e-9)


def test_ignored_features_score_about_zero_with_standard_errors_that_cover_them():
    effects = np.zeros(40)
    effects[:5] = 0.3
    z = []
    for seed in range(5):
        explainer = table_explainer(random_state=seed)
        explainer.attribute(LinearModel(effects, noise=0.5, seed=seed), np.ones(40), np.zeros(2))
        z.append(explainer.map_[5:] / explainer.standard_error_[5:])
        assert np.all(explainer.degrees_of_freedom_ == 400 - 40 - 1)
    z = np.concatenate(z)
    assert 0.8 < np.std(z) < 1.2  # an honest standard error: z-scores of ignored features spread as N(0, 1)
    assert np.mean(np.abs(z) > 1.96) < 0.1


def correlated_masks(n_masks: int, seed: int = 0) -> np.ndarray:
    """Masks whose feature 1 copies feature 0 in 80% of the masks; features 2-5 independent."""
    rng = np.random.default_rng(seed)
    masks = rng.random((n_masks, 6)) < 0.5
    copy = rng.random(n_masks) < 0.8
    masks[copy, 1] = masks[copy, 0]
    return masks


def test_regression_separates_features_the_masks_keep_together_where_the_paper_map_does_not():
    effects = np.array([0.5, 0.0, 0.0, 0.0, 0.0, 0.0])  # the model reads feature 0 only
    model, masks = LinearModel(effects, noise=0.05), correlated_masks(600)
    regression = table_explainer(n_masks=600, masks=masks)
    regression.attribute(model, np.ones(6), np.zeros(2))
    assert list(np.flatnonzero(regression.significant_)) == [0]
    paper = regression.reselect(weighting="ranges")
    assert regression.significant_[1] and paper[1] < -0.3  # the copy is marked by the paper's estimator


def test_reselect_gives_the_regression_map_from_stored_embeddings_without_model_calls():
    model = LinearModel(np.array([0.5, -0.2, 0.0, 0.3]), noise=0.1)
    explainer = table_explainer(weighting="ranges")
    explainer.attribute(model, np.ones(4), np.zeros(2))
    calls = model.calls
    reselected = explainer.reselect(weighting="regression")
    assert model.calls == calls
    direct = table_explainer().attribute(LinearModel(np.array([0.5, -0.2, 0.0, 0.3]), noise=0.1), np.ones(4),
                                         np.zeros(2))
    np.testing.assert_allclose(reselected, direct)
    assert explainer.weighting_ == "regression" and np.all(np.isfinite(explainer.standard_error_))


def test_too_few_masks_for_the_cells_are_refused_and_few_give_a_warning():
    model = LinearModel(np.ones(12))
    with pytest.raises(ValueError, match=r"regression.*12 cells.*more than 13 masks, got 10"):
        table_explainer(n_masks=10).attribute(model, np.ones(12), np.zeros(2))
    with pytest.warns(UserWarning, match="4 degrees of freedom: the scores are noisy"):
        table_explainer(n_masks=10).attribute(LinearModel(np.ones(5)), np.ones(5), np.zeros(2))


def test_a_feature_no_mask_masks_is_said_and_never_significant():
    masks = np.random.default_rng(0).random((200, 4)) < 0.5
    masks[:, 2] = True
    explainer = table_explainer(n_masks=200, masks=masks)
    with pytest.warns(UserWarning, match=r"do not separate 1 of 4 cells \(cell\(s\) 2\)"):
        explainer.attribute(LinearModel(np.array([0.5, 0.0, 0.4, 0.0]), noise=0.01), np.ones(4), np.zeros(2))
    assert np.isinf(explainer.standard_error_[2]) and not explainer.significant_[2]
    assert explainer.significant_[0]


def test_a_tolerance_run_with_regression_stops_at_the_tolerance():
    explainer = table_explainer(n_masks=50, tolerance=0.02, max_masks=2000)
    explainer.attribute(LinearModel(np.array([0.5, -0.2, 0.0, 0.3]), noise=0.2), np.ones(4), np.zeros(2))
    assert explainer.converged_ and explainer.n_masks_used_ < 2000
    assert np.mean(explainer.standard_error_) <= 0.02


# -- significance targets (issue 24): at most 10% of significant features outside what the model reads, power >= 0.5

def share_outside_and_power(significant: np.ndarray, read: np.ndarray, allowed: np.ndarray) -> tuple[float, float]:
    return (significant & ~allowed).sum() / max(significant.sum(), 1), (significant & read).sum() / read.sum()


def test_significant_table_features_are_the_planted_ones():
    rng = np.random.default_rng(0)
    background = rng.normal(size=(300, 12))
    projection = np.zeros((12, 5))
    projection[[1, 4, 7]] = rng.normal(size=(3, 5))
    model = lambda batch: np.asarray(batch) @ projection + 1.0  # noqa: E731
    read = np.isin(np.arange(12), [1, 4, 7])
    outside, power = [], []
    for item in range(4):
        explainer = TabularDistanceExplainer(training_data=background, random_state=item, progress=False)
        explainer.attribute(model, background[item], model(background[50 + item : 51 + item])[0])
        share, found = share_outside_and_power(explainer.significant_, read, read)
        outside.append(share)
        power.append(found)
    assert np.mean(outside) <= 0.1 and np.mean(power) >= 0.5


def window_model(batch: np.ndarray) -> np.ndarray:
    """Reads steps 40-59 of channel 0 only."""
    values = np.asarray(batch, dtype=np.float64)[:, 40:60, 0]
    projection = np.random.default_rng(3).normal(size=(20, 8)) / np.sqrt(20)
    return np.concatenate([np.tanh(values @ projection), np.ones((len(values), 1))], axis=1)


def test_significant_series_steps_lie_in_the_read_window_of_its_channel():
    series = np.random.default_rng(1).normal(size=(5, 64, 2)) + 1.0
    read = np.zeros((64, 2), bool)
    read[40:60, 0] = True
    allowed = np.zeros((64, 2), bool)
    allowed[40 - 11 : 60 + 11, 0] = True  # the window and one mask cell (64 / (feature_res - 2) steps) either side
    outside, power = [], []
    for item in range(4):
        explainer = TimeSeriesDistanceExplainer(random_state=item, progress=False)
        explainer.attribute(window_model, series[item], window_model(series[item + 1 : item + 2])[0])
        share, found = share_outside_and_power(explainer.significant_, read, allowed)
        outside.append(share)
        power.append(found)
    assert np.mean(outside) <= 0.1 and np.mean(power) >= 0.5


def test_significant_pixels_lie_in_the_read_block_and_one_mask_cell_around_it():
    rng = np.random.default_rng(4)
    projection = rng.normal(size=(8 * 12, 8)) / np.sqrt(96)
    images = rng.random((4, 32, 32, 1))

    def model(batch):
        values = np.asarray(batch, dtype=np.float64)[:, 8:16, 16:28, 0].reshape(len(batch), -1)
        return np.concatenate([np.tanh(3 * (values - 0.5) @ projection), np.ones((len(values), 1))], axis=1)

    read = np.zeros((32, 32), bool)
    read[8:16, 16:28] = True
    allowed = np.zeros((32, 32), bool)
    allowed[4:20, 12:32] = True  # one mask cell (32 / feature_res = 4 pixels) around the block
    outside, power = [], []
    for item in range(3):
        explainer = DistanceExplainer(axis_labels={2: "channels"}, random_state=item, progress=False)
        explainer.attribute(model, images[item], model(images[item + 1 : item + 2])[0])
        share, found = share_outside_and_power(explainer.significant_, read, allowed)
        outside.append(share)
        power.append(found)
    assert np.mean(outside) <= 0.1 and np.mean(power) >= 0.5


# -- issue 25: options mean what they say

def test_a_one_sided_selection_marks_the_read_features_not_every_feature():
    rng = np.random.default_rng(0)
    background = rng.normal(size=(300, 12))
    projection = np.zeros((12, 5))
    projection[[1, 4, 7]] = rng.normal(size=(3, 5))
    model = lambda batch: np.asarray(batch) @ projection + 1.0  # noqa: E731
    explainer = TabularDistanceExplainer(training_data=background, mask_type="mean", weighting="ranges",
                                         mask_selection_negative_range_min=1.0, random_state=0, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = explainer.attribute(model, background[0], model(background[50:51])[0])
    assert np.all(scores > 0.2)  # the one-sided map: about p_keep everywhere, more on features that pull closer
    ignored = ~np.isin(np.arange(12), [1, 4, 7])
    assert explainer.significant_[ignored].sum() <= 1
    assert explainer.significant_[[1, 4, 7]].any()


def test_reselect_keeps_the_false_discovery_rate_given_to_significance():
    explainer = table_explainer(weighting="ranges")
    explainer.attribute(LinearModel(np.array([0.5, -0.2, 0.0, 0.3]), noise=0.1), np.ones(4), np.zeros(2))
    explainer.significance(0.2)
    explainer.reselect(weighting="linear")
    assert explainer.fdr_ == 0.2
    explainer.reselect(weighting="regression")
    assert explainer.fdr_ == 0.2
