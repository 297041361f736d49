"""Resuming a run folder: finished jobs are kept only while what they explain is unchanged; earlier failures stay
failures until retried; a run that differs only in how it was written down resumes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import save_linear_onnx
from conftest_batch import PARAMETERS, REPOSITORY, SIZE, direct_map, item_lines, jobs_for, make_workspace
from PIL import Image

from dianna_distance.batch import LOCK, MANIFEST, STANDARD_ERROR_DIR, Job, explain_many, load_map, read_manifest
from dianna_distance.cli import main


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder with a small ONNX model, images and references (see :func:`conftest_batch.make_workspace`)."""
    return make_workspace(tmp_path)


def run_quietly(jobs: list, workspace: Path, output: str = "out", **parameters: object):
    """explain_many into ``workspace / output``; returns the run and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = explain_many(jobs, workspace / "model.onnx", workspace / output, progress=False,
                           **{**PARAMETERS, **parameters})
    return run, [str(warning.message) for warning in caught]


# -- what stays, what is refused ------------------------------------------------------------------------------------

def test_rerun_skips_finished_items_and_runs_new_ones(workspace):
    explain_many(jobs_for(workspace, ["img0", "img1"]), workspace / "model.onnx", workspace / "out",
                 progress=False, **PARAMETERS)
    first_write = (workspace / "out" / "img0.npy").stat().st_mtime_ns

    run = explain_many(jobs_for(workspace, ["img0", "img1", "img2"]), workspace / "model.onnx", workspace / "out",
                       progress=False, **PARAMETERS)

    assert run.skipped == ["img0", "img1"] and run.explained == ["img2"]
    assert (workspace / "out" / "img0.npy").stat().st_mtime_ns == first_write
    assert [line["id"] for line in item_lines(workspace / "out")] == ["img0", "img1", "img2"]


def test_a_changed_parameter_is_refused_naming_it(workspace):
    explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)

    with pytest.raises(ValueError, match=r"another configuration \(n_masks 40 -> 50\)"):
        explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                     **{**PARAMETERS, "n_masks": 50})
    assert len(item_lines(workspace / "out")) == 1



def test_another_model_file_is_refused(workspace):
    explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)
    save_linear_onnx(workspace / "other.onnx", (SIZE, SIZE, 3), seed=5)

    with pytest.raises(ValueError, match="model file"):
        explain_many(jobs_for(workspace, ["img0"]), workspace / "other.onnx", workspace / "out", progress=False,
                     **PARAMETERS)



_KILLED_RUN = """
import sys
from pathlib import Path
from dianna_distance.batch import Job, explain_many
folder, output = Path(sys.argv[1]), sys.argv[2]
jobs = [Job(f"item{i:03d}", folder / f"img{i % 4}.png", reference=folder / "ref.npy") for i in range(int(sys.argv[3]))]
explain_many(jobs, folder / "model.onnx", output, progress=False, n_masks=200, feature_res=4, random_state=0)
"""


def test_a_run_killed_with_sigkill_resumes_to_the_maps_of_a_clean_run(workspace):
    n_jobs = 100
    output = workspace / "killed"
    environment = {**os.environ, "PYTHONPATH": f"{REPOSITORY}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, str(workspace), str(output), str(n_jobs)],
                               env=environment)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if (output / MANIFEST).is_file() and len((output / MANIFEST).read_bytes().splitlines()) >= 4:
                break
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    done_before = len(item_lines(output))
    assert 3 <= done_before < n_jobs  # killed mid-run

    jobs = [Job(f"item{i:03d}", workspace / f"img{i % 4}.png", reference=workspace / "ref.npy")
            for i in range(n_jobs)]
    parameters = {"n_masks": 200, "feature_res": 4, "random_state": 0}
    resumed = explain_many(jobs, workspace / "model.onnx", output, progress=False, **parameters)
    explain_many(jobs, workspace / "model.onnx", workspace / "clean", progress=False, **parameters)

    assert len(resumed.skipped) == done_before and len(resumed.explained) == n_jobs - done_before
    ids = [line["id"] for line in item_lines(output)]
    assert sorted(ids) == sorted(job.id for job in jobs)  # every item present exactly once
    files = sorted(path.name for path in output.iterdir() if path.name not in (LOCK, STANDARD_ERROR_DIR))
    assert files == sorted([MANIFEST] + [f"{i}.npy" for i in ids])
    assert sorted(path.name for path in (output / STANDARD_ERROR_DIR).iterdir()) == sorted(f"{i}.npy" for i in ids)
    for job in jobs:
        for resumed_array, clean_array in zip(load_map(output, job.id, standard_error=True),
                                              load_map(workspace / "clean", job.id, standard_error=True)):
            np.testing.assert_array_equal(resumed_array, clean_array)



# -- a changed job is explained again -------------------------------------------------------------------------------

def test_swapped_references_between_jobs_are_explained_again_and_named(workspace):
    first = [Job("a", workspace / "img0.png", reference=workspace / "ref.npy"),
             Job("b", workspace / "img0.png", reference=workspace / "ref.png")]
    run_quietly(first, workspace)
    swapped = [Job("a", workspace / "img0.png", reference=workspace / "ref.png"),
               Job("b", workspace / "img0.png", reference=workspace / "ref.npy")]

    run, messages = run_quietly(swapped, workspace)

    assert run.changed == ["a", "b"] and run.explained == ["a", "b"] and run.skipped == []
    assert any("'a', 'b'" in message and "explaining them again" in message for message in messages)
    np.testing.assert_array_equal(load_map(workspace / "out", "b"),
                                  direct_map(workspace, "img0", np.load(workspace / "ref.npy")))


def test_an_item_file_with_new_contents_is_explained_again(workspace):
    run_quietly(jobs_for(workspace, ["img0"]), workspace)
    shutil.copyfile(workspace / "img1.png", workspace / "img0.png")

    run, _ = run_quietly(jobs_for(workspace, ["img0"]), workspace)

    assert run.changed == ["img0"] and run.explained == ["img0"]
    np.testing.assert_array_equal(load_map(workspace / "out", "img0"),
                                  direct_map(workspace, "img1", np.load(workspace / "ref.npy")))


def test_a_job_given_another_item_path_is_explained_again(workspace):
    run_quietly([Job("a", workspace / "img0.png", reference=workspace / "ref.npy")], workspace)

    run, _ = run_quietly([Job("a", workspace / "img2.png", reference=workspace / "ref.npy")], workspace)

    assert run.changed == ["a"]
    np.testing.assert_array_equal(load_map(workspace / "out", "a"),
                                  direct_map(workspace, "img2", np.load(workspace / "ref.npy")))


def test_a_job_whose_files_moved_with_the_same_contents_is_kept(workspace):
    run_quietly([Job("a", workspace / "img0.png", reference=workspace / "ref.npy")], workspace)
    shutil.copyfile(workspace / "img0.png", workspace / "copy.png")

    run, messages = run_quietly([Job("a", workspace / "copy.png", reference=workspace / "ref.npy")], workspace)

    assert run.skipped == ["a"] and run.changed == [] and messages == []


def test_a_changed_reference_file_is_explained_again(workspace):
    run_quietly(jobs_for(workspace, ["img0", "img1"]), workspace)
    np.save(workspace / "ref.npy", np.arange(6.0) - 2)

    run, _ = run_quietly(jobs_for(workspace, ["img0", "img1"]), workspace)

    assert run.changed == ["img0", "img1"]
    np.testing.assert_array_equal(load_map(workspace / "out", "img1"),
                                  direct_map(workspace, "img1", np.arange(6.0) - 2))


def test_a_changed_job_that_now_fails_leaves_no_stale_map(workspace):
    run_quietly(jobs_for(workspace, ["img0"]), workspace)
    (workspace / "img0.png").unlink()

    run, _ = run_quietly(jobs_for(workspace, ["img0"]), workspace)

    assert list(run.failed) == ["img0"] and "img0.png" in run.failed["img0"]
    assert not (workspace / "out" / "img0.npy").exists()
    with pytest.raises(ValueError, match="failed"):
        load_map(workspace / "out", "img0")


# -- nothing that matters changed: the run resumes ------------------------------------------------------------------

@pytest.mark.parametrize("written", [{"p_keep": 0.5}, {"n_masks": 40.0}, {"batch_size": 7}, {"distance": "cosine"},
                                     {"feature_res": 4.0, "mask_selection_range_max": 0.1}])
def test_a_run_written_down_differently_resumes(workspace, written):
    run_quietly(jobs_for(workspace, ["img0"]), workspace)

    run, messages = run_quietly(jobs_for(workspace, ["img0", "img1"]), workspace, **written)

    assert run.skipped == ["img0"] and run.explained == ["img1"] and messages == []
    np.testing.assert_array_equal(load_map(workspace / "out", "img1"),
                                  direct_map(workspace, "img1", np.load(workspace / "ref.npy")))


def test_jobs_with_new_references_extend_the_run(workspace):
    run_quietly(jobs_for(workspace, ["img0"]), workspace)

    run, _ = run_quietly([*jobs_for(workspace, ["img0"]), *jobs_for(workspace, ["img1"], reference="ref.png")],
                         workspace)

    assert run.skipped == ["img0"] and run.explained == ["img1"]


def test_a_command_line_run_continues_a_python_run(workspace, capsys):
    run_quietly(jobs_for(workspace, ["img0"]), workspace)
    (workspace / "jobs.csv").write_text("id,item,reference\nimg0,img0.png,ref.npy\nimg1,img1.png,ref.npy\n")

    code = main(["explain-many", str(workspace / "jobs.csv"), "--model", str(workspace / "model.onnx"), "--output",
                 str(workspace / "out"), "--n-masks", "40", "--feature-res", "4", "--no-progress"])

    assert code == 0
    assert "explained 1 item, skipped 1" in capsys.readouterr().out


# -- earlier failures stay failures ---------------------------------------------------------------------------------

def test_a_rerun_reports_earlier_failures_in_run_failed(workspace):
    jobs = jobs_for(workspace, ["img0", "missing"])
    first, _ = run_quietly(jobs, workspace)

    again, _ = run_quietly(jobs, workspace)

    assert again.failed == first.failed and list(again.failed) == ["missing"]
    assert again.failed_earlier == ["missing"] and again.explained == []


def test_a_failing_item_is_recorded_and_the_others_finish(workspace):
    jobs = jobs_for(workspace, ["img0", "missing", "img1"])
    run = explain_many(jobs, workspace / "model.onnx", workspace / "out", progress=False, **PARAMETERS)

    assert run.explained == ["img0", "img1"]
    assert list(run.failed) == ["missing"] and run.failed["missing"].startswith("FileNotFoundError")
    record = read_manifest(workspace / "out")[1]["missing"]
    assert record["file"] is None and "missing.png" in record["error"]
    assert not (workspace / "out" / "missing.npy").exists()


def test_failed_items_are_skipped_on_rerun_unless_retry_failed(workspace):
    jobs = jobs_for(workspace, ["img0", "late"])
    explain_many(jobs, workspace / "model.onnx", workspace / "out", progress=False, **PARAMETERS)
    Image.open(workspace / "img1.png").save(workspace / "late.png")

    again = explain_many(jobs, workspace / "model.onnx", workspace / "out", progress=False, **PARAMETERS)
    retried = explain_many(jobs, workspace / "model.onnx", workspace / "out", progress=False, retry_failed=True,
                           **PARAMETERS)

    assert again.skipped == ["img0", "late"] and again.explained == []
    assert retried.explained == ["late"]
    assert read_manifest(workspace / "out")[1]["late"]["error"] is None
    np.testing.assert_array_equal(load_map(workspace / "out", "late"),
                                  direct_map(workspace, "img1", np.load(workspace / "ref.npy")))
