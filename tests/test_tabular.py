"""Tables: the Distance Explainer over the features of one row, masked features filled from background rows."""

import warnings

import dianna
import numpy as np
import pytest

import dianna_distance  # noqa: F401  (registers method="distance" with DIANNA)
from dianna_distance.masks import BackgroundRows, TabularMasks, WordMasks
from dianna_distance.tabular import TabularDistanceExplainer, most_frequent

N_FEATURES = 8
PLANTED = [2, 5]  # the only features the planted model's embedding depends on


def background(n_rows=300, seed=0):
    return np.random.default_rng(seed).normal(size=(n_rows, N_FEATURES)).astype(np.float32)


def planted_model(batch):
    """An embedding that depends only on the planted features."""
    batch = np.asarray(batch, dtype=np.float64)
    return np.stack([np.tanh(batch[:, 2]), np.tanh(batch[:, 5]), np.tanh(batch[:, 2] - batch[:, 5]),
                     np.ones(len(batch))], axis=1)


def explainer(**kwargs):
    kwargs = {"training_data": background(), "n_masks": 1000, "random_state": 0, "progress": False, **kwargs}
    return TabularDistanceExplainer(**kwargs)


def row_and_reference():
    data = background()
    return data[0], planted_model(data[7:8])[0]


def test_planted_features_hold_most_of_the_attribution():
    row, reference = row_and_reference()
    run = explainer(n_masks=4000)
    scores = run.attribute(planted_model, row, reference)
    assert scores.shape == (N_FEATURES,)
    planted_share = np.abs(scores[PLANTED]).sum() / np.abs(scores).sum()
    assert planted_share > 0.7
    assert set(np.argsort(-np.abs(scores))[:2]) == set(PLANTED)
    assert run.significant_[PLANTED].all()


def test_dianna_explain_tabular_with_method_distance_equals_the_class():
    row, reference = row_and_reference()
    via_dianna = dianna.explain_tabular(planted_model, row, method="distance", labels=None,
                                        embedded_reference=reference, training_data=background(), n_masks=300,
                                        random_state=3, progress=False)
    direct = explainer(n_masks=300, random_state=3).attribute(planted_model, row, reference)
    np.testing.assert_allclose(via_dianna, direct)


def test_dianna_explain_tabular_distance_equals_the_class_and_refuses_unknown_kwargs():
    row, reference = row_and_reference()
    scores = dianna.explain_tabular_distance(planted_model, row, reference, training_data=background(),
                                             n_masks=300, random_state=3, progress=False)
    np.testing.assert_allclose(scores, explainer(n_masks=300, random_state=3).attribute(planted_model, row,
                                                                                        reference))
    with pytest.raises(TypeError, match="unused kwargs"):
        dianna.explain_tabular_distance(planted_model, row, reference, training_data=background(), mode="x")


def test_dianna_method_distance_refuses_labels():
    row, reference = row_and_reference()
    with pytest.raises(ValueError, match="labels must be None"):
        dianna.explain_tabular(planted_model, row, method="distance", labels=[0], embedded_reference=reference,
                               training_data=background())


def test_k_references_equal_k_single_runs():
    row, _ = row_and_reference()
    references = planted_model(background()[[3, 9, 11]])
    together = explainer(n_masks=400).attribute(planted_model, row, references)
    assert together.shape == (3, N_FEATURES)
    for k, reference in enumerate(references):
        np.testing.assert_allclose(together[k], explainer(n_masks=400).attribute(planted_model, row, reference))


def test_the_map_does_not_depend_on_the_batch_size():
    row, reference = row_and_reference()
    maps = [explainer(n_masks=500, batch_size=size).attribute(planted_model, row, reference) for size in (1, 7, 500)]
    np.testing.assert_allclose(maps[0], maps[1])
    np.testing.assert_allclose(maps[0], maps[2])


def test_reselect_with_other_ranges_equals_a_fresh_run_with_them():
    row, reference = row_and_reference()
    run = explainer(n_masks=500)
    run.attribute(planted_model, row, reference)
    reselected = run.reselect(mask_selection_range_max=0.3, mask_selection_negative_range_min=0.7)
    fresh = explainer(n_masks=500, mask_selection_range_max=0.3, mask_selection_negative_range_min=0.7)
    np.testing.assert_allclose(reselected, fresh.attribute(planted_model, row, reference))


