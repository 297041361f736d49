"""Every figure names the pair it explains and the distance between them, with the distance's name and range."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib
import numpy as np
from conftest_batch import make_workspace
from conftest_text import save_sentence_model, save_wordpiece_tokenizer
from matplotlib.text import Text

from dianna_distance.batch import Job, explain_many
from dianna_distance.cli import main
from dianna_distance.cli.many import MapFigures
from dianna_distance.distances import compute_distances
from dianna_distance.model import OnnxModel
from dianna_distance.models.image import load_image_for_model
from dianna_distance.visualization import plot_distance_map, plot_tabular_distance, plot_timeseries_distance
from dianna_distance.visualization.common import pair_title

matplotlib.use("Agg")
FAST = ["--n-masks", "40", "--random-state", "0", "--no-progress"]


def texts(figure) -> list[str]:
    return [text.get_text() for text in figure.findobj(Text)]


def test_a_pair_title_names_the_pair_the_distance_and_the_distance_range():
    assert pair_title("bee.jpg", "fly.jpg", 0.4481) == "bee.jpg vs fly.jpg — cosine distance 0.448 (0 to 1)"
    assert pair_title("bee.jpg", "fly.jpg", 2.5, "euclidean") == (
        "bee.jpg vs fly.jpg — euclidean distance 2.5 (0 and up)")
    assert pair_title("bee.jpg", "fly.jpg") == "bee.jpg vs fly.jpg"


def test_the_image_figure_titles_each_row_with_the_pair_and_the_cosine_distance():
    maps = np.random.default_rng(0).normal(size=(2, 8, 8))
    figure = plot_distance_map(maps, np.zeros((8, 8, 3)), titles=["bee.jpg vs fly.jpg", "bee.jpg vs leaf.jpg"],
                               distances=[0.448, 0.61])
    shown = texts(figure)
    assert "bee.jpg vs fly.jpg — cosine distance 0.448 (0 to 1)" in shown
    assert "bee.jpg vs leaf.jpg — cosine distance 0.61 (0 to 1)" in shown


def test_the_series_figure_labels_its_axes_and_titles_the_pair():
    series = np.sin(np.linspace(0, 6, 28))[:, None]
    title = pair_title("week.csv", "warmer.npy", 0.12)
    figure = plot_timeseries_distance(series, series * 0.1, titles=[title], channel_names=["temperature"])
    assert title in texts(figure)
    labels = [(ax.get_xlabel(), ax.get_ylabel()) for ax in figure.axes if ax.get_ylabel()]
    assert labels == [("time step", "temperature")]


def test_the_series_figure_names_the_time_axis_once_under_its_last_panel_with_several_references():
    months = [f"1982-{month:02d}" for month in range(1, 13)]
    figure = plot_timeseries_distance(np.zeros((12, 2)), np.ones((2, 12, 2)), titles=["a vs b", "a vs c"],
                                      channel_names=["x", "y"], time_labels=months)
    panels = [ax for ax in figure.axes if ax.get_ylabel() in ("x", "y")]
    labelled = [[label.get_text() for label in ax.get_xticklabels() if label.get_visible() and label.get_text()]
                for ax in panels]
    assert len(panels) == 4 and labelled[:3] == [[], [], []]  # no index ticks above: one time axis, at the bottom
    assert set(labelled[3]) <= set(months) and labelled[3][0] == "1982-01"
    assert [ax.get_xlabel() for ax in panels] == ["", "", "", "time"]
    assert all(list(ax.get_xticks()) == list(panels[3].get_xticks()) for ax in panels)


def test_the_table_figure_shows_its_title():
    title = pair_title("wine.csv row 0", "wine.csv row 13", 0.05)
    figure = plot_tabular_distance(np.array([0.1, -0.2]), ["alcohol", "ash"], title=title)
    assert title in texts(figure)


def test_the_text_page_and_record_name_the_pair_and_the_distance(tmp_path):
    model = tmp_path / "sentence.onnx"
    save_sentence_model(model, dim=32)
    tokenizer = save_wordpiece_tokenizer(tmp_path / "tokenizer.json")
    assert main(["explain-text", str(model), "the cat sat on the mat", "--tokenizer", str(tokenizer),
                 "--reference-text", "a dog", "--output", str(tmp_path / "out"), *FAST]) == 0
    record = json.loads((tmp_path / "out.json").read_text())
    (distance,) = record["distances"]
    page = (tmp_path / "out.html").read_text()
    title = re.search("<title>(.*)</title>", page).group(1)
    assert title == f"Distance Explainer: “the cat sat on the mat” vs “a dog” — cosine distance {distance:.3g} (0 to 1)"
    assert 0 <= distance <= 1


def test_explain_many_figure_titles_name_the_job_the_pair_and_the_unmasked_distance(tmp_path):
    workspace = make_workspace(tmp_path)
    results = []
    explain_many([Job("a", workspace / "img0.png", reference=workspace / "ref.npy")], workspace / "model.onnx",
                 tmp_path / "out", n_masks=20, random_state=0, progress=False,
                 on_result=lambda job, result, model: results.append((job, result)))
    ((job, result),) = results
    model = OnnxModel(workspace / "model.onnx")
    embedding = model(load_image_for_model(workspace / "img0.png", model)[None])
    expected = compute_distances(embedding, np.load(workspace / "ref.npy")[None], "cosine")[0, 0]
    assert np.allclose(result.unmasked_distances, [expected])
    (title,) = MapFigures(tmp_path / "out").titles(job, 1, result.unmasked_distances)
    assert title == f"a: img0.png vs ref.npy — cosine distance {expected:.3g} (0 to 1)"


def test_the_tabular_record_keeps_the_distance_of_the_unmasked_row(tmp_path):
    from test_tabular import wine, write_csv

    from dianna_distance.data import WINE_MODEL
    from dianna_distance.model import load_model

    names, rows, _ = wine()
    table = write_csv(tmp_path / "wine.csv", names, rows[:20])
    assert main(["explain-tabular", str(WINE_MODEL), str(table), "--row", "0", "--reference-row", "13",
                 "--training-data", str(table), "--output", str(tmp_path / "out"), *FAST]) == 0
    model = load_model(str(WINE_MODEL))
    expected = compute_distances(model(rows[:1]), model(rows[13:14]), "cosine")[0, 0]
    assert np.allclose(json.loads((tmp_path / "out.json").read_text())["distances"], [expected], atol=1e-6)
    assert Path(tmp_path / "out.png").stat().st_size > 0
