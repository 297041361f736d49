"""Paired masks (``mask_pairs``): complementary (fold-over) pairs and one-cell flips, drawn lazily and reproducibly,
fitted by the regression as within-pair differences, so that a feature the model ignores scores 0 (issue 24)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from dianna_distance import TabularDistanceExplainer, TimeSeriesDistanceExplainer
from dianna_distance.masks import BLOCK_SIZE, RiseMasks, WordMasks
from dianna_distance.timeseries_masks import TimeSeriesMasks, segment_count, segment_of_step


def planted_table(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Background rows, a linear embedding reading features 1, 4 and 7 of 12, a row and a reference."""
    rng = np.random.default_rng(seed)
    background = rng.normal(size=(100, 12))
    weight = np.zeros((12, 8))
    weight[[1, 4, 7]] = rng.normal(size=(3, 8))
    return background, weight, background[0], background[3] @ weight


def planted_scores(mask_pairs: str | None, seed: int, **kwargs) -> TabularDistanceExplainer:
    background, weight, row, reference = planted_table()
    explainer = TabularDistanceExplainer(training_data=background, n_masks=200, random_state=seed,
                                         mask_pairs=mask_pairs, progress=False, **kwargs)
    explainer.attribute(lambda batch: batch @ weight, row, reference)
    return explainer


IGNORED = [0, 2, 3, 5, 6, 8, 9, 10, 11]


def test_complement_pairs_keep_every_feature_the_other_mask_of_the_pair_masks():
    masks = np.asarray(WordMasks(9, 40, p_keep=0.9, random_state=0, pairing="complement"))
    np.testing.assert_array_equal(masks[1::2], ~masks[0::2])


def test_complement_pairs_of_image_masks_share_their_shift_and_sum_to_one():
    masks = np.asarray(RiseMasks((30, 30), 6, feature_res=5, random_state=0, pairing="complement"))
    np.testing.assert_allclose(masks[0::2] + masks[1::2], 1.0, atol=1e-6)


def test_flip_pairs_differ_in_one_feature_and_flip_every_feature_equally_often():
    masks = np.asarray(WordMasks(5, 2 * 5 * 40, p_keep=0.9, random_state=1, pairing="flip"))
    differ = masks[0::2] != masks[1::2]
    assert np.all(differ.sum(axis=1) == 1)
    np.testing.assert_array_equal(differ.sum(axis=0), 40)  # 40 rounds of the 5 features, each in its own order


def test_the_first_mask_of_each_pair_is_the_independent_mask_of_the_same_seed():
    paired = np.asarray(WordMasks(7, 600, p_keep=0.5, random_state=3, pairing="flip"))
    independent = np.asarray(WordMasks(7, 600, p_keep=0.5, random_state=3))
    np.testing.assert_array_equal(paired[0::2], independent[0::2])


def test_paired_masks_read_in_any_range_equal_those_of_a_whole_set():
    whole = np.asarray(TimeSeriesMasks((40, 2), 3 * BLOCK_SIZE, random_state=5, pairing="flip"))
    part = TimeSeriesMasks((40, 2), 3 * BLOCK_SIZE, random_state=5, pairing="flip")
    np.testing.assert_array_equal(part[BLOCK_SIZE + 7 : 2 * BLOCK_SIZE + 9], whole[BLOCK_SIZE + 7 : 2 * BLOCK_SIZE + 9])
    np.testing.assert_array_equal(part[[601, 3, 600]], whole[[601, 3, 600]])


def test_flip_series_pairs_differ_in_one_segment_of_one_channel():
    masks = np.asarray(TimeSeriesMasks((64, 2), 200, random_state=0, pairing="flip"))
    changed = masks[0::2] != masks[1::2]
    assert np.all(changed.any(axis=1).sum(axis=1) == 1)  # one channel
    assert np.all(changed.sum(axis=(1, 2)) == 4)  # one segment: 16 segments of 4 steps


def test_an_ignored_feature_scores_exactly_zero_with_flip_pairs_and_never_significant():
    explainer = planted_scores("flip", seed=0)
    np.testing.assert_allclose(explainer.map_[IGNORED], 0.0, atol=1e-12)
    assert not explainer.significant_[IGNORED].any()
    assert explainer.significant_[[1, 4, 7]].all()


def test_ignored_features_spread_far_less_with_flip_pairs_than_with_independent_masks():
    spread = {pairs: np.std([planted_scores(pairs, seed).map_[IGNORED] for seed in range(4)])
              for pairs in (None, "flip")}
    assert spread["flip"] < 1e-6 * spread[None]


def test_complement_pairs_free_main_effects_of_the_interactions_between_two_other_features():
    # distance = (kept 0) * (kept 1): one interaction. In a fold-over design, feature 2's score is free of it.
    def product(embeddings: np.ndarray, reference: np.ndarray) -> np.ndarray:
        return embeddings[:, 0] * embeddings[:, 1]

    scores = {}
    for pairs in (None, "complement"):
        explainer = TabularDistanceExplainer(mask_type=0.0, n_masks=200, random_state=2, p_keep=0.5,
                                             distance=product, mask_pairs=pairs, progress=False)
        scores[pairs] = explainer.attribute(lambda batch: batch, np.ones(6), np.zeros(6))
    np.testing.assert_allclose(scores["complement"][2:], 0.0, atol=1e-12)
    assert np.max(np.abs(scores[None][2:])) > 1e-3