def test_standard_error_and_significance_have_the_map_shape():
    row, _ = row_and_reference()
    references = planted_model(background()[[3, 9]])
    run = explainer(n_masks=500)
    run.attribute(planted_model, row, references[0])
    assert run.standard_error_.shape == run.significant_.shape == (N_FEATURES,)
    assert np.all(run.standard_error_ > 0)
    run.attribute(planted_model, row, references)
    assert run.standard_error_.shape == run.significant_.shape == (2, N_FEATURES)


def test_background_rows_are_drawn_from_random_state_and_the_mask_index():
    row, reference = row_and_reference()
    first = explainer(n_masks=600, random_state=5, mask_type="sample", p_keep=0.5)
    first.attribute(planted_model, row, reference)
    second = explainer(n_masks=600, random_state=5, batch_size=13, mask_type="sample", p_keep=0.5)
    second.attribute(planted_model, row, reference)
    np.testing.assert_array_equal(first.background_rows_, second.background_rows_)
    expected = TabularMasks(N_FEATURES, 600, 0.5, 300, 5, pairing="flip")  # the tables' default mask_pairs
    np.testing.assert_array_equal(first.background_rows_, expected.rows(np.arange(600)))
    np.testing.assert_array_equal(np.asarray(first.masks_), np.asarray(WordMasks(N_FEATURES, 600, 0.5, 5, "flip")))
    other = explainer(n_masks=600, random_state=6, mask_type="sample", p_keep=0.5)
    other.attribute(planted_model, row, reference)
    assert np.mean(other.background_rows_ == first.background_rows_) < 0.05


def test_a_masked_feature_takes_the_drawn_background_rows_value():
    data = background()
    seen = []

    def recording_model(batch):
        seen.append(np.array(batch))
        return planted_model(batch)

    run = explainer(n_masks=300, batch_size=64, mask_type="sample")
    run.attribute(recording_model, data[0], planted_model(data[7:8])[0])
    inputs = np.concatenate(seen)
    masks = np.asarray(run.masks_)
    expected = np.where(masks, data[0], data[run.background_rows_])
    np.testing.assert_array_equal(inputs, expected)


def test_split_embedding_gives_the_map_of_a_local_run():
    row, reference = row_and_reference()
    local = explainer(n_masks=600).attribute(planted_model, row, reference)
    parts = [explainer(n_masks=600).embed_masked(planted_model, row, start, stop)
             for start, stop in ((0, 100), (100, 357), (357, 600))]
    split = explainer(n_masks=600).attribute_from_embeddings(row, np.concatenate(parts), reference)
    np.testing.assert_allclose(split, local)


def test_tolerance_rounds_use_the_rows_of_their_mask_indices():
    row, reference = row_and_reference()
    run = explainer(n_masks=200, tolerance=1e-9, max_masks=600, mask_type="sample")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run.attribute(planted_model, row, reference)
    expected = TabularMasks(N_FEATURES, 600, 0.5, 300, 0, pairing="flip").rows(np.arange(600))
    np.testing.assert_array_equal(run.background_rows_, expected)


def test_given_masks_draw_their_background_rows_from_random_state_and_the_mask_index():
    row, reference = row_and_reference()
    masks = np.asarray(WordMasks(N_FEATURES, 300, 0.5, 9))
    run = explainer(n_masks=300, masks=masks, random_state=4, batch_size=50, mask_type="sample")
    run.attribute(planted_model, row, reference)
    np.testing.assert_array_equal(run.background_rows_, BackgroundRows(300, 300, 4)[np.arange(300)])


def test_a_short_last_block_draws_the_rows_and_masks_of_a_full_one():
    short, full = TabularMasks(N_FEATURES, 10, 0.5, 300, 3), TabularMasks(N_FEATURES, 1000, 0.5, 300, 3)
    np.testing.assert_array_equal(short.rows(np.arange(10)), full.rows(np.arange(10)))
    np.testing.assert_array_equal(short[:], full[:10])


def test_mean_fill_gives_categorical_features_their_most_frequent_category_never_a_mean():
    data = background().astype(np.float64)
    data[:, 3] = np.random.default_rng(1).choice([0.0, 1.0, 2.0], size=len(data), p=[0.2, 0.5, 0.3])
    run = explainer(training_data=data, mask_type="mean", categorical_features=[3], n_masks=50)
    run.attribute(planted_model, data[0], planted_model(data[7:8])[0])
    assert run.fill_[3] == 1.0
    np.testing.assert_allclose(run.fill_[[0, 1, 2]], data[:, [0, 1, 2]].mean(axis=0))


