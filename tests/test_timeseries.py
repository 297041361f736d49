"""The time-series Distance Explainer on models whose right answers are known: DIANNA's RISE time-series masks,
masked values, the map's shape, K references, batch sizes, reselect, tolerance, DIANNA's entry points, an ONNX
model, and every bad input."""

from __future__ import annotations

from pathlib import Path

import dianna
import numpy as np
import pytest

from dianna_distance import TimeSeriesDistanceExplainer, explain_timeseries_distance
from dianna_distance.timeseries_masks import TimeSeriesMasks

T, C = 60, 3
WINDOW, CHANNEL = slice(20, 30), 1  # the values the planted model looks at
SEASON_MODEL = Path(dianna.__file__).parent / "models" / "season_prediction_model_temp_max_binary.onnx"


class WindowModel:
    """Embeds series (B, T, C) from the values in WINDOW of channel CHANNEL only, plus a constant component."""

    def __init__(self, seed: int = 0) -> None:
        self.projection = np.random.default_rng(seed).normal(size=(WINDOW.stop - WINDOW.start, 7))
        self.batches: list[np.ndarray] = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch)
        self.batches.append(batch.copy())
        return np.concatenate([batch[:, WINDOW, CHANNEL] @ self.projection, np.ones((len(batch), 1))], axis=1)


@pytest.fixture
def series() -> np.ndarray:
    return np.random.default_rng(1).normal(size=(T, C)) + 2.0


@pytest.fixture
def model() -> WindowModel:
    return WindowModel()


def explain(model, series, reference=None, **kwargs):
    kwargs = {"n_masks": 400, "random_state": 0, "progress": False, **kwargs}
    explainer = TimeSeriesDistanceExplainer(**kwargs)
    reference = model(series[None])[0] if reference is None else reference
    return explainer, explainer.attribute(model, series, reference)


# -- the map --------------------------------------------------------------------------------------------------------


def test_the_planted_window_and_channel_hold_most_of_the_attribution(model, series):
    _, scores = explain(model, series, n_masks=1000)
    assert scores.shape == (T, C)
    # Along time: the window (10 of 60 steps) holds most of the score above the map's median.
    profile = scores.sum(axis=1)
    above = np.clip(profile - np.median(profile), 0, None)
    assert above[WINDOW].sum() > 0.5 * above.sum()
    # Across channels: the planted channel is the only one whose presence brings the series closer; the regression
    # (the default) separates the channels, so the others score about 0.
    by_channel = scores.mean(axis=0)
    assert by_channel[CHANNEL] > 0 and np.all(np.abs(np.delete(by_channel, CHANNEL)) < 0.2 * by_channel[CHANNEL])
    step, channel = np.unravel_index(np.argmax(scores), scores.shape)
    assert WINDOW.start <= step < WINDOW.stop and channel == CHANNEL


def test_a_univariate_series_gets_a_map_over_its_time_steps(model):
    univariate = np.random.default_rng(2).normal(size=(T, 1)) + 2
    single = WindowModel()
    single_model = lambda batch: single(np.repeat(batch, C, axis=2))  # noqa: E731 (the window of its one channel)
    _, scores = explain(single_model, univariate)
    assert scores.shape == (T, 1)
    assert WINDOW.start <= int(np.argmax(scores[:, 0])) < WINDOW.stop


def test_k_references_give_the_maps_of_k_single_runs(model, series):
    references = np.stack([model(series[None])[0], model(series[::-1][None].copy())[0]])
    _, both = explain(model, series, references)
    assert both.shape == (2, T, C)
    for k in range(2):
        np.testing.assert_allclose(both[k], explain(model, series, references[k])[1])


def test_the_map_does_not_depend_on_the_batch_size(model, series):
    _, small = explain(model, series, batch_size=7)
    _, large = explain(model, series, batch_size=400)
    np.testing.assert_allclose(small, large, atol=1e-15)  # segments the model ignores: 0 up to rounding


def test_reselect_gives_the_map_of_a_run_with_the_new_ranges_without_the_model(model, series):
    explainer, _ = explain(model, series)
    calls = len(model.batches)
    reselected = explainer.reselect(mask_selection_range_max=0.3)
    assert len(model.batches) == calls
    np.testing.assert_allclose(reselected, explain(model, series, mask_selection_range_max=0.3)[1])


