"""explain_many: many explanations written as they finish, resumable, here or on a Dask cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import save_linear_onnx
from conftest_models import save_image_model, save_text_model, save_tokenizer
from PIL import Image

from dianna_distance import DistanceExplainer
from dianna_distance.batch import (
    MANIFEST,
    Job,
    ModelSpec,
    cached_model,
    explain_many,
    load_map,
    make_job,
    map_file_name,
    read_jobs,
    read_manifest,
)
from dianna_distance.cli import main
from dianna_distance.model import OnnxModel
from dianna_distance.models.image import load_image_for_model

SIZE = 16
PARAMETERS = {"n_masks": 40, "feature_res": 4, "random_state": 0}
REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder with an NHWC ONNX model ``model.onnx`` (16 x 16 x 3 -> 6), images ``img0.png``..``img3.png``,
    a reference embedding ``ref.npy`` (6,) and a reference image ``ref.png``."""
    save_linear_onnx(tmp_path / "model.onnx", (SIZE, SIZE, 3))
    rng = np.random.default_rng(1)
    for name in ("img0", "img1", "img2", "img3", "ref"):
        pixels = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{name}.png")
    np.save(tmp_path / "ref.npy", rng.normal(size=6))
    return tmp_path


def jobs_for(folder: Path, names: list[str], reference: str = "ref.npy") -> list[Job]:
    return [Job(name, folder / f"{name}.png", reference=folder / reference) for name in names]


def direct_map(folder: Path, name: str, reference: np.ndarray) -> np.ndarray:
    model = OnnxModel(folder / "model.onnx")
    image = load_image_for_model(folder / f"{name}.png", model)
    explainer = DistanceExplainer(axis_labels={2: "channels"}, progress=False, **PARAMETERS)
    return explainer.attribute(model, image, reference)


def item_lines(output: Path) -> list[dict]:
    return [json.loads(line) for line in (output / MANIFEST).read_text().splitlines()[1:]]


# -- results ------------------------------------------------------------------------------------------------------

def test_each_item_gets_the_map_of_a_direct_explanation(workspace):
    run = explain_many(jobs_for(workspace, ["img0", "img1"]), workspace / "model.onnx", workspace / "out",
                       progress=False, **PARAMETERS)

    assert run.explained == ["img0", "img1"] and run.failed == {} and run.skipped == []
    reference = np.load(workspace / "ref.npy")
    for name in ("img0", "img1"):
        np.testing.assert_array_equal(load_map(workspace / "out", name), direct_map(workspace, name, reference))


def test_manifest_records_file_distances_and_seconds_per_item(workspace):
    explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)

    header, records = read_manifest(workspace / "out")
    record = records["img0"]
    assert record["file"] == "img0.npy" and (workspace / "out" / "img0.npy").is_file()
    assert record["error"] is None and record["seconds"] > 0
    assert record["distances"]["min"] <= record["distances"]["median"] <= record["distances"]["max"]
    assert record["distances"]["n_masks"] == 40
    assert header["parameters"] == PARAMETERS
    assert len(header["model_sha256"]["model"]) == 64 and len(header["references_sha256"]) == 64


def test_a_reference_image_is_embedded_by_the_model(workspace):
    explain_many(jobs_for(workspace, ["img0"], reference="ref.png"), workspace / "model.onnx", workspace / "out",
                 progress=False, **PARAMETERS)

    model = OnnxModel(workspace / "model.onnx")
    reference = model(load_image_for_model(workspace / "ref.png", model)[None])[0]
    np.testing.assert_allclose(load_map(workspace / "out", "img0"), direct_map(workspace, "img0", reference))


