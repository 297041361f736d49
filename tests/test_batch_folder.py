"""The run folder tells the truth: one writer at a time, one file per id, manifest lines checked, and what the whole
run needs checked before the folder is created."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest_batch import PARAMETERS, REPOSITORY, direct_map, item_lines, jobs_for, make_workspace

from dianna_distance.batch import MANIFEST, Job, explain_many, load_map, map_file_name, read_manifest


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder with a small ONNX model, images and references (see :func:`conftest_batch.make_workspace`)."""
    return make_workspace(tmp_path)


# -- one writer at a time -------------------------------------------------------------------------------------------

def test_a_run_into_a_folder_another_run_is_writing_is_refused_before_it_writes(workspace):
    import fcntl

    from dianna_distance.batch import LOCK

    explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)
    before = (workspace / "out" / MANIFEST).read_bytes()
    with open(workspace / "out" / LOCK, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(ValueError, match="being written by another run"):
            explain_many(jobs_for(workspace, ["img0", "img1"]), workspace / "model.onnx", workspace / "out",
                         progress=False, **PARAMETERS)
    assert (workspace / "out" / MANIFEST).read_bytes() == before
    assert not (workspace / "out" / "img1.npy").exists()


def test_runs_started_together_into_a_new_folder_leave_one_configuration_and_every_line(workspace):
    n_runs, names = 4, ["img0", "img1", "img2", "img3"]
    jobs = [Job(f"{name}-{copy}", workspace / f"{name}.png", reference=workspace / "ref.npy")
            for copy in range(3) for name in names]
    start = threading.Barrier(n_runs)
    outcomes: dict[int, object] = {}

    def run(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = explain_many(jobs, workspace / "model.onnx", workspace / "out", progress=False,
                                           **{**PARAMETERS, "n_masks": 30 + index})
        except Exception as error:  # noqa: BLE001  (the outcome is checked below)
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(n_runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    finished = [index for index, outcome in outcomes.items() if not isinstance(outcome, Exception)]
    assert len(finished) == 1, outcomes
    for index, outcome in outcomes.items():
        if index not in finished:
            assert isinstance(outcome, ValueError), outcome
            assert "being written by another run" in str(outcome) or "another configuration" in str(outcome)
    header, records = read_manifest(workspace / "out")
    assert header["parameters"]["n_masks"] == 30 + finished[0]
    assert sorted(line["id"] for line in item_lines(workspace / "out")) == sorted(job.id for job in jobs)
    reference = np.load(workspace / "ref.npy")
    for name in names:
        np.testing.assert_array_equal(load_map(workspace / "out", f"{name}-2"),
                                      direct_map(workspace, name, reference, n_masks=30 + finished[0]))


def test_the_lock_file_is_never_replaced_or_removed(workspace):
    from dianna_distance.batch import LOCK

    explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)
    inode = os.stat(workspace / "out" / LOCK).st_ino
    explain_many(jobs_for(workspace, ["img0", "img1"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)

    assert os.stat(workspace / "out" / LOCK).st_ino == inode


def test_a_manifest_whose_creator_died_before_its_header_is_started_again(workspace):
    (workspace / "out").mkdir()
    (workspace / "out" / MANIFEST).write_bytes(b'{"configuration_sha')

    run = explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                       **PARAMETERS)

    assert run.explained == ["img0"] and read_manifest(workspace / "out")[1]["img0"]["error"] is None


# -- files ----------------------------------------------------------------------------------------------------------

def test_map_file_names_are_safe_and_distinct():
    names = [map_file_name(job_id) for job_id in ("a", "A", "x/../y", "x_.._y", "bee 1.jpg", "", "con", "nul.txt")]
    assert names[0] == "a.npy"
    assert len(set(name.lower() for name in names)) == len(names)
    assert all("/" not in name and "\\" not in name and not name.startswith(".") for name in names)
    assert names[6] != "con.npy" and names[7] != "nul.txt.npy"  # Windows device names


def test_two_ids_never_share_a_map_file_even_when_one_looks_like_the_others_hashed_name(workspace):
    spaced = "b c"
    lookalike = f"b_c-{hashlib.sha256(spaced.encode()).hexdigest()[:8]}"  # the name an id "b c" got before
    jobs = [Job(spaced, workspace / "img0.png", reference=workspace / "ref.npy"),
            Job(lookalike, workspace / "img1.png", reference=workspace / "ref.npy")]

    explain_many(jobs, workspace / "model.onnx", workspace / "out", progress=False, **PARAMETERS)

    assert map_file_name(spaced) != map_file_name(lookalike)
    reference = np.load(workspace / "ref.npy")
    np.testing.assert_array_equal(load_map(workspace / "out", spaced), direct_map(workspace, "img0", reference))
    np.testing.assert_array_equal(load_map(workspace / "out", lookalike), direct_map(workspace, "img1", reference))


def edit_first_line(folder: Path, edit: object) -> None:
    """Apply ``edit(record) -> record or bytes`` to the manifest's first job line."""
    lines = (folder / MANIFEST).read_bytes().split(b"\n")
    edited = edit(json.loads(lines[1]))
    lines[1] = edited if isinstance(edited, bytes) else json.dumps(edited).encode()
    (folder / MANIFEST).write_bytes(b"\n".join(lines))


@pytest.mark.parametrize("edit", [
    lambda record: {**record, "file": "../img0.npy"},
    lambda record: {**record, "file": "/etc/passwd"},
    lambda record: {**record, "file": 3},
    lambda record: {key: value for key, value in record.items() if key != "error"},
    lambda record: {key: value for key, value in record.items() if key != "id"},
    lambda record: {**record, "id": 7},
    lambda record: {**record, "seconds": "fast"},
    lambda record: {**record, "distances": [1, 2]},
    lambda record: {**record, "distances": {**record["distances"], "min": "low"}},
    lambda record: {**record, "error": 1},
    lambda record: {**record, "key": "abc"},
    lambda record: [record],
    lambda record: json.dumps(record).encode().replace(b"img0", b"img\xff"),
], ids=["outside", "absolute", "file-int", "no-error", "no-id", "id-int", "seconds-str", "distances-list",
        "min-str", "error-int", "key-short", "list", "not-utf8"])
def test_a_damaged_manifest_line_gets_the_damaged_manifest_message(workspace, edit):
    explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)
    edit_first_line(workspace / "out", edit)

    with pytest.raises(ValueError, match=r"damaged manifest .* line 2: "):
        read_manifest(workspace / "out")
    with pytest.raises(ValueError, match=r"damaged manifest .* line 2: "):
        explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                     **PARAMETERS)


@pytest.mark.parametrize("header", [b"[1, 2]", b'{"configuration_sha256": "x", "parameters": [1]}', b"\xff{}"])
def test_a_damaged_manifest_header_gets_the_damaged_manifest_message(workspace, header):
    explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)
    lines = (workspace / "out" / MANIFEST).read_bytes().split(b"\n")
    (workspace / "out" / MANIFEST).write_bytes(b"\n".join([header, *lines[1:]]))

    with pytest.raises(ValueError, match=r"damaged manifest .* line 1: "):
        explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                     **PARAMETERS)