def test_tolerance_adds_rounds_of_masks_until_the_spread_is_reached(model, series):
    # DIANNA's smooth masks: on this linear model the default segments masks meet the tolerance in the first round
    explainer, scores = explain(model, series, n_masks=100, tolerance=0.06, max_masks=3000, mask_kinds="dianna")
    assert explainer.converged_ is True
    assert explainer.n_masks_used_ % 100 == 0 and explainer.n_masks_used_ > 100
    assert np.mean(explainer.standard_error_) <= 0.06 + 1e-12
    assert scores.shape == (T, C)


def test_standard_error_and_significance_have_the_maps_shape_and_find_the_window(model, series):
    explainer, _ = explain(model, series, n_masks=1000)
    assert explainer.standard_error_.shape == explainer.significant_.shape == (T, C)
    assert np.all(np.isfinite(explainer.standard_error_)) and np.all(explainer.standard_error_ >= 0)
    assert explainer.significant_[WINDOW, CHANNEL].mean() > 0.5


def test_random_state_fixes_the_map(model, series):
    np.testing.assert_array_equal(explain(model, series)[1], explain(model, series)[1])
    assert not np.array_equal(explain(model, series)[1], explain(model, series, random_state=1)[1])


def test_embed_masked_in_pieces_and_attribute_from_embeddings_give_the_local_map(model, series):
    explainer, scores = explain(model, series)
    pieces = [explainer.embed_masked(model, series, start, stop) for start, stop in ((0, 150), (150, 400))]
    split = explainer.attribute_from_embeddings(series, np.concatenate(pieces), model(series[None])[0])
    np.testing.assert_allclose(split, scores)


# -- masks and masked values ----------------------------------------------------------------------------------------


def _runs(mask: np.ndarray) -> int:
    """Number of runs of masked (False) steps in a 1-D mask."""
    masked = ~mask
    return int(masked[0]) + int(np.sum(masked[1:] & ~masked[:-1]))


def test_time_masks_mask_groups_of_adjacent_steps_as_dianna_does():
    from dianna.utils.maskers import generate_time_series_masks

    np.random.seed(0)
    theirs = generate_time_series_masks((28, 1), 500, feature_res=8, p_keep=0.5)[..., 0]
    ours = np.asarray(TimeSeriesMasks((28, 1), 500, 8, 0.5, mask_kinds="dianna", random_state=0))[..., 0]
    assert ours.dtype == theirs.dtype == bool
    assert np.array_equal(np.sort(np.unique((~ours).sum(1))), np.sort(np.unique((~theirs).sum(1))))  # 14 each
    our_runs, their_runs = [np.mean([_runs(m) for m in masks]) for masks in (ours, theirs)]
    assert abs(our_runs - their_runs) < 0.15 * their_runs
    np.testing.assert_allclose(ours.mean(0), theirs.mean(0), atol=0.1)  # every step masked about as often


def test_several_channels_get_time_channel_and_combined_masks_in_equal_shares():
    masks = np.asarray(TimeSeriesMasks((40, 4), 255, mask_kinds="dianna", random_state=0))  # kinds take turns
    whole_steps = np.all(masks == masks[:, :, :1], axis=2).all(1)  # time masks: every channel alike
    whole_channels = np.all(masks == masks[:, :1, :], axis=1).all(1)  # channel masks: every step alike
    assert np.all(whole_steps[0::3]) and np.all(whole_channels[1::3])
    assert not np.any(whole_steps[2::3] | whole_channels[2::3])  # combined: neither
    assert abs(masks.mean() - 0.5) < 0.02


def test_masks_drawn_in_pieces_are_the_masks_of_the_whole_set():
    whole = np.asarray(TimeSeriesMasks((30, 2), 600, random_state=3))
    pieces = TimeSeriesMasks((30, 2), 600, random_state=3)
    np.testing.assert_array_equal(pieces[500:600], whole[500:600])
    np.testing.assert_array_equal(np.asarray(TimeSeriesMasks((30, 2), 300, random_state=3)), whole[:300])