def test_several_references_give_one_map_each(workspace):
    job = Job("img0", workspace / "img0.png", reference=(workspace / "ref.npy", workspace / "ref.png"))
    explain_many([job], workspace / "model.onnx", workspace / "out", progress=False, **PARAMETERS)

    saliency = load_map(workspace / "out", "img0")
    assert saliency.shape == (2, SIZE, SIZE)
    np.testing.assert_array_equal(saliency[0], direct_map(workspace, "img0", np.load(workspace / "ref.npy")))
    assert len(read_manifest(workspace / "out")[1]["img0"]["distances"]["min"]) == 2


def test_array_items_and_references_are_accepted(workspace):
    image = np.random.default_rng(3).random((SIZE, SIZE, 3)).astype(np.float32)
    reference = np.random.default_rng(4).normal(size=6)
    explain_many([Job("array", image, reference=reference)], workspace / "model.onnx", workspace / "out",
                  progress=False, **PARAMETERS)

    expected = DistanceExplainer(axis_labels={2: "channels"}, progress=False, **PARAMETERS).attribute(
        str(workspace / "model.onnx"), image, reference)
    np.testing.assert_array_equal(load_map(workspace / "out", "array"), expected)


def test_map_file_names_are_safe_and_distinct():
    names = [map_file_name(job_id) for job_id in ("a", "A", "x/../y", "x_.._y", "bee 1.jpg", "")]
    assert names[0] == "a.npy"
    assert len(set(name.lower() for name in names)) == len(names)
    assert all("/" not in name and not name.startswith(".") for name in names)


def test_a_clip_preset_explains_items_against_captions(workspace):
    from dianna_distance.models import embed_text, load_clip

    save_image_model(workspace / "image.onnx", head="embeds", dim=4)
    save_text_model(workspace / "text.onnx", dim=4)
    save_tokenizer(workspace / "tokenizer.json")
    job = Job("bee", workspace / "img0.png", caption=("a bee", "a fly"))
    explain_many([job], workspace / "image.onnx", workspace / "out", preset="clip", text_model=workspace / "text.onnx",
                 tokenizer=workspace / "tokenizer.json", progress=False, **PARAMETERS)

    image_encoder, text_encoder = load_clip(workspace / "image.onnx", workspace / "text.onnx",
                                            workspace / "tokenizer.json")
    image, kwargs = image_encoder.prepare(workspace / "img0.png")
    expected = DistanceExplainer(**kwargs, progress=False, **PARAMETERS).attribute(
        image_encoder, image, embed_text(text_encoder, ["a bee", "a fly"]))
    np.testing.assert_array_equal(load_map(workspace / "out", "bee"), expected)
    assert expected.shape == (2, 224, 224)


# -- resuming -----------------------------------------------------------------------------------------------------

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


def test_a_changed_reference_file_is_refused(workspace):
    explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)
    np.save(workspace / "ref.npy", np.ones(6))

    with pytest.raises(ValueError, match="references"):
        explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                     **PARAMETERS)


def test_another_model_file_is_refused(workspace):
    explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)
    save_linear_onnx(workspace / "other.onnx", (SIZE, SIZE, 3), seed=5)

    with pytest.raises(ValueError, match="model file"):
        explain_many(jobs_for(workspace, ["img0"]), workspace / "other.onnx", workspace / "out", progress=False,
                     **PARAMETERS)