def test_a_folder_of_an_older_version_is_refused_naming_its_format(workspace):
    (workspace / "out").mkdir()
    header = {"configuration_sha256": "0" * 64, "format": 1, "model_sha256": {"model": "0" * 64},
              "references_sha256": "0" * 64, "parameters": PARAMETERS}
    line = {"id": "img0", "file": "img0.npy", "item": "img0.png", "distances": None, "seconds": 1.0, "error": None}
    (workspace / "out" / MANIFEST).write_text(json.dumps(header) + "\n" + json.dumps(line) + "\n")

    with pytest.raises(ValueError, match=r"another version of dianna-distance \(format 1; this version writes"):
        explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                     **PARAMETERS)


def test_a_map_replaced_by_a_link_is_not_read_and_is_explained_again(workspace):
    explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)
    np.save(workspace / "elsewhere.npy", np.zeros((16, 16)))
    (workspace / "out" / "img0.npy").unlink()
    (workspace / "out" / "img0.npy").symlink_to(workspace / "elsewhere.npy")

    with pytest.raises(ValueError, match="not a plain file"):
        load_map(workspace / "out", "img0")
    run = explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                       **PARAMETERS)

    assert run.explained == ["img0"] and not (workspace / "out" / "img0.npy").is_symlink()
    assert np.load(workspace / "elsewhere.npy").max() == 0


# -- one bad job fails alone; what the whole run needs is checked first ---------------------------------------------

def test_a_missing_reference_file_fails_only_its_job(workspace):
    jobs = [*jobs_for(workspace, ["img0"], reference="nope.npy"), *jobs_for(workspace, ["img1"])]
    run = explain_many(jobs, workspace / "model.onnx", workspace / "out", progress=False, **PARAMETERS)

    assert run.explained == ["img1"] and list(run.failed) == ["img0"]
    assert run.failed["img0"].startswith("FileNotFoundError") and "nope.npy" in run.failed["img0"]
    assert read_manifest(workspace / "out")[1]["img0"]["file"] is None


def test_a_model_that_is_not_onnx_leaves_nothing_behind(workspace):
    (workspace / "model.onnx").write_bytes(b"not a model")

    with pytest.raises(ValueError, match="model.onnx"):
        explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                     **PARAMETERS)
    assert not (workspace / "out").exists()


@pytest.mark.parametrize(("parameter", "value"), [("n_masks", 0), ("p_keep", 1.5), ("feature_res", 0),
                                                ("weighting", "cubic"), ("mask_selection_range_max", 2.0)])