def test_sampled_categorical_features_take_a_category_from_the_background():
    data = background().astype(np.float64)
    data[:, 3] = np.random.default_rng(1).choice([0.0, 1.0, 2.0], size=len(data))
    seen = []
    run = explainer(training_data=data, categorical_features=[3], n_masks=200)
    run.attribute(lambda batch: (seen.append(np.array(batch)), planted_model(batch))[1], data[0],
                  planted_model(data[7:8])[0])
    assert set(np.unique(np.concatenate(seen)[:, 3])) <= {0.0, 1.0, 2.0}


def test_most_frequent_is_dianna_s_simple_imputer_strategy():
    from sklearn.impute import SimpleImputer

    data = np.random.default_rng(2).integers(0, 4, size=(50, 5)).astype(float)
    imputer = SimpleImputer(strategy="most_frequent").fit(data)
    np.testing.assert_array_equal(most_frequent(data), imputer.statistics_)


def test_a_callable_mask_type_gets_dianna_s_arguments_and_fills_the_masked_rows():
    row, reference = row_and_reference()
    calls = []

    def strategy(data, keep, training_data):
        calls.append((data.copy(), keep.copy(), training_data))
        return np.where(keep, data, -1.0)

    seen = []
    run = explainer(mask_type=strategy, n_masks=100, batch_size=40)
    run.attribute(lambda batch: (seen.append(np.array(batch)), planted_model(batch))[1], row, reference)
    np.testing.assert_array_equal(calls[0][0], row)
    assert calls[0][1].dtype == bool and calls[0][2].shape == (300, N_FEATURES)
    np.testing.assert_array_equal(np.concatenate(seen), np.where(np.asarray(run.masks_), row, -1.0))


def test_most_frequent_fills_masked_features_with_the_columns_modes():
    data = np.random.default_rng(3).integers(0, 3, size=(100, N_FEATURES)).astype(np.float32)
    seen = []
    run = explainer(training_data=data, mask_type="most_frequent", n_masks=100)
    run.attribute(lambda batch: (seen.append(np.array(batch)), planted_model(batch))[1], data[0],
                  planted_model(data[1:2])[0])
    np.testing.assert_array_equal(np.concatenate(seen), np.where(np.asarray(run.masks_), data[0], most_frequent(data)))


def test_without_background_data_masked_features_are_zero_with_a_warning():
    row, reference = row_and_reference()
    run = explainer(training_data=None, n_masks=100)
    with pytest.warns(UserWarning, match="no training_data: masked features are set to 0"):
        run.attribute(planted_model, row, reference)
    np.testing.assert_array_equal(run.fill_, np.zeros(N_FEATURES))