def test_masked_values_become_the_series_mean_by_default_as_in_dianna(model, series):
    explain(model, series, n_masks=20)
    batch = model.batches[-1]
    masks = np.asarray(TimeSeriesMasks(series.shape, 20, random_state=0, pairing="flip"))  # the default mask_pairs
    np.testing.assert_allclose(batch[masks], np.broadcast_to(series, batch.shape)[masks], rtol=1e-6)
    np.testing.assert_allclose(batch[~masks], np.float32(series.mean()), rtol=1e-6)


def test_mask_type_may_be_a_constant_or_a_callable_with_one_value_per_channel(model, series):
    explain(model, series, n_masks=20, mask_type=-5.0)
    masks = np.asarray(TimeSeriesMasks(series.shape, 20, random_state=0, pairing="flip"))  # the default mask_pairs
    assert np.all(model.batches[-1][~masks] == -5)
    explain(model, series, n_masks=20, mask_type=lambda s: s.mean(axis=0))
    fill = np.broadcast_to(series.mean(axis=0), (20, T, C))
    np.testing.assert_allclose(model.batches[-1][~masks], fill[~masks], rtol=1e-6)


# -- DIANNA's entry points and an ONNX model --------------------------------------------------------------------


def test_dianna_explain_timeseries_with_method_distance_gives_the_explainers_map(model, series):
    reference = model(series[None])[0]
    kwargs = {"n_masks": 200, "random_state": 0, "progress": False}
    via_dianna = dianna.explain_timeseries(model, series, method="distance", labels=None,
                                           embedded_reference=reference, **kwargs)
    np.testing.assert_allclose(via_dianna, explain_timeseries_distance(model, series, reference, **kwargs))
    np.testing.assert_allclose(via_dianna, dianna.explain_timeseries_distance(model, series, reference, **kwargs))
    np.testing.assert_allclose(via_dianna, TimeSeriesDistanceExplainer(**kwargs).attribute(model, series, reference))


def test_dianna_entry_point_refuses_labels_a_missing_reference_and_unknown_arguments(model, series):
    reference = model(series[None])[0]
    with pytest.raises(ValueError, match="labels must be None"):
        dianna.explain_timeseries(model, series, method="distance", labels=[0], embedded_reference=reference)
    with pytest.raises(TypeError, match="embedded_reference"):
        dianna.explain_timeseries(model, series, method="distance", labels=None)
    with pytest.raises(TypeError, match="n_mask"):
        explain_timeseries_distance(model, series, reference, n_mask=10)


def test_dianna_season_model_onnx_file_is_explained_on_its_own_weather_window():
    window = np.load(Path(dianna.__file__).parent / "data" / "weather_data.npy")[0]
    explainer = TimeSeriesDistanceExplainer(n_masks=100, random_state=0, progress=False)
    reference = explainer.load_model(str(SEASON_MODEL))(window[None].astype(np.float32))[0]
    scores = explainer.attribute(str(SEASON_MODEL), window, reference)
    assert scores.shape == (28, 1) and np.all(np.isfinite(scores))


def test_a_series_that_does_not_fit_the_onnx_models_input_is_refused_naming_both_shapes():
    with pytest.raises(ValueError, match=r"series has shape \(27, 1\).*\(28, 1\)"):
        TimeSeriesDistanceExplainer(n_masks=10, progress=False).attribute(
            str(SEASON_MODEL), np.ones((27, 1)), np.ones(2))


# -- bad input ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bad", "message"), [
    (np.ones(T), r"series must be 2-D .*series\[:, None\]"),
    (np.ones((1, T, 1)), r"batch of one series; pass series\[0\]"),
    (np.ones((2, T, 1)), "series must be 2-D"),
    (np.ones((0, 2)), "at least one time step"),
])
def test_a_series_of_the_wrong_rank_or_size_is_refused_naming_the_series(model, bad, message):
    with pytest.raises(ValueError, match=message):
        explain(model, bad, reference=np.ones(8))


