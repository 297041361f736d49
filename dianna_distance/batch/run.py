"""Running a list of jobs into a folder: one after another here, or as tasks on a Dask cluster."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from dianna_distance.batch.cluster import check_client, connected
from dianna_distance.batch.jobs import Job, check_unique_ids, describe_value, make_job, map_file_name, read_jobs
from dianna_distance.batch.manifest import (
    STANDARD_ERROR_DIR,
    JobKeys,
    Manifest,
    configuration,
    map_path,
    remove_temporary_files,
    save_map,
)
from dianna_distance.batch.spec import (
    ModelSpec,
    check_parameters,
    configuration_parameters,
    make_model_spec,
    with_embedding_output,
)
from dianna_distance.batch.worker import ItemResult, cached_model, cached_text_encoder, describe_error, run_job

if TYPE_CHECKING:  # for annotations only: Dask is optional, and the models are loaded by the worker module
    from distributed import Client, Future

    from dianna_distance.model import OnnxModel
    from dianna_distance.models import ImageEncoder

#: ``on_result(job, result, model)``, called with each result as it is written, and the run's model as loaded here.
OnResult = Callable[[Job, ItemResult, "ImageEncoder | OnnxModel"], None]


@dataclass
class BatchRun:
    """The outcome of :func:`explain_many`.

    Attributes:
        output_dir: Folder of the maps and the manifest.
        manifest: Path of ``manifest.jsonl``.
        explained: Ids explained in this run.
        skipped: Ids finished (or, without ``retry_failed``, failed) in an earlier run, not run again.
        failed: Ids of this run's jobs that failed, with their errors: in this run, or in an earlier run and not
            retried (those are also in ``failed_earlier``).
        failed_earlier: Ids in ``failed`` whose failure was recorded by an earlier run (run them again with
            ``retry_failed=True``).
        changed: Ids finished in an earlier run whose item or reference(s) have changed since, so explained again.
        seconds: Wall time of the run.
    """

    output_dir: Path
    manifest: Path
    explained: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    failed_earlier: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def explain_many(
    jobs: Iterable[Job | Mapping | tuple] | str | Path,
    model: str | Path,
    output_dir: str | Path,
    *,
    preset: str | None = None,
    mask_on: str | None = None,
    pixel_max: float | None = None,
    providers: str | list[str] | None = None,
    text_model: str | Path | None = None,
    tokenizer: str | Path | None = None,
    client: object | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    item_progress: bool = False,
    max_in_flight: int | None = None,
    on_result: OnResult | None = None,
    **explainer_parameters,
) -> BatchRun:
    """Explain many (item, reference) jobs with one model and one set of parameters, resumably.

    Each finished item is written at once: its map to ``<output_dir>/<file>.npy`` (see :func:`map_file_name`),
    via a temporary file renamed into place, and a line to ``<output_dir>/manifest.jsonl`` (see
    :func:`read_manifest`). Only one run writes into a folder at a time; another is refused before it writes.

    Re-running into the same folder resumes:

    - A job finished earlier with the same key (its kind and the contents of its item and reference(s)) is
      skipped. A job whose item or reference(s) changed since is explained again, with a warning naming it (and
      its id in :attr:`BatchRun.changed`). New jobs extend the run.
    - A job that failed earlier stays failed (in :attr:`BatchRun.failed` and :attr:`BatchRun.failed_earlier`)
      until it is run again with ``retry_failed=True``.
    - Another configuration (model file, preprocessing, explainer parameters with their defaults filled in;
      ``batch_size`` does not count) is refused with a ValueError naming what changed.

    A job that cannot run (a missing item or reference file, an unreadable image) fails alone: it is recorded with
    its error and the run goes on. What the whole run needs (the options, the model, the output folder, the Dask
    client or scheduler) is checked before the folder or the manifest is created.

    Args:
        jobs: Jobs (:class:`Job`, mappings or ``(item, reference)`` pairs; see :func:`make_job`), or a CSV/JSONL
            jobs file (see :func:`read_jobs`).
        model: ONNX image model file; with ``preset``, also a registry name or the preset's name (fetched).
        output_dir: Folder for the maps and the manifest; created if missing.
        preset: Preprocess as this preset says (see :func:`dianna_distance.models.load_image_encoder`).
        mask_on: ``"pixels"`` (default) or ``"normalized"``; only with a preset.
        pixel_max: Value of a white pixel (default 1.0); only without a preset.
        providers: ONNX Runtime execution providers (not part of the configuration).
        text_model: CLIP text-tower ONNX file for caption references (default: the registry's ``clip-text``);
            only when a job has a caption.
        tokenizer: Its ``tokenizer.json`` (default: the registry's ``clip-tokenizer``); only with caption jobs.
        client: None to run here; a :class:`distributed.Client`, a Dask cluster (e.g. ``LocalCluster``) or a
            scheduler address to run on a Dask cluster.
        retry_failed: Run the items recorded as failed again (default: they stay failed).
        progress: Progress bar over items.
        item_progress: Progress bar inside each explanation.
        max_in_flight: With ``client``: at most this many items submitted at once (default: twice the
            cluster's threads, at least 4).
        on_result: Called in this process after each item of this run is recorded, as ``on_result(job, result,
            model)`` with the :class:`ItemResult` (map, standard error, significance, or the error) and the run's
            model as loaded here (an :class:`~dianna_distance.models.ImageEncoder` for a preset, else an
            :class:`~dianna_distance.model.OnnxModel`), for example to draw each map. An exception it raises
            becomes a warning naming the item; the run goes on.
        **explainer_parameters: Parameters of :class:`~dianna_distance.DistanceExplainer` (JSON values: numbers,
            strings, None); ``axis_labels`` and ``preprocess_function`` come from the model or preset.

    Returns:
        A :class:`BatchRun`.
    """
    start = time.perf_counter()
    if isinstance(jobs, (str, Path)):
        jobs = read_jobs(jobs)
    elif isinstance(jobs, (Job, Mapping)) or not isinstance(jobs, Iterable):
        raise TypeError(f"jobs must be an iterable of jobs or a jobs file path, got {type(jobs).__name__}")
    job_list = [make_job(job) for job in jobs]
    check_unique_ids(job_list)
    for name, value in (("retry_failed", retry_failed), ("progress", progress), ("item_progress", item_progress)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    if on_result is not None and not callable(on_result):
        raise TypeError(f"on_result must be a callable or None, got {type(on_result).__name__}")
    kinds = {job.kind for job in job_list} or {"image"}  # no jobs: the parameters are still checked
    parameters = check_parameters(explainer_parameters, kinds)
    if client is not None:
        check_client(client)
        if max_in_flight is not None and (not isinstance(max_in_flight, int) or isinstance(max_in_flight, bool)
                                          or max_in_flight < 1):
            raise ValueError(f"max_in_flight must be a positive int or None, got {max_in_flight!r}")
    elif max_in_flight is not None:
        raise ValueError("max_in_flight applies only with client= (a Dask run); leave it out")
    captions = any(job.caption is not None for job in job_list)
    spec = with_embedding_output(make_model_spec(model, preset, mask_on, pixel_max, providers, text_model, tokenizer,
                                                 captions=captions), parameters)
    output_dir = _check_output_dir(output_dir)
    with connected(client) if client is not None else contextlib.nullcontext() as connection:
        cached_model(spec)  # a model that cannot be loaded stops the run before anything is written
        if captions:
            cached_text_encoder(spec)
        header = configuration(spec, configuration_parameters(parameters, kinds))
        output_dir.mkdir(parents=True, exist_ok=True)
        manifest = Manifest(output_dir, header)
        run = BatchRun(output_dir, manifest.path)
        try:
            remove_temporary_files(output_dir)
            todo, keys = _plan(job_list, spec, manifest, run, retry_failed, parameters)
            parameters = {**parameters, "progress": item_progress}
            results = (_local_results(spec, parameters, todo) if connection is None else
                       _dask_results(connection, spec, parameters, todo, max_in_flight))
            with tqdm(total=len(job_list), initial=len(job_list) - len(todo), desc="Items", unit="item",
                      disable=not progress) as bar:
                for job, result in results:
                    _record(output_dir, manifest, job, keys[job.id], result, run)
                    if on_result is not None:
                        _call(on_result, job, result, cached_model(spec))
                    bar.update(1)
                    if run.failed:
                        bar.set_postfix(failed=len(run.failed))
        finally:
            manifest.close()
    run.seconds = time.perf_counter() - start
    return run


def _call(on_result: OnResult, job: Job, result: ItemResult, model: ImageEncoder | OnnxModel) -> None:
    try:
        on_result(job, result, model)
    except Exception as error:  # a side output (a figure) never stops the run
        warnings.warn(f"on_result failed for item {job.id!r}: {type(error).__name__}: {error}", stacklevel=3)


def _check_output_dir(output_dir: str | Path) -> Path:
    """The output folder as a Path, refused when it is a file or cannot be created or written."""
    if not isinstance(output_dir, (str, Path)) or str(output_dir) == "":
        raise TypeError(f"output_dir must be a folder path (str or Path), got {describe_value(output_dir)}")
    output_dir = Path(output_dir)
    if output_dir.exists():
        if not output_dir.is_dir():
            raise NotADirectoryError(f"output_dir {str(output_dir)!r} is a file, not a folder")
        if not os.access(output_dir, os.W_OK | os.X_OK):
            raise PermissionError(f"output_dir {str(output_dir)!r} is not writable")
        return output_dir
    ancestor = output_dir.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise NotADirectoryError(f"output_dir {str(output_dir)!r} cannot be created: {str(ancestor)!r} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PermissionError(f"output_dir {str(output_dir)!r} cannot be created: {str(ancestor)!r} is not writable")
    return output_dir


def _plan(jobs: list[Job], spec: ModelSpec, manifest: Manifest, run: BatchRun, retry_failed: bool,
          parameters: dict) -> tuple[list[Job], dict[str, str | None]]:
    """Which jobs run now, and each job's key; jobs that fail before they run are recorded here."""
    job_keys = JobKeys(spec, parameters)
    todo: list[Job] = []
    keys: dict[str, str | None] = {}
    for job in jobs:
        record = manifest.records.get(job.id)
        if record is not None and record["error"] is not None and not retry_failed:
            run.skipped.append(job.id)
            run.failed[job.id] = record["error"]
            run.failed_earlier.append(job.id)
            continue
        try:
            keys[job.id] = job_keys.key(job)
        except OSError as error:  # a missing item or reference file: this job's failure
            keys[job.id] = None
            _record(manifest.path.parent, manifest, job, None, ItemResult(job.id, None, None, 0.0,
                                                                          describe_error(error)), run)
            continue
        if (record is not None and record["error"] is None
                and map_path(manifest.path.parent, record["file"]) is not None):
            if record["key"] == keys[job.id]:
                run.skipped.append(job.id)
                continue
            run.changed.append(job.id)
        todo.append(job)
    if run.changed:
        shown = ", ".join(repr(job_id) for job_id in run.changed[:5])
        more = f" and {len(run.changed) - 5} more" if len(run.changed) > 5 else ""
        warnings.warn(f"{len(run.changed)} job(s) finished earlier in {str(manifest.path.parent)!r} have another "
                      f"item or reference now ({shown}{more}); explaining them again", stacklevel=3)
    return todo, keys


def _record(output_dir: Path, manifest: Manifest, job: Job, key: str | None, result: ItemResult,
            run: BatchRun) -> None:
    file_name: str | None = None
    if result.error is None:
        assert result.saliency is not None  # a job that did not fail has its map (see run_job)
        file_name = map_file_name(job.id)
        try:
            if result.standard_error is not None:
                (output_dir / STANDARD_ERROR_DIR).mkdir(exist_ok=True)
                save_map(output_dir / STANDARD_ERROR_DIR / file_name, result.standard_error)
            save_map(output_dir / file_name, result.saliency)
        except OSError as error:  # a full disk is this item's failure, recorded like any other
            result, file_name = ItemResult(job.id, None, None, result.seconds, describe_error(error)), None
    else:
        previous = manifest.records.get(job.id)
        if previous is not None and previous["file"] is not None:  # a stale map of an earlier version of the job
            (output_dir / previous["file"]).unlink(missing_ok=True)
            (output_dir / STANDARD_ERROR_DIR / previous["file"]).unlink(missing_ok=True)
    item = describe_value(job.item) if isinstance(job.item, np.ndarray) else str(job.item)
    manifest.append({"id": job.id, "key": key, "file": file_name, "item": item, "distances": result.distances,
                     "seconds": round(result.seconds, 6), "error": result.error})
    if result.error is None:
        run.explained.append(job.id)
    else:
        run.failed[job.id] = result.error


def _local_results(spec: ModelSpec, parameters: dict, jobs: list[Job]) -> Iterator[tuple[Job, ItemResult]]:
    for job in jobs:
        yield job, run_job(spec, parameters, job)


def _dask_results(
    client: Client, spec: ModelSpec, parameters: dict, jobs: list[Job], max_in_flight: int | None
) -> Iterator[tuple[Job, ItemResult]]:
    """Submit the jobs to the cluster, at most ``max_in_flight`` at a time, and yield results as they complete."""
    from distributed import as_completed

    if max_in_flight is None:
        max_in_flight = max(4, 2 * sum(client.nthreads().values()))
    waiting = iter(jobs)
    submitted: dict[Future, Job] = {}

    def submit_next() -> Future | None:
        job = next(waiting, None)
        if job is None:
            return None
        future = client.submit(run_job, spec, parameters, job, pure=False,
                               key=f"explain-{job.id[:60]}-{uuid.uuid4().hex[:12]}")
        submitted[future] = job
        return future

    futures = [future for future in (submit_next() for _ in range(max_in_flight)) if future is not None]
    if not futures:
        return
    completed = as_completed(futures)
    for future in completed:
        job = submitted.pop(future)
        try:
            result = future.result()
        except Exception as error:  # e.g. KilledWorker: the item killed its worker every time it ran
            result = ItemResult(job.id, None, None, 0.0, describe_error(error))
        future.release()
        following = submit_next()
        if following is not None:
            completed.add(following)
        yield job, result
