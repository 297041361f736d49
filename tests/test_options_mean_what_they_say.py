"""Options mean what they say: explain-many --png for table and series jobs, --scheduler, float32 table values, and
the seed that resumes a run started with --random-state random."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import save_linear_onnx
from PIL import Image

from dianna_distance import TabularDistanceExplainer
from dianna_distance.batch import MANIFEST
from dianna_distance.cli import main

REPOSITORY = str(Path(__file__).resolve().parents[1])


def jobs_file(folder: Path, kind: str) -> Path:
    """A one-job CSV jobs file of ``kind`` (table row or series) with a model, item and reference in ``folder``."""
    if kind == "tabular":
        save_linear_onnx(folder / "model.onnx", (3,), embedding_length=4)
        (folder / "item.csv").write_text("alcohol,acid,ash\n1.0,2.0,3.0\n")
        (folder / "reference.csv").write_text("alcohol,acid,ash\n1.5,2.5,2.0\n")
    else:
        save_linear_onnx(folder / "model.onnx", (10, 2), embedding_length=4)
        rng = np.random.default_rng(0)
        for name in ("item", "reference"):
            rows = "\n".join(f"{a:.3f},{b:.3f}" for a, b in rng.normal(size=(10, 2)))
            (folder / f"{name}.csv").write_text(f"temperature,pressure\n{rows}\n")
    (folder / "jobs.csv").write_text(f"id,item,reference,kind\nwine,item.csv,reference.csv,{kind}\n")
    return folder / "jobs.csv"


@pytest.mark.parametrize("kind", ["tabular", "timeseries"])
def test_explain_many_png_draws_the_figure_of_table_and_series_jobs_titled_with_the_pair(tmp_path, kind, capsys):
    jobs = jobs_file(tmp_path, kind)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["explain-many", str(jobs), "--model", str(tmp_path / "model.onnx"), "--output",
                     str(tmp_path / "out"), "--n-masks", "40", "--random-state", "0", "--png", "--distance",
                     "euclidean"])

    assert code == 0 and not [w for w in caught if "on_result failed" in str(w.message)]
    figure = tmp_path / "out" / "figures" / "wine.png"
    assert Image.open(figure).size[0] > 200
    from dianna_distance.batch import Job
    from dianna_distance.cli.many import array_titles

    job = Job("wine", tmp_path / "item.csv", reference=tmp_path / "reference.csv", kind=kind)
    assert array_titles(job, 1, "euclidean") == ["wine: item.csv vs reference.csv (euclidean distance)"]


@pytest.mark.parametrize("scheduler", ["nonsense", "tcp://127.0.0.1:1"])
def test_a_scheduler_that_is_not_an_address_or_not_listening_is_one_line_at_once(tmp_path, scheduler):
    jobs = jobs_file(tmp_path, "tabular")
    start = time.perf_counter()

    done = subprocess.run([sys.executable, "-m", "dianna_distance.cli", "explain-many", str(jobs), "--model",
                           str(tmp_path / "model.onnx"), "--output", str(tmp_path / "out"), "--scheduler", scheduler],
                          capture_output=True, text=True, timeout=50, env={**os.environ, "PYTHONPATH": REPOSITORY})

    assert done.returncode == 2 and time.perf_counter() - start < 25
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # no Client.__del__ traceback
    assert "Dask scheduler" in done.stderr and not (tmp_path / "out").exists()


def test_a_single_explanation_scheduler_that_is_not_an_address_is_refused_before_any_file(tmp_path, capsys):
    code = main(["explain-tabular", str(tmp_path / "missing.onnx"), str(tmp_path / "missing.csv"), "--row", "0",
                 "--reference-row", "0", "--scheduler", "nonsense"])

    assert code == 2 and "'nonsense' is not a Dask scheduler address" in capsys.readouterr().err


def test_a_table_value_beyond_float32_names_the_row_and_the_feature(tmp_path):
    model = save_linear_onnx(tmp_path / "rows.onnx", (3,), embedding_length=4)[0]
    background = np.array([[1.0, 2.0, 3.0], [2.0, 3.0, 1e39], [0.0, 1.0, 2.0]])
    explainer = TabularDistanceExplainer(training_data=background, feature_names=["alcohol", "acid", "ash"],
                                         n_masks=20, progress=False)

    with pytest.raises(ValueError, match=r"training_data row 1, feature 'ash' holds 1e\+39, beyond the largest "
                                         r"float32") as refused:
        explainer.attribute(str(model), np.array([1.0, 2.0, 3.0]), np.ones(4))
    assert "image" not in str(refused.value)


def test_explain_tabular_names_the_row_and_feature_of_a_value_beyond_float32(tmp_path, capsys):
    model = save_linear_onnx(tmp_path / "rows.onnx", (3,), embedding_length=4)[0]
    (tmp_path / "rows.csv").write_text("alcohol,acid,ash\n1.0,2.0,3.0\n1.0,5e40,3.0\n")

    code = main(["explain-tabular", str(model), str(tmp_path / "rows.csv"), "--row", "0", "--reference-row", "1",
                 "--output", str(tmp_path / "out")])

    error = capsys.readouterr().err
    assert code == 2 and "reference row 0, feature 'acid' holds 5e+40" in error and "image" not in error


def test_a_run_started_with_a_random_seed_and_refused_on_rerun_names_the_seed_that_resumes_it(tmp_path, capsys):
    jobs = jobs_file(tmp_path, "tabular")
    arguments = ["explain-many", str(jobs), "--model", str(tmp_path / "model.onnx"), "--output",
                 str(tmp_path / "out"), "--n-masks", "20", "--random-state", "random"]
    assert main(arguments) == 0
    seed = json.loads((tmp_path / "out" / MANIFEST).read_text().splitlines()[0])["parameters"]["random_state"]
    capsys.readouterr()

    assert main(arguments) == 2

    assert f"--random-state={seed} resumes it" in capsys.readouterr().err
    assert main([*arguments[:-1], str(seed)]) == 0


@pytest.mark.parametrize("kind", ["tabular", "timeseries"])
def test_explain_many_titles_table_and_series_figures_with_the_pair_and_the_unmasked_distance(tmp_path, kind):
    from dianna_distance.batch import Job, explain_many
    from dianna_distance.cli.many import array_titles
    from dianna_distance.distances import compute_distances
    from dianna_distance.model import OnnxModel
    from dianna_distance.readers import read_table_csv
    from dianna_distance.timeseries import read_series

    jobs_file(tmp_path, kind)
    job = Job("wine", tmp_path / "item.csv", reference=tmp_path / "reference.csv", kind=kind)
    results = []
    explain_many([job], tmp_path / "model.onnx", tmp_path / "out", n_masks=20, random_state=0, progress=False,
                 distance="euclidean", on_result=lambda job, result, model: results.append(result))
    ((result,),) = [results]
    model = OnnxModel(tmp_path / "model.onnx")
    read = (lambda path: read_table_csv(path, "item")[1][0]) if kind == "tabular" else \
        (lambda path: read_series(path, "item")[0])
    item, reference = (model(np.asarray(read(tmp_path / name), dtype=np.float32)[None])
                       for name in ("item.csv", "reference.csv"))
    expected = compute_distances(item, reference, "euclidean")[0, 0]
    assert np.allclose(result.unmasked_distances, [expected])
    (title,) = array_titles(job, 1, "euclidean", result.unmasked_distances)
    assert title == f"wine: item.csv vs reference.csv — euclidean distance {expected:.3g} (0 and up)"