def test_the_two_masks_of_a_pair_share_their_background_row():
    explainer = planted_scores("flip", seed=0, mask_type="sample")
    np.testing.assert_array_equal(explainer.background_rows_[0::2], explainer.background_rows_[1::2])


def test_paired_standard_errors_cover_the_noise_of_ignored_features():
    rng = np.random.default_rng(0)
    effects = np.zeros(20)
    effects[:3] = 0.3
    z = []
    for seed in range(20):
        explainer = TabularDistanceExplainer(mask_type=0.0, n_masks=400, random_state=seed, mask_pairs="flip",
                                             distance=lambda embeddings, reference: embeddings[:, 0],
                                             progress=False)
        explainer.attribute(lambda batch: (batch @ effects + 0.5 * rng.normal(size=len(batch)))[:, None],
                            np.ones(20), np.zeros(1))
        assert np.all(explainer.degrees_of_freedom_ == 200 - 20)  # a pair is one observation
        z.append(explainer.map_[3:] / explainer.standard_error_[3:])
    assert 0.85 < np.std(np.concatenate(z)) < 1.15  # 340 z-scores of ignored features: N(0, 1) within 0.15


def test_maps_from_embeddings_of_mask_ranges_equal_a_local_paired_run():
    background, weight, row, reference = planted_table()
    explainer = TabularDistanceExplainer(training_data=background, n_masks=300, random_state=4,
                                         mask_pairs="complement", progress=False)
    local = explainer.attribute(lambda batch: batch @ weight, row, reference)
    embeddings = np.concatenate([explainer.embed_masked(lambda batch: batch @ weight, row, start, stop)
                                 for start, stop in ((0, 123), (123, 300))])
    np.testing.assert_allclose(explainer.attribute_from_embeddings(row, embeddings, reference), local)
    with pytest.warns(UserWarning, match="independent"):  # a rank weighting's standard errors on pairs
        explainer.reselect(weighting="ranges")
    np.testing.assert_allclose(explainer.reselect(weighting="regression"), local)


def test_a_tolerance_run_with_pairs_stops_at_the_tolerance():
    background, weight, row, reference = planted_table()
    explainer = TabularDistanceExplainer(training_data=background, n_masks=100, random_state=0, mask_pairs="flip",
                                         tolerance=1e-3, max_masks=2000, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the first round's few pairs
        explainer.attribute(lambda batch: batch @ weight, row, reference)
    assert explainer.converged_ and explainer.n_masks_used_ % 2 == 0


def test_an_unknown_pairing_is_refused_naming_the_parameter():
    with pytest.raises(ValueError, match="mask_pairs must be 'auto', None"):
        TabularDistanceExplainer(mask_pairs="antithetic").check_parameters()


def test_an_odd_number_of_paired_masks_leaves_the_last_out_of_the_regression_with_a_warning():
    background, weight, row, reference = planted_table()
    maps = {}
    for n_masks in (200, 201):
        explainer = TabularDistanceExplainer(training_data=background, n_masks=n_masks, random_state=0,
                                             mask_pairs="flip", progress=False)
        if n_masks % 2:
            with pytest.warns(UserWarning, match="the last of the 201 masks has no partner"):
                maps[n_masks] = explainer.attribute(lambda batch: batch @ weight, row, reference)
        else:
            maps[n_masks] = explainer.attribute(lambda batch: batch @ weight, row, reference)
    np.testing.assert_allclose(maps[201], maps[200])


def test_pairs_of_series_masks_need_the_segments_masks():
    explainer = TimeSeriesDistanceExplainer(n_masks=100, mask_kinds="dianna", mask_pairs="flip", progress=False)
    with pytest.raises(ValueError, match="mask_kinds 'segments'"):
        explainer.attribute(lambda batch: batch.reshape(len(batch), -1), np.zeros((20, 1)), np.ones(20))


def test_tables_pair_their_masks_by_flips_by_default():
    background, weight, row, reference = planted_table()
    explainer = TabularDistanceExplainer(training_data=background, n_masks=200, random_state=0, progress=False)
    explainer.attribute(lambda batch: batch @ weight, row, reference)
    masks = np.asarray(explainer.masks_)
    assert np.all((masks[0::2] != masks[1::2]).sum(axis=1) == 1)
    np.testing.assert_allclose(explainer.map_[IGNORED], 0.0, atol=1e-12)


def test_series_pair_segments_masks_by_default_and_leave_other_kinds_independent():
    def embed(batch: np.ndarray) -> np.ndarray:
        return np.asarray(batch)[:, :, 0]

    series, reference = np.arange(20.0)[:, None], np.ones(20)
    segment = segment_of_step(20, segment_count(20, 8))
    one_segment = {}
    for kinds in ("auto", "dianna"):
        explainer = TimeSeriesDistanceExplainer(n_masks=100, mask_kinds=kinds, random_state=0, progress=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # few masks for the cells
            explainer.attribute(embed, series, reference)
        masks = np.asarray(explainer.masks_)[..., 0]
        changed = masks[0::2] != masks[1::2]
        one_segment[kinds] = np.mean([len(set(segment[row])) == 1 for row in changed])
    assert one_segment == {"auto": 1.0, "dianna": pytest.approx(0.0, abs=0.2)}


def test_a_rank_weighting_on_paired_masks_warns_that_its_standard_errors_assume_independent_masks():
    explainer = planted_scores("flip", seed=0)
    with pytest.warns(UserWarning, match="treat the masks as independent"):
        explainer.reselect(weighting="ranges")