def test_a_bad_explainer_parameter_is_refused_naming_it_before_the_folder_is_created(workspace, parameter, value):
    with pytest.raises((ValueError, TypeError), match=parameter):
        explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                     **{**PARAMETERS, parameter: value})
    assert not (workspace / "out").exists()


def test_an_output_dir_that_is_a_file_is_refused_naming_it(workspace):
    with pytest.raises(NotADirectoryError, match="output_dir .*img0.png"):
        explain_many(jobs_for(workspace, ["img1"]), workspace / "model.onnx", workspace / "img0.png" / "out",
                     progress=False, **PARAMETERS)
    with pytest.raises(NotADirectoryError, match="output_dir .*img0.png"):
        explain_many(jobs_for(workspace, ["img1"]), workspace / "model.onnx", workspace / "img0.png",
                     progress=False, **PARAMETERS)


@pytest.mark.parametrize(("options", "match"), [
    ({"preset": "clip", "pixel_max": 255.0}, "pixel_max does not apply with a preset"),
    ({"mask_on": "normalized"}, "mask_on applies only with a preset"),
    ({"text_model": "text.onnx"}, "text_model applies only to jobs with a caption"),
    ({"tokenizer": "tokenizer.json"}, "tokenizer applies only to jobs with a caption"),
    ({"max_in_flight": 2}, "max_in_flight applies only with client="),
])
def test_options_that_cannot_apply_are_refused_before_anything_runs(workspace, options, match):
    with pytest.raises(ValueError, match=match):
        explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                     **options, **PARAMETERS)
    assert not (workspace / "out").exists()


@pytest.mark.parametrize(("parameters", "error", "match"), [
    ({"n_maks": 10}, TypeError, "unknown explainer parameter"),
    ({"axis_labels": {2: "channels"}}, ValueError, "axis_labels is set by explain_many"),
    ({"distance": lambda a, b: a}, TypeError, "distance must be a number, a string or None"),
])
def test_bad_explainer_parameters_are_refused_before_anything_runs(workspace, parameters, error, match):
    with pytest.raises(error, match=match):
        explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                     **parameters)
    assert not (workspace / "out").exists()


def test_duplicate_job_ids_are_refused(workspace):
    with pytest.raises(ValueError, match="job id 'img0' occurs more than once"):
        explain_many(jobs_for(workspace, ["img0", "img0"]), workspace / "model.onnx", workspace / "out",
                     progress=False, **PARAMETERS)


_WAITING_RUN = """
import os, sys, time
from pathlib import Path
from dianna_distance.batch import Job, explain_many
folder, go, index = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
jobs = [Job(f"img{i}-{copy}", folder / f"img{i}.png", reference=folder / "ref.npy")
        for copy in range(2) for i in range(4)]
(folder / f"ready{index}").touch()
while not go.exists():
    pass
try:
    explain_many(jobs, folder / "model.onnx", folder / "out", progress=False, n_masks=30 + index, feature_res=4,
                 random_state=0)
except ValueError as error:
    print(error)
    sys.exit(3)
"""


def test_processes_started_together_into_a_new_folder_leave_one_writer(workspace):
    n_runs = 3
    environment = {**os.environ, "PYTHONPATH": f"{REPOSITORY}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    processes = [subprocess.Popen([sys.executable, "-c", _WAITING_RUN, str(workspace), str(workspace / "go"),
                                   str(index)], env=environment, stdout=subprocess.PIPE, text=True)
                 for index in range(n_runs)]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all((workspace / f"ready{index}").exists() for index in range(n_runs)):
        time.sleep(0.01)
    (workspace / "go").touch()
    outputs = [process.communicate(timeout=120)[0] for process in processes]

    codes = [process.returncode for process in processes]
    assert sorted(codes) == [0] + [3] * (n_runs - 1), (codes, outputs)
    winner = codes.index(0)
    assert all("being written by another run" in output or "another configuration" in output
               for code, output in zip(codes, outputs, strict=True) if code == 3)
    header, records = read_manifest(workspace / "out")
    assert header["parameters"]["n_masks"] == 30 + winner
    assert len(item_lines(workspace / "out")) == len(records) == 8
    np.testing.assert_array_equal(load_map(workspace / "out", "img3-1"),
                                  direct_map(workspace, "img3", np.load(workspace / "ref.npy"), n_masks=30 + winner))


def test_a_reference_that_is_a_folder_fails_only_its_job_naming_it(workspace):
    (workspace / "refs").mkdir()
    jobs = [*jobs_for(workspace, ["img0"], reference="refs"), *jobs_for(workspace, ["img1"])]
    run = explain_many(jobs, workspace / "model.onnx", workspace / "out", progress=False, **PARAMETERS)

    assert run.explained == ["img1"]
    assert run.failed["img0"].startswith("FileNotFoundError: reference") and "is not a file" in run.failed["img0"]