def test_nan_in_the_series_is_refused_naming_the_series(model, series):
    series[3, 1] = np.nan
    with pytest.raises(ValueError, match="series contains NaN"):
        explain(model, series, reference=np.ones(8))


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"mask_type": "median"}, ValueError, "mask_type must be 'mean'"),
    ({"mask_type": [1, 2]}, TypeError, "mask_type must be"),
    ({"mask_type": lambda s: np.ones(5)}, ValueError, "value returned by mask_type .* one number per channel"),
    ({"mask_type": lambda s: np.nan}, ValueError, "value returned by mask_type contains NaN"),
    ({"feature_res": 2}, ValueError, "feature_res must be at least 3"),
    ({"mask_kinds": "stripes"}, ValueError, "mask_kinds must be 'auto'"),
    ({"mask_kinds": ("time", "time")}, ValueError, "mask_kinds must be"),
    ({"embedding_output": 3}, TypeError, "embedding_output must be None"),
])
def test_bad_parameters_are_refused_naming_the_parameter(model, series, kwargs, error, message):
    with pytest.raises(error, match=message):
        explain(model, series, **kwargs)


def test_channel_masks_of_a_univariate_series_are_refused_naming_mask_kinds(model):
    with pytest.raises(ValueError, match="mask_kinds .* one channel"):
        explain(model, np.ones((T, 1)), reference=np.ones(8), mask_kinds="channel")


def test_p_keep_that_masks_no_whole_channel_warns_once_as_dianna_clamps():
    with pytest.warns(UserWarning, match="masks fewer than one channel"):
        masks = np.asarray(TimeSeriesMasks((20, 2), 30, p_keep=0.9, mask_kinds="channel", random_state=0))
    assert np.all((~masks).any(axis=(1, 2)))  # every mask still masks one channel


# -- figure, command line, batch jobs -------------------------------------------------------------------------------


def test_the_figure_has_one_panel_per_channel_a_labelled_colour_bar_and_the_legend(model, series, tmp_path):
    from dianna_distance.visualization import plot_timeseries_distance

    explainer, scores = explain(model, series)
    fig = plot_timeseries_distance(series, scores, tmp_path / "map.png", standard_error=explainer.standard_error_,
                                   significant=explainer.significant_, n_masks=400)
    texts = [text.get_text() for text in fig.findobj(lambda artist: hasattr(artist, "get_text"))]
    assert (tmp_path / "map.png").stat().st_size > 0
    assert sum(ax.get_ylabel().startswith("channel") for ax in fig.axes) == C
    assert "attribution (+ closer, − farther)" in texts  # the colour bar's label
    assert "red: brings the series closer to the reference" in texts and "blue: pushes it away" in texts
    assert any(text.startswith("hatched") for text in texts) and "400 masks" in texts
    low, high = fig.axes[0].collections[0].norm.vmin, fig.axes[0].collections[0].norm.vmax
    assert low == -high == -np.abs(scores).max()


def _cli(*args: str) -> int:
    from dianna_distance.cli import main

    return main([*args, "--no-progress"])


@pytest.fixture
def weather(tmp_path) -> Path:
    window = np.load(Path(dianna.__file__).parent / "data" / "weather_data.npy")[0]
    np.save(tmp_path / "window.npy", window)
    (tmp_path / "other.csv").write_text("tmax\n" + "\n".join(str(v) for v in window[::-1, 0] + 3) + "\n")
    return tmp_path


def test_explain_timeseries_writes_the_map_its_standard_error_and_the_figure(weather, capsys):
    prefix = weather / "out" / "run"
    (weather / "out").mkdir()
    assert _cli("explain-timeseries", str(SEASON_MODEL), str(weather / "window.npy"), "--reference-series",
                str(weather / "other.csv"), "--n-masks", "100", "--random-state", "0", "--output", str(prefix)) == 0
    assert sorted(path.name for path in (weather / "out").iterdir()) == ["run.npy", "run.png", "run_se.npy"]
    explainer = TimeSeriesDistanceExplainer(n_masks=100, random_state=0, progress=False)
    window = np.load(weather / "window.npy")
    reference = explainer.load_model(str(SEASON_MODEL))((window[::-1] + 3)[None].astype(np.float32))[0]
    np.testing.assert_allclose(np.load(weather / "out" / "run.npy"),
                               explainer.attribute(str(SEASON_MODEL), window, reference), atol=1e-6)
    np.testing.assert_allclose(np.load(weather / "out" / "run_se.npy"), explainer.standard_error_, atol=1e-6)
    assert "wrote" in capsys.readouterr().out