def test_a_constant_fill_needs_no_background_and_gives_no_warning():
    row, reference = row_and_reference()
    run = explainer(training_data=None, mask_type=0.5, n_masks=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run.attribute(planted_model, row, reference)
    np.testing.assert_array_equal(run.fill_, np.full(N_FEATURES, 0.5))


def test_feature_names_are_kept_and_default_to_numbered_features():
    row, reference = row_and_reference()
    run = explainer(n_masks=50)
    run.attribute(planted_model, row, reference)
    assert run.feature_names_ == [f"feature {i}" for i in range(N_FEATURES)]
    names = list("abcdefgh")
    run = explainer(n_masks=50, feature_names=names)
    run.attribute(planted_model, row, reference)
    assert run.feature_names_ == names


@pytest.mark.parametrize(("change", "error", "message"), [
    ({"row": np.zeros(N_FEATURES + 1)}, ValueError, "training_data has 8 columns"),
    ({"categorical_features": [N_FEATURES]}, ValueError, "categorical_features holds index 8, out of range"),
    ({"training_data": np.zeros((1, N_FEATURES))}, ValueError, "training_data must hold at least 2"),
    ({"row": np.r_[np.nan, np.zeros(N_FEATURES - 1)]}, ValueError, "row contains NaN"),
    ({"training_data": np.full((5, N_FEATURES), np.nan)}, ValueError, "training_data contains NaN"),
    ({"mask_type": lambda row, keep, data: keep[:, :2]}, ValueError, "must return the masked rows"),
    ({"row": np.zeros((2, N_FEATURES))}, ValueError, "row must be one table row"),
    ({"mask_type": "median"}, ValueError, "mask_type must be one of"),
    ({"feature_names": ["a"]}, ValueError, "feature_names has 1 names"),
    ({"masks": np.full((10, N_FEATURES), 0.5), "n_masks": 10}, ValueError, "masks must hold 0 or 1"),
])
def test_bad_input_is_a_clear_error_naming_the_parameter(change, error, message):
    row, reference = row_and_reference()
    row = change.pop("row", row)
    with pytest.raises(error, match=message):
        explainer(**change).attribute(planted_model, row, reference)


# -- the real example: the wine classifier's hidden layer --------------------------------------------------------

def wine():
    from sklearn.datasets import load_wine

    data = load_wine()
    return list(data.feature_names), data.data.astype(np.float32), data.target


def test_the_wine_model_embeds_with_its_hidden_layer_and_classifies_with_its_second_output():
    import onnxruntime

    from dianna_distance.data import WINE_MODEL
    from dianna_distance.model import load_model

    _, rows, target = wine()
    embedding = load_model(str(WINE_MODEL))(rows)
    assert embedding.shape == (len(rows), 8)
    session = onnxruntime.InferenceSession(str(WINE_MODEL))
    assert [output.name for output in session.get_outputs()] == ["embedding", "probabilities"]
    probabilities = session.run(["probabilities"], {"features": rows})[0]
    assert np.mean(probabilities.argmax(axis=1) == target) > 0.95


def test_wines_of_one_cultivar_are_close_because_of_their_shared_measurements_and_far_ones_differ():
    from dianna_distance.data import WINE_MODEL
    from dianna_distance.model import load_model

    names, rows, target = wine()
    model = load_model(str(WINE_MODEL))
    embeddings = model(rows)
    same, other = 13, int(np.flatnonzero(target == 2)[0])
    run = TabularDistanceExplainer(training_data=rows, feature_names=names, n_masks=1000, random_state=0,
                                   progress=False)
    scores = run.attribute(model, rows[0], embeddings[[same, other]])
    # against a wine of the same cultivar almost every clear score is positive; against another cultivar most of
    # the strongest features push the row away (the mean fill compares each value with the average wine's, which
    # may be farther from the other cultivar than this wine's own value)
    assert np.sum(scores[0][run.significant_[0]] > 0) >= 0.8 * run.significant_[0].sum()
    strongest = np.argsort(-np.abs(scores[1]))[:3]
    assert np.sum(scores[1][strongest] < 0) >= 2


# -- command line ------------------------------------------------------------------------------------------------

def write_csv(path, names, rows):
    import csv

    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(names)
        writer.writerows(np.asarray(rows).tolist())
    return path


def test_explain_tabular_writes_scores_errors_json_and_figure_equal_to_the_class(tmp_path):
    import json

    from dianna_distance.cli import main
    from dianna_distance.data import WINE_MODEL
    from dianna_distance.model import load_model

    names, rows, _ = wine()
    table = write_csv(tmp_path / "wine.csv", names, rows)
    code = main(["explain-tabular", str(WINE_MODEL), str(table), "--row", "0", "--reference-row", "13",
                 "--training-data", str(table), "--n-masks", "300", "--random-state", "0", "--no-progress",
                 "--output", str(tmp_path / "out")])
    assert code == 0
    written = json.loads((tmp_path / "out.json").read_text())
    assert written["feature_names"] == names
    model = load_model(str(WINE_MODEL))
    expected = TabularDistanceExplainer(training_data=np.loadtxt(table, delimiter=",", skiprows=1), n_masks=300,
                                        random_state=0, progress=False)
    scores = expected.attribute(model, rows[0].astype(np.float64), model(rows[13:14])[0])
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), scores)
    np.testing.assert_allclose(np.load(tmp_path / "out_se.npy"), expected.standard_error_)
    assert written["significant"] == [expected.significant_.tolist()]
    assert (tmp_path / "out.png").stat().st_size > 0


def test_explain_tabular_takes_the_reference_as_an_embedding_file_or_a_table_of_rows_alike(tmp_path):
    from dianna_distance.cli import main
    from dianna_distance.data import WINE_MODEL
    from dianna_distance.model import load_model

    names, rows, _ = wine()
    table = write_csv(tmp_path / "wine.csv", names, rows)
    write_csv(tmp_path / "references.csv", names, rows[[13, 150]])
    np.save(tmp_path / "references.npy", load_model(str(WINE_MODEL))(rows[[13, 150]]))
    common = [str(WINE_MODEL), str(table), "--row", "0", "--training-data", str(table), "--n-masks", "200",
              "--random-state", "0", "--no-progress"]
    assert main(["explain-tabular", *common, "--reference", str(tmp_path / "references.npy"), "--output",
                 str(tmp_path / "npy")]) == 0
    assert main(["explain-tabular", *common, "--reference-table", str(tmp_path / "references.csv"), "--output",
                 str(tmp_path / "table")]) == 0
    assert main(["explain-tabular", *common, "--reference-row", "13", "--reference-row", "150", "--output",
                 str(tmp_path / "rows")]) == 0
    maps = [np.load(tmp_path / f"{name}.npy") for name in ("npy", "table", "rows")]
    assert maps[0].shape == (2, len(names))
    np.testing.assert_allclose(maps[1], maps[0], rtol=1e-6)
    np.testing.assert_allclose(maps[2], maps[0], rtol=1e-6)