def test_a_run_into_a_folder_another_run_is_writing_is_refused(workspace):
    import fcntl

    explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)
    with open(workspace / "out" / MANIFEST, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(ValueError, match="being written by another run"):
            explain_many(jobs_for(workspace, ["img0", "img1"]), workspace / "model.onnx", workspace / "out",
                         progress=False, **PARAMETERS)


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
    assert sorted(path.name for path in output.iterdir()) == sorted([MANIFEST] + [f"{i}.npy" for i in ids])
    for job in jobs:
        np.testing.assert_array_equal(load_map(output, job.id), load_map(workspace / "clean", job.id))


# -- failures -----------------------------------------------------------------------------------------------------

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


def test_a_missing_reference_file_stops_the_run_before_it_starts(workspace):
    with pytest.raises(FileNotFoundError, match="nope.npy.*job 'img0'"):
        explain_many(jobs_for(workspace, ["img0"], reference="nope.npy"), workspace / "model.onnx",
                     workspace / "out", progress=False, **PARAMETERS)


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


# -- jobs files ---------------------------------------------------------------------------------------------------

def test_csv_jobs_resolve_paths_against_the_jobs_file(workspace):
    (workspace / "jobs").mkdir()
    (workspace / "jobs" / "jobs.csv").write_text("id,item,reference\nbee,../img0.png,../ref.npy\n,../img1.png,"
                                                 "../ref.png\n")
    jobs = read_jobs(workspace / "jobs" / "jobs.csv")

    assert [job.id for job in jobs] == ["bee", "../img1.png"]
    assert jobs[0].item == str(workspace / "img0.png") and jobs[1].reference == str(workspace / "ref.png")


def test_jsonl_jobs_take_lists_of_references_and_captions(workspace):
    lines = [{"id": "a", "item": "img0.png", "reference": ["ref.npy", "ref.png"]},
             {"id": "b", "item": "img1.png", "caption": ["a bee", "a fly"]}]
    (workspace / "jobs.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    first, second = read_jobs(workspace / "jobs.jsonl")

    assert first.reference == (str(workspace / "ref.npy"), str(workspace / "ref.png"))
    assert second.caption == ("a bee", "a fly") and second.reference is None


def test_a_bad_jobs_line_is_named(workspace):
    (workspace / "jobs.csv").write_text("id,item,reference,caption\na,img0.png,ref.npy,a bee\n")
    with pytest.raises(ValueError, match=r"jobs\.csv' line 2: .*exactly one of reference and caption"):
        read_jobs(workspace / "jobs.csv")


def test_make_job_accepts_pairs_and_rejects_unknown_fields(workspace):
    job = make_job((workspace / "img0.png", workspace / "ref.npy"))
    assert job.id == str(workspace / "img0.png") and job.kind == "image"
    with pytest.raises(ValueError, match="unknown job field"):
        make_job({"item": "x.png", "reference": "r.npy", "label": 3})


# -- model cache --------------------------------------------------------------------------------------------------

def test_the_model_is_made_once_per_process_and_again_when_its_file_changes(workspace):
    spec = ModelSpec(str(workspace / "model.onnx"))
    first = cached_model(spec)
    assert cached_model(spec) is first

    save_linear_onnx(workspace / "model.onnx", (SIZE, SIZE, 3), seed=9)
    os.utime(workspace / "model.onnx", ns=(0, 10**18))
    assert cached_model(spec) is not first


# -- command line -------------------------------------------------------------------------------------------------

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
    assert error.count("\n") == 1 and "random_state 0 -> 1" in error
    np.testing.assert_array_equal(load_map(workspace / "out", "a"),
                                  direct_map(workspace, "img0", np.load(workspace / "ref.npy")))


def test_cli_explain_many_exits_1_when_items_failed(workspace, capsys):
    (workspace / "jobs.csv").write_text("id,item,reference\na,img0.png,ref.npy\nb,gone.png,ref.npy\n")
    code = main(["explain-many", str(workspace / "jobs.csv"), "--model", str(workspace / "model.onnx"),
                 "--output", str(workspace / "out"), "--n-masks", "40", "--no-progress"])

    assert code == 1
    assert "1 items failed (first: 'b': FileNotFoundError" in capsys.readouterr().err


# -- Dask -----------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def thread_client():
    """A Dask client of a LocalCluster with two single-threaded workers in this process."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        yield client


def test_dask_threads_give_the_maps_of_the_local_run(workspace, thread_client):
    jobs = jobs_for(workspace, ["img0", "img1", "img2", "missing"])
    local = explain_many(jobs, workspace / "model.onnx", workspace / "local", progress=False, **PARAMETERS)
    run = explain_many(jobs, workspace / "model.onnx", workspace / "dask", client=thread_client, progress=False,
                       max_in_flight=2, **PARAMETERS)

    assert sorted(run.explained) == sorted(local.explained) and list(run.failed) == ["missing"]
    for job_id in local.explained:
        np.testing.assert_array_equal(load_map(workspace / "dask", job_id), load_map(workspace / "local", job_id))


@pytest.fixture(scope="module")
def process_client():
    """A Dask client of a LocalCluster with one single-threaded worker process; a task whose worker dies fails."""
    distributed = pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        yield client


def test_dask_worker_processes_give_the_maps_of_the_local_run_and_resume(workspace, process_client):
    jobs = jobs_for(workspace, ["img0", "img1", "img2"])
    local = explain_many(jobs, workspace / "model.onnx", workspace / "local", progress=False, **PARAMETERS)
    explain_many(jobs[:1], workspace / "model.onnx", workspace / "dask", progress=False, **PARAMETERS)
    run = explain_many(jobs, workspace / "model.onnx", workspace / "dask", client=process_client.scheduler.address,
                       progress=False, **PARAMETERS)

    assert next(iter(process_client.run(os.getpid).values())) != os.getpid()
    assert run.skipped == ["img0"] and sorted(run.explained) == ["img1", "img2"]
    for job_id in local.explained:
        np.testing.assert_array_equal(load_map(workspace / "dask", job_id), load_map(workspace / "local", job_id))


@pytest.mark.parametrize(("n_masks", "batch_size", "masks_per_task"), [(600, None, None), (40, 8, 10)])
def test_a_split_explanation_gives_the_map_of_a_local_run(workspace, thread_client, n_masks, batch_size,
                                                          masks_per_task):
    from dianna_distance.batch import explain_split

    parameters = {"n_masks": n_masks, "feature_res": 4, "random_state": 3}
    if batch_size is not None:
        parameters["batch_size"] = batch_size
    job = Job("img0", workspace / "img0.png", reference=(workspace / "ref.npy", workspace / "ref.png"))
    split = explain_split(job, workspace / "model.onnx", thread_client, masks_per_task=masks_per_task,
                          progress=False, **parameters)
    explain_many([job], workspace / "model.onnx", workspace / "local", progress=False, **parameters)

    assert split.shape == (2, SIZE, SIZE)
    np.testing.assert_array_equal(split, load_map(workspace / "local", "img0"))


def test_a_split_explanation_needs_an_int_random_state(workspace, thread_client):
    from dianna_distance.batch import explain_split

    with pytest.raises(ValueError, match="needs an int random_state"):
        explain_split(("img0.png", "ref.npy"), workspace / "model.onnx", thread_client, n_masks=40)


def _exit_process(*args: object) -> None:
    os._exit(1)


def test_an_item_that_kills_its_worker_is_recorded_as_failed(workspace, process_client, monkeypatch):
    import cloudpickle
    from distributed import WorkerPlugin

    from dianna_distance import batch

    exiting_kind = batch.JobKind(_exit_process, _exit_process, ("item",), DistanceExplainer)

    class ExitingKind(WorkerPlugin):
        """Adds the job kind "exit", whose items end their worker process, on every (re)started worker."""

        def setup(self, worker: object) -> None:
            batch.JOB_KINDS["exit"] = exiting_kind

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # this test module is not importable on workers
    monkeypatch.setitem(batch.JOB_KINDS, "exit", exiting_kind)
    process_client.register_plugin(ExitingKind(), name="exiting-kind")
    jobs = [Job("exits", workspace / "img0.png", reference=workspace / "ref.npy", kind="exit"),
            *jobs_for(workspace, ["img1"])]
    run = explain_many(jobs, workspace / "model.onnx", workspace / "out", client=process_client, progress=False,
                       max_in_flight=1, **PARAMETERS)

    assert run.explained == ["img1"]
    assert run.failed["exits"].startswith("KilledWorker")
    assert read_manifest(workspace / "out")[1]["exits"]["error"].startswith("KilledWorker")