def test_explain_timeseries_takes_an_embedding_reference_from_a_npy_file(weather):
    np.save(weather / "reference.npy", np.array([[0.2, 0.8], [0.9, 0.1]]))
    assert _cli("explain-timeseries", str(SEASON_MODEL), str(weather / "window.npy"), "--reference",
                str(weather / "reference.npy"), "--n-masks", "50", "--output", str(weather / "k")) == 0
    assert np.load(weather / "k.npy").shape == (2, 28, 1) and np.load(weather / "k_se.npy").shape == (2, 28, 1)


@pytest.mark.parametrize(("change", "message"), [
    ({"series": "missing.npy"}, "series: file .*missing.npy.* does not exist"),
    ({"series": "bad.csv"}, "line 3, column 'tmax': 'x' is not a number"),
    ({"series": "nan.npy"}, "series contains NaN"),
    ({"reference": None}, "give exactly one of --reference"),
    ({"extra": ["--feature-res", "2"]}, "--feature-res must be at least 3"),
    ({"extra": ["--mask-type", "median"]}, "--mask-type must be 'mean' or a number"),
    ({"series": "long.npy", "reference": "embedding"}, r"series has shape \(30, 1\).*\(28, 1\)"),
])
def test_explain_timeseries_expected_failures_are_one_line_with_exit_code_2_and_write_nothing(weather, capsys,
                                                                                             change, message):
    (weather / "bad.csv").write_text("tmax\n1.0\nx\n")
    np.save(weather / "nan.npy", np.array([1.0, np.nan] * 14))
    np.save(weather / "long.npy", np.ones((30, 1)))
    series = weather / change.get("series", "window.npy")
    np.save(weather / "embedding.npy", np.array([0.5, 0.5]))
    reference = {1: ["--reference-series", str(weather / "other.csv")], None: [],
                 "embedding": ["--reference", str(weather / "embedding.npy")]}[change.get("reference", 1)]
    before = set(weather.iterdir())
    code = _cli("explain-timeseries", str(SEASON_MODEL), str(series), *reference, *change.get("extra", []),
                "--n-masks", "20", "--output", str(weather / "result"))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("dianna-distance: error:")
    import re

    assert re.search(message, err), err
    assert set(weather.iterdir()) == before


def test_a_timeseries_batch_job_gives_the_map_of_a_single_run(weather):
    from dianna_distance.batch import explain_many, load_map

    run = explain_many([{"id": "w", "item": str(weather / "window.npy"), "reference": str(weather / "other.csv"),
                         "kind": "timeseries"}], SEASON_MODEL, weather / "maps", n_masks=100, random_state=0,
                       progress=False)
    assert run.explained == ["w"] and not run.failed
    explainer = TimeSeriesDistanceExplainer(n_masks=100, random_state=0, progress=False)
    window = np.load(weather / "window.npy")
    reference = explainer.load_model(str(SEASON_MODEL))((window[::-1] + 3)[None].astype(np.float32))[0]
    np.testing.assert_allclose(load_map(weather / "maps", "w"), explainer.attribute(str(SEASON_MODEL), window,
                                                                                    reference), atol=1e-6)


def test_explain_split_of_a_timeseries_job_gives_the_local_map(weather):
    distributed = pytest.importorskip("distributed")
    from dianna_distance.batch import explain_split

    job = {"id": "w", "item": str(weather / "window.npy"), "reference": str(weather / "other.csv"),
           "kind": "timeseries"}
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        split = explain_split(job, SEASON_MODEL, client, n_masks=100, random_state=0, progress=False,
                              masks_per_task=30)
    explainer = TimeSeriesDistanceExplainer(n_masks=100, random_state=0, progress=False)
    window = np.load(weather / "window.npy")
    reference = explainer.load_model(str(SEASON_MODEL))((window[::-1] + 3)[None].astype(np.float32))[0]
    np.testing.assert_allclose(split, explainer.attribute(str(SEASON_MODEL), window, reference), atol=1e-6)


