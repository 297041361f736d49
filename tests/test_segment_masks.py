"""The ``segments`` time-series masks (the default ``mask_kinds``): independent binary segments per channel, drawn
reproducibly, aligned with the regression's cells, and localising a planted local effect."""

from __future__ import annotations

import numpy as np

from dianna_distance import TimeSeriesDistanceExplainer
from dianna_distance.masks import BLOCK_SIZE
from dianna_distance.timeseries_masks import TimeSeriesMasks, segment_count, segment_of_step


def test_segment_masks_are_reproducible_by_random_state_and_block():
    whole = np.asarray(TimeSeriesMasks((64, 2), 2 * BLOCK_SIZE + 10, mask_kinds="segments", random_state=4))
    again = TimeSeriesMasks((64, 2), 2 * BLOCK_SIZE + 10, mask_kinds="segments", random_state=4)
    second_block = np.asarray(again[BLOCK_SIZE : 2 * BLOCK_SIZE])  # read without the first block
    np.testing.assert_array_equal(second_block, whole[BLOCK_SIZE : 2 * BLOCK_SIZE])
    other = np.asarray(TimeSeriesMasks((64, 2), 2 * BLOCK_SIZE + 10, mask_kinds="segments", random_state=5))
    assert not np.array_equal(other, whole)


def test_segment_masks_keep_about_p_keep_of_the_values():
    masks = np.asarray(TimeSeriesMasks((64, 2), 2000, p_keep=0.3, mask_kinds="segments", random_state=0))
    assert abs(masks.mean() - 0.3) < 0.02


def test_segment_masks_are_binary_constant_within_a_segment_and_independent_across_channels():
    masks = np.asarray(TimeSeriesMasks((64, 2), 500, mask_kinds="segments", random_state=1))
    n_segments = segment_count(64, 8)
    segments = segment_of_step(64, n_segments)
    assert masks.dtype == bool and n_segments == 16
    for segment in range(n_segments):
        steps = masks[:, segments == segment, :]
        assert np.all(steps == steps[:, :1, :])  # one value per segment and channel
    assert 0.4 < np.mean(masks[:, 0, 0] == masks[:, 0, 1]) < 0.6  # channels drawn independently


def test_the_regression_cells_are_exactly_the_segments_of_the_masks():
    explainer = TimeSeriesDistanceExplainer(n_masks=200, random_state=0, progress=False)
    cells = explainer._regression_cells((64, 2), 200)
    masks = np.asarray(TimeSeriesMasks((64, 2), 200, mask_kinds="segments", random_state=0))
    assert len(np.unique(cells)) == 2 * segment_count(64, 8)
    for cell in np.unique(cells):
        inside = masks[:, cells == cell]
        assert np.all(inside == inside[:, :1])  # every mask keeps or masks a cell whole


def test_a_planted_six_step_bump_is_where_the_default_map_pushes_away():
    rng = np.random.default_rng(0)
    projection = rng.normal(size=(64, 16)) * 0.1
    bump = slice(30, 36)

    def model(batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch)[..., 0]
        return np.concatenate([batch @ projection, np.tanh(batch[:, bump].mean(1, keepdims=True))], axis=1)

    series = rng.normal(size=(64, 1)) * 0.2
    reference = model(series[None])[0]
    bumped = series.copy()
    bumped[bump] += 2.0
    explainer = TimeSeriesDistanceExplainer(n_masks=200, random_state=0, progress=False, distance="euclidean")
    away = np.clip(-explainer.attribute(model, bumped, reference)[:, 0], 0, None)
    assert away[bump].sum() > 0.5 * away.sum()