@pytest.mark.parametrize(("arguments", "message"), [
    (["--row", "9", "--reference-row", "1"], "--row must be a row index from 0 to 2"),
    (["--row", "0", "--reference-row", "1", "--training-data", "other.csv"], "has the columns"),
    (["--row", "0", "--reference-row", "1", "--categorical-features", "13"], "--categorical-features holds index 13"),
    (["--row", "0"], "give exactly one of --reference"),
    (["--row", "0", "--reference-row", "1", "--training-data", "one.csv"], "at least 2 background rows"),
])
def test_explain_tabular_failures_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, monkeypatch, arguments,
                                                                        message):
    from dianna_distance.cli import main
    from dianna_distance.data import WINE_MODEL

    names, rows, _ = wine()
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "rows.csv", names, rows[:3])
    write_csv(tmp_path / "other.csv", names[::-1], rows[:3])
    write_csv(tmp_path / "one.csv", names, rows[:1])
    before = set(tmp_path.iterdir())
    code = main(["explain-tabular", str(WINE_MODEL), "rows.csv", *arguments, "--n-masks", "20", "--no-progress"])
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert message in error and len(error.splitlines()) == 1
    assert set(tmp_path.iterdir()) == before


def test_a_csv_cell_that_is_not_a_number_is_named_with_its_line_and_column(tmp_path):
    from dianna_distance.tabular import read_csv_table

    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(ValueError, match="line 3, column 'b': 'x' is not a number"):
        read_csv_table(tmp_path / "bad.csv", "rows")


# -- batch jobs --------------------------------------------------------------------------------------------------

def test_a_tabular_job_of_explain_many_gives_the_map_of_the_class(tmp_path):
    from dianna_distance.batch import Job, explain_many
    from dianna_distance.data import WINE_MODEL
    from dianna_distance.model import load_model

    names, rows, _ = wine()
    write_csv(tmp_path / "row.csv", names, rows[:1])
    write_csv(tmp_path / "references.csv", names, rows[[13, 150]])
    background = write_csv(tmp_path / "background.csv", names, rows)
    run = explain_many([Job("wine0", str(tmp_path / "row.csv"), reference=str(tmp_path / "references.csv"),
                            kind="tabular")], str(WINE_MODEL), tmp_path / "maps", n_masks=200, random_state=1,
                       training_data=str(background), progress=False)
    assert run.explained == ["wine0"]
    model = load_model(str(WINE_MODEL))
    expected = TabularDistanceExplainer(training_data=rows.astype(np.float64), n_masks=200, random_state=1,
                                        progress=False).attribute(model, rows[0].astype(np.float64),
                                                                  model(rows[[13, 150]]))
    np.testing.assert_allclose(np.load(tmp_path / "maps" / "wine0.npy"), expected, rtol=1e-6, atol=1e-9)


def test_explain_many_on_the_command_line_runs_table_row_jobs_with_their_background(tmp_path):
    from dianna_distance.batch import load_map
    from dianna_distance.cli import main
    from dianna_distance.data import WINE_MODEL

    names, rows, _ = wine()
    write_csv(tmp_path / "row.csv", names, rows[:1])
    write_csv(tmp_path / "reference.csv", names, rows[13:14])
    write_csv(tmp_path / "background.csv", names, rows)
    (tmp_path / "jobs.csv").write_text("id,item,reference,kind\nwine0,row.csv,reference.csv,tabular\n")
    assert main(["explain-many", str(tmp_path / "jobs.csv"), "--model", str(WINE_MODEL), "--output",
                 str(tmp_path / "maps"), "--n-masks", "100", "--training-data", str(tmp_path / "background.csv"),
                 "--no-progress"]) == 0
    assert load_map(tmp_path / "maps", "wine0").shape == (len(names),)