def test_deleting_the_segments_the_map_marks_first_moves_the_distance_faster_than_random(model, series, tmp_path):
    from dianna_distance.evaluation import timeseries_deletion
    from dianna_distance.visualization import plot_timeseries_deletion

    reference = model(series[None])[0]
    _, scores = explain(model, series, reference)
    result = timeseries_deletion(model, series, reference, scores, segment_length=5, n_random=5, random_state=0,
                                 progress=False)
    assert len(result.segments) == (T // 5) * C and result.lodf[0] == pytest.approx(0, abs=1e-6)
    assert result.area_lodf > 0 > result.area_hidf
    first = result.segments[result.order_lodf[0]]
    assert first[0] == CHANNEL and WINDOW.start - 5 < first[1] < WINDOW.stop
    np.testing.assert_allclose(result.series_lodf[-1], series.mean())  # everything deleted: the fill
    plot_timeseries_deletion(result, tmp_path / "deletion.png")
    assert (tmp_path / "deletion.png").stat().st_size > 0


def test_segment_deletion_refuses_scores_of_another_shape_naming_scores(model, series):
    from dianna_distance.evaluation import timeseries_deletion

    with pytest.raises(ValueError, match=r"scores must have the series' shape \(60, 3\)"):
        timeseries_deletion(model, series, model(series[None])[0], np.ones((60, 2)), progress=False)


def test_every_time_step_that_is_not_significant_is_hatched_even_alone(series):
    from dianna_distance.visualization import plot_timeseries_distance

    significant = np.ones((T, C), dtype=bool)
    significant[[5, 30, 31, 59], 0] = False  # a lone step, a run of two, the last step
    fig = plot_timeseries_distance(series, np.linspace(-1, 1, T * C).reshape(T, C), significant=significant)
    hatched = sorted((patch.get_x() + 0.5, patch.get_x() + patch.get_width() + 0.5) for patch in fig.axes[0].patches
                     if patch.get_hatch())
    assert hatched == [(5, 6), (30, 32), (59, 60)]
    assert not any(patch.get_hatch() for ax in fig.axes[1:C] for patch in ax.patches)


@pytest.mark.parametrize(("series_shape", "scores_shape"), [((5, 0), (5, 0)), ((0, 2), (0, 2)), ((5, 2), (0, 5, 2))])
def test_plotting_an_empty_series_or_no_map_is_a_value_error_naming_the_shapes(series_shape, scores_shape):
    from dianna_distance.visualization import plot_timeseries_distance

    with pytest.raises(ValueError, match=r"at least one time step and one channel, and scores at least one map, got "
                                         rf"series of shape \({series_shape[0]}, {series_shape[1]}\)"):
        plot_timeseries_distance(np.zeros(series_shape), np.zeros(scores_shape))


def test_a_csv_series_has_one_row_per_time_step_one_column_per_channel_and_an_optional_header(tmp_path):
    from dianna_distance.timeseries import read_series

    (tmp_path / "named.csv").write_text("temperature,pressure\n1.5,1000\n2.5,1001\n3.5,1002\n")
    (tmp_path / "plain.csv").write_text("1.5,1000\n2.5,1001\n")
    values, names = read_series(tmp_path / "named.csv")
    assert values.shape == (3, 2) and names == ["temperature", "pressure"]
    np.testing.assert_array_equal(values[:, 1], [1000, 1001, 1002])
    assert read_series(tmp_path / "plain.csv")[1] is None
    np.save(tmp_path / "one.npy", np.arange(5.0))
    assert read_series(tmp_path / "one.npy")[0].shape == (5, 1)  # a 1-D file is one channel
    with pytest.raises(ValueError, match="line 3 has 1 cells, but line 1 has 2"):
        (tmp_path / "ragged.csv").write_text("1,2\n3,4\n5\n")
        read_series(tmp_path / "ragged.csv")
    with pytest.raises(ValueError, match=r"must be a \.npy or \.csv file"):
        (tmp_path / "series.txt").write_text("1\n")
        read_series(tmp_path / "series.txt")


def test_masks_kept_rendered_are_the_masks_rendered_on_demand(monkeypatch):
    import dianna_distance.timeseries_masks as timeseries_masks

    kept = TimeSeriesMasks((50, 3), 300, random_state=5)
    assert kept.keep_rendered
    monkeypatch.setattr(timeseries_masks, "RENDERED_VALUES", 0)
    on_demand = TimeSeriesMasks((50, 3), 300, random_state=5)
    assert not on_demand.keep_rendered
    np.testing.assert_array_equal(np.asarray(kept), np.asarray(on_demand))
    np.testing.assert_array_equal(kept[[299, 3, 257]], on_demand[[299, 3, 257]])
