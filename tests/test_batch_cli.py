"""``dianna-distance explain-many``: runs, resumes, reports failures (also earlier ones) and refuses options that
cannot apply, each in one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest_batch import direct_map, make_workspace

from dianna_distance.batch import load_map
from dianna_distance.cli import main


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder with a small ONNX model, images and references (see :func:`conftest_batch.make_workspace`)."""
    return make_workspace(tmp_path)


def arguments(workspace: Path, *extra: str) -> list[str]:
    """``explain-many`` of ``workspace/jobs.csv`` into ``workspace/out`` with 40 masks."""
    return ["explain-many", str(workspace / "jobs.csv"), "--model", str(workspace / "model.onnx"), "--output",
            str(workspace / "out"), "--n-masks", "40", "--feature-res", "4", "--no-progress", *extra]


def test_cli_explain_many_runs_resumes_and_refuses_another_configuration(workspace, capsys):
    (workspace / "jobs.csv").write_text("id,item,reference\na,img0.png,ref.npy\nb,img1.png,ref.npy\n")
    arguments = ["explain-many", str(workspace / "jobs.csv"), "--model", str(workspace / "model.onnx"), "--output",
                 str(workspace / "out"), "--n-masks", "40", "--feature-res", "4", "--no-progress"]

    assert main(arguments) == 0
    assert "explained 2 items, skipped 0" in capsys.readouterr().out
    assert main(arguments) == 0
    assert "explained 0 items, skipped 2" in capsys.readouterr().out
    assert main([*arguments, "--random-state", "1"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--random-state 0 -> 1" in error
    np.testing.assert_array_equal(load_map(workspace / "out", "a"),
                                  direct_map(workspace, "img0", np.load(workspace / "ref.npy")))


def test_cli_explain_many_exits_1_when_items_failed(workspace, capsys):
    (workspace / "jobs.csv").write_text("id,item,reference\na,img0.png,ref.npy\nb,gone.png,ref.npy\n")
    code = main(["explain-many", str(workspace / "jobs.csv"), "--model", str(workspace / "model.onnx"),
                 "--output", str(workspace / "out"), "--n-masks", "40", "--no-progress"])

    assert code == 1
    assert "1 item failed (first: 'b': FileNotFoundError" in capsys.readouterr().err



def test_cli_rerun_exits_1_until_earlier_failures_are_retried_and_succeed(workspace, capsys):
    (workspace / "jobs.csv").write_text("id,item,reference\na,img0.png,ref.npy\nb,late.png,ref.npy\n")
    assert main(arguments(workspace)) == 1
    capsys.readouterr()

    assert main(arguments(workspace)) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "1 item failed (first: 'b': FileNotFoundError" in error
    assert "failed in an earlier run and were not retried" in error

    shutil.copyfile(workspace / "img1.png", workspace / "late.png")
    assert main(arguments(workspace, "--retry-failed")) == 0
    assert main(arguments(workspace)) == 0
    assert "explained 0 items, skipped 2" in capsys.readouterr().out


def test_cli_names_jobs_explained_again_because_they_changed(workspace, capsys):
    (workspace / "jobs.csv").write_text("id,item,reference\na,img0.png,ref.npy\n")
    assert main(arguments(workspace)) == 0
    (workspace / "jobs.csv").write_text("id,item,reference\na,img2.png,ref.npy\n")

    assert main(arguments(workspace)) == 0

    captured = capsys.readouterr()
    assert "explained 1 item, 1 of them changed since an earlier run" in captured.out
    assert "warning: 1 job(s) finished earlier" in captured.err and "('a')" in captured.err
    np.testing.assert_array_equal(load_map(workspace / "out", "a"),
                                  direct_map(workspace, "img2", np.load(workspace / "ref.npy")))


@pytest.mark.parametrize(("extra", "message"), [
    (["--preset", "clip", "--pixel-max", "255"], "--pixel-max does not apply with --preset"),
    (["--mask-on", "normalized"], "--mask-on applies only with --preset"),
    (["--text-model", "text.onnx"], "--text-model applies only to caption jobs"),
    (["--tokenizer", "tokenizer.json"], "--tokenizer applies only to caption jobs"),
])
def test_cli_options_that_cannot_apply_are_refused_in_one_line(workspace, capsys, extra, message):
    (workspace / "jobs.csv").write_text("id,item,reference\na,img0.png,ref.npy\n")

    assert main(arguments(workspace, *extra)) == 2

    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error
    assert not (workspace / "out").exists()


def test_cli_an_unreachable_scheduler_is_one_line_and_leaves_nothing(workspace, capsys):
    pytest.importorskip("distributed")
    import dask

    (workspace / "jobs.csv").write_text("id,item,reference\na,img0.png,ref.npy\n")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code = main(arguments(workspace, "--scheduler", "tcp://127.0.0.1:1"))

    assert code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "cannot reach the Dask scheduler at 'tcp://127.0.0.1:1'" in error
    assert not (workspace / "out").exists()



def test_cli_png_writes_one_figure_per_item_explained(workspace):
    import matplotlib.pyplot as plt

    (workspace / "jobs.csv").write_text("id,item,reference\na,img0.png,ref.npy\nb,img1.png,img2.png\n")
    assert main(arguments(workspace, "--png")) == 0
    assert sorted(path.name for path in (workspace / "out" / "figures").iterdir()) == ["a.png", "b.png"]
    assert plt.imread(workspace / "out" / "figures" / "a.png").ndim == 3

def test_cli_png_figures_show_the_reference_and_the_significance(workspace, monkeypatch):
    import dianna_distance.visualization as visualization

    calls = []
    original = visualization.plot_distance_map
    monkeypatch.setattr(visualization, "plot_distance_map",
                        lambda *args, **kwargs: calls.append(kwargs) or original(*args, **kwargs))
    (workspace / "jobs.csv").write_text("id,item,reference\nb,img1.png,img2.png\n")
    assert main(arguments(workspace, "--png")) == 0
    (call,) = calls
    assert call["references"] == [workspace / "img2.png"]
    assert call["significant"].shape == load_map(workspace / "out", "b").shape
    assert call["significant"].dtype == bool and call["n_masks"] == 40