def test_explain_split_of_a_tabular_job_equals_a_local_run(tmp_path):
    distributed = pytest.importorskip("distributed")
    from dianna_distance.batch import Job, explain_split
    from dianna_distance.data import WINE_MODEL
    from dianna_distance.model import load_model

    names, rows, _ = wine()
    write_csv(tmp_path / "row.csv", names, rows[:1])
    background = write_csv(tmp_path / "background.csv", names, rows)
    model = load_model(str(WINE_MODEL))
    reference = model(rows[40:41])[0]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as \
            cluster, distributed.Client(cluster) as client:
        split = explain_split(Job("w", str(tmp_path / "row.csv"), reference=reference, kind="tabular"),
                              str(WINE_MODEL), client, n_masks=300, random_state=2, batch_size=32,
                              training_data=str(background), masks_per_task=64, progress=False)
    local = TabularDistanceExplainer(training_data=rows.astype(np.float64), n_masks=300, random_state=2,
                                     batch_size=32, progress=False).attribute(model, rows[0].astype(np.float64),
                                                                              reference)
    np.testing.assert_allclose(split, local, rtol=1e-6, atol=1e-9)


# -- evaluation and figures --------------------------------------------------------------------------------------

def test_feature_deletion_orders_by_score_and_only_planted_features_move_the_distance():
    from dianna_distance.evaluation import feature_deletion

    row, reference = row_and_reference()
    scores = explainer(n_masks=4000).attribute(planted_model, row, reference)
    result = feature_deletion(planted_model, row, reference, scores, training_data=background(), random_state=0)
    assert set(PLANTED) <= set(result.order_lodf[:2]) | set(result.order_hidf[:2])
    np.testing.assert_allclose(result.fill, background().astype(np.float64).mean(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(result.rows_lodf[-1], result.fill)
    for step, feature in enumerate(result.order_lodf, start=1):
        moved = not np.isclose(result.lodf[step], result.lodf[step - 1], atol=1e-12)
        if feature not in PLANTED:
            assert not moved


def test_the_bar_chart_draws_one_panel_per_reference_with_faded_non_significant_bars(tmp_path):
    from dianna_distance.visualization import plot_tabular_distance

    scores = np.array([[0.5, -0.2, 0.01], [0.1, 0.3, -0.4]])
    significant = np.array([[True, True, False], [False, True, True]])
    fig = plot_tabular_distance(scores, ["a", "b", "c"], tmp_path / "bars.png", title=["one", "two"],
                                standard_error=np.full((2, 3), 0.05), significant=significant, n_masks=100)
    axes = [ax for ax in fig.axes if ax.patches]
    assert len(axes) == 2
    faded = [[bar.get_alpha() is not None and bar.get_alpha() < 1 for bar in ax.patches] for ax in axes]
    assert [sum(row) for row in faded] == [1, 1]
    assert [label.get_text() for label in axes[0].get_yticklabels()] == ["a", "b", "c"]  # by |score|
    assert (tmp_path / "bars.png").stat().st_size > 0


def test_the_tables_tutorial_executes_and_explains_the_wines(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from pathlib import Path

    notebook = nbformat.read(Path(__file__).parent.parent / "tutorials" / "tabular.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", [])]
    assert any("scores (2, 13)" in text for text in outputs)
    assert any(text.strip() == "True" for text in outputs)  # DIANNA's entry point gives the class's scores


def test_an_inner_layer_of_the_wine_graph_is_the_embedding_with_embedding_output(tmp_path):
    from dianna_distance.batch import Job, explain_many
    from dianna_distance.data import WINE_MODEL
    from dianna_distance.model import load_model

    names, rows, _ = wine()
    first_layer = load_model(str(WINE_MODEL), embedding_output="hidden1")
    reference = first_layer(rows[13:14])[0]
    assert reference.shape == (16,)
    run = TabularDistanceExplainer(training_data=rows, n_masks=200, random_state=0, progress=False,
                                   embedding_output="hidden1")
    scores = run.attribute(str(WINE_MODEL), rows[0], reference)
    assert run.embeddings_.shape == (200, 16)
    write_csv(tmp_path / "row.csv", names, rows[:1])
    background = write_csv(tmp_path / "background.csv", names, rows)
    explain_many([Job("w", str(tmp_path / "row.csv"), reference=reference, kind="tabular")], str(WINE_MODEL),
                 tmp_path / "maps", n_masks=200, random_state=0, training_data=str(background),
                 embedding_output="hidden1", progress=False)
    np.testing.assert_allclose(np.load(tmp_path / "maps" / "w.npy"), scores, rtol=1e-6, atol=1e-9)
