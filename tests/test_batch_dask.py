"""explain_many and explain_split on Dask: the maps of a local run; a Client, a LocalCluster or an address; a closed
client or an unreachable scheduler refused before anything is written."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest_batch import PARAMETERS, SIZE, jobs_for, make_workspace

from dianna_distance import DistanceExplainer
from dianna_distance.batch import Job, explain_many, load_map, read_manifest


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder with a small ONNX model, images and references (see :func:`conftest_batch.make_workspace`)."""
    return make_workspace(tmp_path)

@pytest.fixture(scope="module")
def thread_cluster():
    """A LocalCluster with two single-threaded workers in this process."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def thread_client(thread_cluster):
    """A Dask client of :func:`thread_cluster`."""
    import distributed

    with distributed.Client(thread_cluster) as client:
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



def test_a_local_cluster_may_be_given_as_client(workspace, thread_cluster):
    jobs = jobs_for(workspace, ["img0", "img1"])
    local = explain_many(jobs, workspace / "model.onnx", workspace / "local", progress=False, **PARAMETERS)
    run = explain_many(jobs, workspace / "model.onnx", workspace / "dask", client=thread_cluster, progress=False,
                       **PARAMETERS)

    assert sorted(run.explained) == sorted(local.explained) == ["img0", "img1"]
    for job_id in local.explained:
        np.testing.assert_array_equal(load_map(workspace / "dask", job_id), load_map(workspace / "local", job_id))
    assert thread_cluster.status.name == "running"


def test_a_closed_client_is_refused_before_anything_is_written(workspace, thread_cluster):
    import distributed

    client = distributed.Client(thread_cluster, set_as_default=False)
    client.close()

    with pytest.raises(ValueError, match="client: the Dask client is closed"):
        explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", client=client,
                     progress=False, **PARAMETERS)
    assert not (workspace / "out").exists()


def test_an_unreachable_scheduler_is_refused_before_anything_is_written(workspace):
    pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), pytest.raises(
            ConnectionError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:1'"):
        explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out",
                     client="tcp://127.0.0.1:1", progress=False, **PARAMETERS)
    assert not (workspace / "out").exists()


def test_a_client_string_that_is_no_address_is_refused_naming_client(workspace):
    pytest.importorskip("distributed")

    with pytest.raises(ValueError, match="client: 'scheduler-host' is not a Dask scheduler address"):
        explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out",
                     client="scheduler-host", progress=False, **PARAMETERS)
    assert not (workspace / "out").exists()
