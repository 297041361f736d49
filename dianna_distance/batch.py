"""Many explanations in one resumable run: locally, one item after another, or as tasks on a Dask cluster.

A run explains a list of jobs, each an *item* (an image file or array) against a *reference* (a ``.npy``
embedding, an image file the model embeds, an embedding array, or captions), with one model and one set of
explainer parameters::

    run = explain_many([Job("bee", "bee.jpg", reference="fly.jpg"), ...], "model.onnx", "maps/",
                       n_masks=1000, random_state=0)

The driver writes each result as it arrives: ``<output_dir>/<file>.npy`` (written under a temporary name, then
renamed into place) and one line in ``<output_dir>/manifest.jsonl``. The manifest's first line records the
configuration: SHA-256 hashes of the model file(s), of the set of references and of the parameters. Running the
same jobs into the same directory again resumes: finished items are skipped. A run with another configuration
into that directory is refused. An item that fails is recorded with its error, and the run goes on.

Locally (the default), items run one after another in this process, each explanation using all cores through
ONNX Runtime. With ``client=`` (a :class:`distributed.Client` or a scheduler address; ``pip install
dianna-distance[dask]``), items run as tasks on the cluster's workers, one ONNX Runtime session per worker
process (:func:`cached_model`), and the driver writes the results as they complete. Paths in the jobs must then
be readable from the workers (a shared file system). The job kinds are in :data:`JOB_KINDS`.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import inspect
import json
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dianna_distance.core import auto_batch_size
from dianna_distance.explainer import DistanceExplainer

MANIFEST = "manifest.jsonl"
FORMAT_VERSION = 1
#: Explainer parameters the engine sets itself from the model, the job or its own options.
_ENGINE_PARAMETERS = ("axis_labels", "preprocess_function", "masks", "progress", "providers")
_PLAIN_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


@dataclass(frozen=True, eq=False)
class Job:
    """One explanation of a run: an item against a reference.

    Args:
        id: Unique name of the job; it names the output file and the manifest line.
        item: What is explained: for ``kind="image"``, an image file, or an array laid out as the model (or the
            preset's :meth:`~dianna_distance.models.ImageEncoder.prepare`) takes it.
        reference: A ``.npy`` file holding ``(D,)`` or ``(K, D)``, an image file the model embeds, a tuple of
            such files (one map each), or an embedding array ``(D,)`` / ``(K, D)``.
        caption: Instead of ``reference``: one caption or a tuple of captions, embedded by CLIP's text tower.
        kind: A key of :data:`JOB_KINDS`.
    """

    id: str
    item: str | Path | np.ndarray
    reference: str | Path | tuple[str, ...] | np.ndarray | None = None
    caption: str | tuple[str, ...] | None = None
    kind: str = "image"


@dataclass(frozen=True)
class ModelSpec:
    """The run's model, as a hashable description that every worker process turns into the same model.

    Args:
        path: Absolute path of the ONNX image model.
        preset: Name in :data:`dianna_distance.models.PRESETS`, or None for a plain ONNX image model fed pixels
            in ``[0, pixel_max]``.
        mask_on: ``"pixels"`` or ``"normalized"`` (presets only).
        pixel_max: Value of a white pixel (plain ONNX models only).
        providers: ONNX Runtime execution providers; None for the default.
        text_model: Absolute path of CLIP's text-tower ONNX file (for caption references).
        tokenizer: Absolute path of its ``tokenizer.json``.
    """

    path: str
    preset: str | None = None
    mask_on: str = "pixels"
    pixel_max: float = 1.0
    providers: tuple[str, ...] | None = None
    text_model: str | None = None
    tokenizer: str | None = None


@dataclass
class PreparedJob:
    """A job's item made ready: ``explainer.attribute(model, inputs, reference)`` gives its map."""

    explainer: DistanceExplainer
    model: Callable[[np.ndarray], np.ndarray]
    inputs: np.ndarray


@dataclass(frozen=True)
class JobKind:
    """How jobs of one kind run.

    Args:
        prepare: ``(spec, job, parameters) -> PreparedJob``: the explainer, model and input, made where the job
            runs (driver or worker).
        reference: ``(spec, job) -> (D,) or (K, D)``: the job's reference embedding(s).
        path_fields: Job fields that hold file paths (resolved against the jobs file's folder).
        explainer_class: The explainer the parameters are for (their names are checked against it).
    """

    prepare: Callable[[ModelSpec, Job, dict], PreparedJob]
    reference: Callable[[ModelSpec, Job], np.ndarray]
    path_fields: tuple[str, ...]
    explainer_class: type


@dataclass
class ItemResult:
    """What running one job gives back to the driver.

    Attributes:
        id: The job's id.
        saliency: The map ``(H, W)`` or ``(K, H, W)``; None when the job failed.
        distances: Summary of the masked items' distances to the reference(s): ``min``, ``median``, ``max``
            (numbers, or lists of K numbers) and ``n_masks``; None when the job failed.
        seconds: Time the job took where it ran (loading the item and reference, and the explanation).
        error: ``"ExceptionType: message"`` when the job failed, else None.
    """

    id: str
    saliency: np.ndarray | None
    distances: dict | None
    seconds: float
    error: str | None = None


@dataclass
class BatchRun:
    """The outcome of :func:`explain_many`.

    Attributes:
        output_dir: Folder of the maps and the manifest.
        manifest: Path of ``manifest.jsonl``.
        explained: Ids explained in this run.
        skipped: Ids finished (or, without ``retry_failed``, failed) in an earlier run, not run again.
        failed: Ids that failed in this run, with their errors.
        seconds: Wall time of the run.
    """

    output_dir: Path
    manifest: Path
    explained: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


# -- models, cached once per process ------------------------------------------------------------------------------

_CACHE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _load_model(spec: ModelSpec, stamp: tuple[int, int]) -> Callable[[np.ndarray], np.ndarray]:
    if spec.preset is not None:
        from dianna_distance.models import load_image_encoder

        return load_image_encoder(spec.preset, spec.path, mask_on=spec.mask_on, providers=spec.providers)
    from dianna_distance.model import OnnxModel

    return OnnxModel(spec.path, providers=spec.providers)


@functools.lru_cache(maxsize=2)
def _load_text_encoder(text_model: str, tokenizer: str, providers: tuple[str, ...] | None) -> Callable:
    from dianna_distance.models import TextEncoder

    return TextEncoder(text_model, tokenizer, providers=providers)


def cached_model(spec: ModelSpec) -> Callable[[np.ndarray], np.ndarray]:
    """The model of ``spec``, made once per process (one ONNX Runtime session) and reused by every job.

    Returns:
        An :class:`~dianna_distance.models.ImageEncoder` for a preset, else an
        :class:`~dianna_distance.model.OnnxModel`.
    """
    with _CACHE_LOCK:
        return _load_model(spec, _stamp(spec.path))


def _stamp(path: str) -> tuple[int, int]:
    """(modification time, size) of a file: part of the cache keys, so that a replaced file is read again."""
    status = os.stat(path)
    return status.st_mtime_ns, status.st_size


@functools.lru_cache(maxsize=4096)
def _reference_from_file(spec: ModelSpec, path: str, stamp: tuple[int, int]) -> np.ndarray:
    model = cached_model(spec)
    if spec.preset is not None:
        from dianna_distance.models import load_reference

        return load_reference(path, model) if path.lower().endswith(".npy") else model.embed(path)
    from dianna_distance.models.image import load_reference_for_model

    return np.asarray(load_reference_for_model(path, model, spec.pixel_max, warn_resize=False))


def _image_reference(spec: ModelSpec, job: Job) -> np.ndarray:
    """The job's reference(s) as ``(D,)`` or ``(K, D)``: files or arrays, or captions through CLIP's text tower."""
    if job.caption is not None:
        from dianna_distance.models import check_reference

        if spec.text_model is None or spec.tokenizer is None:
            raise ValueError(f"job {job.id!r} has a caption, but the run has no text_model and tokenizer")
        with _CACHE_LOCK:
            text_encoder = _load_text_encoder(spec.text_model, spec.tokenizer, spec.providers)
        captions = job.caption if isinstance(job.caption, str) else list(job.caption)
        return check_reference(text_encoder.encode(captions), cached_model(spec), "caption embeddings")
    if isinstance(job.reference, np.ndarray):
        return job.reference
    if isinstance(job.reference, tuple):
        return np.stack([_reference_from_file(spec, path, _stamp(path)) for path in job.reference])
    return _reference_from_file(spec, job.reference, _stamp(job.reference))


def _prepare_image(spec: ModelSpec, job: Job, parameters: dict) -> PreparedJob:
    model = cached_model(spec)
    if spec.preset is not None:
        inputs, kwargs = model.prepare(job.item)
    else:
        if isinstance(job.item, np.ndarray):
            inputs = job.item
        else:
            from dianna_distance.models.image import load_image_for_model

            inputs = load_image_for_model(job.item, model, spec.pixel_max, warn_resize=False)
        kwargs = {"axis_labels": {0 if model.input_shape[1] in (1, 3) else 2: "channels"}}
    return PreparedJob(DistanceExplainer(**kwargs, **parameters), model, inputs)


#: Job kinds by name. A kind is one modality: how its items and references are loaded and which explainer runs.
JOB_KINDS: dict[str, JobKind] = {
    "image": JobKind(_prepare_image, _image_reference, path_fields=("item", "reference"),
                     explainer_class=DistanceExplainer),
}


def run_job(spec: ModelSpec, parameters: dict, job: Job) -> ItemResult:
    """Explain one job where it runs (the driver, or a Dask worker); any error is returned, not raised.

    Args:
        spec: The run's model.
        parameters: Explainer parameters.
        job: The job.

    Returns:
        The :class:`ItemResult`.
    """
    start = time.perf_counter()
    try:
        kind = JOB_KINDS[job.kind]
        prepared = kind.prepare(spec, job, parameters)
        saliency = prepared.explainer.attribute(prepared.model, prepared.inputs, kind.reference(spec, job))
        distances = _summarise(prepared.explainer.distances_)
        return ItemResult(job.id, saliency, distances, time.perf_counter() - start)
    except Exception as error:  # a failed item is recorded and the run goes on
        return ItemResult(job.id, None, None, time.perf_counter() - start, _describe(error))


def _summarise(distances: np.ndarray) -> dict:
    """``min``, ``median``, ``max`` of ``(n_masks,)`` or ``(K, n_masks)`` distances (lists for K references)."""
    distances = np.asarray(distances, dtype=np.float64)
    summary = {name: function(distances, axis=-1).tolist() for name, function in
               (("min", np.min), ("median", np.median), ("max", np.max))}
    return {**summary, "n_masks": int(distances.shape[-1])}


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


# -- jobs -------------------------------------------------------------------------------------------------------

def read_jobs(path: str | Path) -> list[Job]:
    """Read jobs from a CSV or JSONL file.

    Columns (CSV) or keys (JSONL, one object per line): ``item`` (required), ``reference`` or ``caption``, and
    optionally ``id`` (default: the item as written) and ``kind`` (default ``"image"``). In JSONL,
    ``reference`` and ``caption`` may be lists (one map per entry). Relative paths are taken relative to the
    jobs file's folder.

    Args:
        path: ``.csv`` or ``.jsonl`` file.

    Returns:
        The jobs, in file order.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"jobs file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as file:
            rows = [(number, row) for number, row in enumerate(csv.DictReader(file), start=2)]
        rows = [(number, {key: value for key, value in row.items() if value not in (None, "")}) for number, row in rows]
    elif suffix in (".jsonl", ".ndjson"):
        rows = []
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                if line.strip():
                    try:
                        rows.append((number, json.loads(line)))
                    except json.JSONDecodeError as error:
                        raise ValueError(f"jobs file {str(path)!r} line {number}: not valid JSON ({error})") from None
    else:
        raise ValueError(f"jobs file {str(path)!r} must end in .csv or .jsonl")
    jobs = []
    for number, row in rows:
        try:
            jobs.append(make_job(row, base=path.parent))
        except (ValueError, TypeError) as error:
            raise type(error)(f"jobs file {str(path)!r} line {number}: {error}") from None
    return jobs


def make_job(spec: Job | Mapping | tuple, base: str | Path | None = None) -> Job:
    """Turn a :class:`Job`, a mapping (keys as in :func:`read_jobs`) or a pair ``(item, reference)`` into a checked Job.

    Paths of the kind's path fields become absolute, relative ones taken against ``base`` (default: the current
    folder), so that workers with another working folder find them.
    """
    if isinstance(spec, Job):
        fields = {"id": spec.id, "item": spec.item, "reference": spec.reference, "caption": spec.caption,
                  "kind": spec.kind}
    elif isinstance(spec, Mapping):
        unknown = set(spec) - {"id", "item", "reference", "caption", "kind"}
        if unknown:
            raise ValueError(f"unknown job field(s) {sorted(unknown)}; expected id, item, reference, caption, kind")
        fields = dict(spec)
    elif isinstance(spec, tuple) and len(spec) == 2:
        fields = {"item": spec[0], "reference": spec[1]}
    else:
        raise TypeError(f"a job must be a Job, a mapping or a pair (item, reference), got {type(spec).__name__}")
    kind = fields.get("kind") or "image"
    if kind not in JOB_KINDS:
        raise ValueError(f"job kind must be one of {sorted(JOB_KINDS)}, got {kind!r}")
    item, reference, caption = fields.get("item"), fields.get("reference"), fields.get("caption")
    if item is None or (isinstance(item, str) and not item):
        raise ValueError("a job needs an item")
    if (reference is None) == (caption is None):
        raise ValueError(f"job for item {_short(item)} needs exactly one of reference and caption")
    job_id = fields.get("id")
    if job_id is None:
        if isinstance(item, np.ndarray):
            raise ValueError("a job whose item is an array needs an id")
        job_id = str(item)
    if not isinstance(job_id, (str, int)) or isinstance(job_id, bool) or str(job_id) == "":
        raise TypeError(f"job id must be a non-empty str, got {job_id!r}")
    base = Path(base) if base is not None else Path.cwd()
    values = {"item": item, "reference": reference}
    for name in JOB_KINDS[kind].path_fields:
        values[name] = _absolute(values[name], base)
    if isinstance(caption, list):
        caption = tuple(caption)
    if caption is not None and not (isinstance(caption, str) or all(isinstance(c, str) for c in caption)):
        raise TypeError(f"caption must be a str or a list of str, got {caption!r}")
    return Job(str(job_id), values["item"], values["reference"], caption, kind)


def _absolute(value: object, base: Path) -> object:
    if isinstance(value, (list, tuple)):
        return tuple(_absolute(entry, base) for entry in value)
    if isinstance(value, (str, Path)):
        return str((base / Path(value).expanduser()).resolve())
    if value is None or isinstance(value, np.ndarray):
        return value
    raise TypeError(f"expected a path or an array, got {type(value).__name__}")


def _short(value: object) -> str:
    return f"array of shape {value.shape}" if isinstance(value, np.ndarray) else repr(value)


def map_file_name(job_id: str) -> str:
    """The ``.npy`` file name of a job's map.

    The id itself when it is a plain lower-case name (letters, digits, ``.``, ``_``, ``-``), else the id cleaned
    of other characters plus 8 hex digits of its hash, so that no two ids share a file, also on case-insensitive
    file systems.
    """
    if _PLAIN_ID.fullmatch(job_id):
        return f"{job_id}.npy"
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", job_id)[:80].strip("._") or "item"
    return f"{cleaned}-{hashlib.sha256(job_id.encode()).hexdigest()[:8]}.npy"


# -- configuration and manifest ---------------------------------------------------------------------------------

def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _array_sha256(array: np.ndarray) -> str:
    array = np.ascontiguousarray(array)
    return hashlib.sha256(f"{array.dtype.str}{array.shape}".encode() + array.tobytes()).hexdigest()


def _references_sha256(jobs: list[Job]) -> str:
    """Hash of the set of distinct references (file contents, arrays, captions) of the jobs."""
    file_hashes: dict[str, str] = {}

    def describe(reference: object, job: Job) -> str:
        if isinstance(reference, np.ndarray):
            return "array:" + _array_sha256(reference)
        if reference not in file_hashes:
            if not Path(reference).is_file():
                raise FileNotFoundError(f"reference file {reference!r} of job {job.id!r} does not exist")
            file_hashes[reference] = file_sha256(reference)
        return "file:" + file_hashes[reference]

    described = set()
    for job in jobs:
        if job.caption is not None:
            described.add("caption:" + json.dumps(job.caption))
        elif isinstance(job.reference, tuple):
            described.add("files:" + ",".join(describe(reference, job) for reference in job.reference))
        else:
            described.add(describe(job.reference, job))
    return hashlib.sha256("\n".join(sorted(described)).encode()).hexdigest()


def _configuration(spec: ModelSpec, parameters: dict, jobs: list[Job]) -> dict:
    """The manifest header: what a resumed run must share with the first one."""
    models = {"model": file_sha256(spec.path)}
    if any(job.caption is not None for job in jobs):
        models.update(text_model=file_sha256(spec.text_model), tokenizer=file_sha256(spec.tokenizer))
    configuration = {
        "format": FORMAT_VERSION,
        "model_sha256": models,
        "preprocessing": {"preset": spec.preset, "mask_on": spec.mask_on, "pixel_max": spec.pixel_max},
        "references_sha256": _references_sha256(jobs),
        "parameters": parameters,
    }
    canonical = json.dumps(configuration, sort_keys=True, separators=(",", ":"))
    return {"configuration_sha256": hashlib.sha256(canonical.encode()).hexdigest(), **configuration,
            "model": spec.path}


def read_manifest(output_dir: str | Path) -> tuple[dict, dict[str, dict]]:
    """Read a run's manifest.

    A last line cut short (the writer was killed while writing it) is ignored.

    Args:
        output_dir: The run's folder.

    Returns:
        ``(header, records)``: the configuration line, and the latest line of each item id, in the order the
        items were first recorded. A record has ``id``, ``file`` (None for a failed item), ``item``,
        ``distances``, ``seconds`` and ``error``.
    """
    path = Path(output_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no manifest {str(path)!r}: not a dianna-distance run folder")
    header, records, _ = _parse_manifest(path)
    return header, records


def _parse_manifest(path: Path) -> tuple[dict, dict[str, dict], int]:
    """``(header, records, length of the complete lines in bytes)``."""
    data = path.read_bytes()
    complete = data.rfind(b"\n") + 1
    lines = data[:complete].decode("utf-8").splitlines()
    try:
        header = json.loads(lines[0]) if lines else None
        records = {}
        for line in lines[1:]:
            record = json.loads(line)
            records[record["id"]] = record
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"manifest {str(path)!r} is damaged ({error}); it was not written by dianna-distance "
                         "or was edited") from None
    if not isinstance(header, dict) or "configuration_sha256" not in header:
        raise ValueError(f"manifest {str(path)!r} has no configuration line; it was not written by dianna-distance")
    return header, records, complete


def _differences(old: dict, new: dict) -> str:
    changed = []
    for key in ("model_sha256", "preprocessing", "references_sha256"):
        if old.get(key) != new.get(key):
            changed.append({"model_sha256": "model file", "preprocessing": "preprocessing",
                            "references_sha256": "references"}[key])
    old_parameters, new_parameters = old.get("parameters", {}), new.get("parameters", {})
    for name in sorted(set(old_parameters) | set(new_parameters)):
        if old_parameters.get(name) != new_parameters.get(name):
            changed.append(f"{name} {old_parameters.get(name)!r} -> {new_parameters.get(name)!r}")
    return ", ".join(changed) or f"format {old.get('format')} -> {new.get('format')}"


class _Manifest:
    """The run folder's manifest, open for appending, locked against a second writer."""

    def __init__(self, output_dir: Path, header: dict) -> None:
        self.path = output_dir / MANIFEST
        if not self.path.exists():
            _write_whole(self.path, (json.dumps(header) + "\n").encode())
        self.file = open(self.path, "r+b")  # closed by close()
        _lock(self.file, output_dir)
        old, self.records, complete = _parse_manifest(self.path)
        if old["configuration_sha256"] != header["configuration_sha256"]:
            self.close()
            raise ValueError(f"output_dir {str(output_dir)!r} holds a run with another configuration "
                             f"({_differences(old, header)}); use another output folder, or delete this one")
        self.file.truncate(complete)  # a line cut short by a killed writer
        self.file.seek(complete)

    def append(self, record: dict) -> None:
        # No fsync: the map was synced before its line is written, and a line lost in a power cut only means
        # that the item runs again. A killed process loses nothing that write() has returned from.
        self.file.write((json.dumps(record) + "\n").encode())
        self.file.flush()
        self.records[record["id"]] = record

    def close(self) -> None:
        self.file.close()


def _lock(file: object, output_dir: Path) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock
        return
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        file.close()
        raise ValueError(f"output_dir {str(output_dir)!r} is being written by another run") from None


def _write_whole(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _save_map(path: Path, saliency: np.ndarray) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(temporary, "wb") as file:
        np.save(file, saliency)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def load_map(output_dir: str | Path, job_id: str) -> np.ndarray:
    """The map of a finished item of a run, ``(H, W)`` or ``(K, H, W)``."""
    _, records = read_manifest(output_dir)
    if job_id not in records:
        raise KeyError(f"no item {job_id!r} in the run in {str(output_dir)!r}")
    record = records[job_id]
    if record["error"] is not None:
        raise ValueError(f"item {job_id!r} failed: {record['error']}")
    return np.load(Path(output_dir) / record["file"])


# -- the run ----------------------------------------------------------------------------------------------------

def explain_many(
    jobs: Iterable[Job | Mapping | tuple] | str | Path,
    model: str | Path,
    output_dir: str | Path,
    *,
    preset: str | None = None,
    mask_on: str = "pixels",
    pixel_max: float = 1.0,
    providers: str | list[str] | None = None,
    text_model: str | Path | None = None,
    tokenizer: str | Path | None = None,
    client: object | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    item_progress: bool = False,
    max_in_flight: int | None = None,
    **explainer_parameters,
) -> BatchRun:
    """Explain many (item, reference) jobs with one model and one set of parameters, resumably.

    Each finished item is written at once: its map to ``<output_dir>/<file>.npy`` (see :func:`map_file_name`),
    via a temporary file renamed into place, and a line to ``<output_dir>/manifest.jsonl`` (see
    :func:`read_manifest`). Re-running into the same folder skips the items already finished; a different
    configuration (model file, preprocessing, references or parameters) is refused with a ValueError.

    Args:
        jobs: Jobs (:class:`Job`, mappings or ``(item, reference)`` pairs; see :func:`make_job`), or a CSV/JSONL
            jobs file (see :func:`read_jobs`).
        model: ONNX image model file; with ``preset``, also a registry name or the preset's name (fetched).
        output_dir: Folder for the maps and the manifest; created if missing.
        preset: Preprocess as this preset says (see :func:`dianna_distance.models.load_image_encoder`).
        mask_on: ``"pixels"`` or ``"normalized"``, with a preset.
        pixel_max: Value of a white pixel, without a preset.
        providers: ONNX Runtime execution providers (not part of the configuration hash).
        text_model: CLIP text-tower ONNX file for caption references (default: the registry's ``clip-text``).
        tokenizer: Its ``tokenizer.json`` (default: the registry's ``clip-tokenizer``).
        client: None to run here; a :class:`distributed.Client` or a scheduler address to run on a Dask cluster.
        retry_failed: Run the items recorded as failed again (default: skip them, like finished ones).
        progress: Progress bar over items.
        item_progress: Progress bar inside each explanation.
        max_in_flight: With ``client``: at most this many items submitted at once (default: twice the
            cluster's threads, at least 4).
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
    jobs = [make_job(job) for job in jobs]
    _check_unique(jobs)
    for name, value in (("retry_failed", retry_failed), ("progress", progress), ("item_progress", item_progress)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    parameters = _check_parameters(explainer_parameters, {job.kind for job in jobs})
    if client is not None:
        _check_client(client)
        if max_in_flight is not None and (not isinstance(max_in_flight, int) or isinstance(max_in_flight, bool)
                                          or max_in_flight < 1):
            raise ValueError(f"max_in_flight must be a positive int or None, got {max_in_flight!r}")
    spec = _model_spec(model, preset, mask_on, pixel_max, providers, text_model, tokenizer,
                       captions=any(job.caption is not None for job in jobs))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    manifest = _Manifest(output_dir, _configuration(spec, parameters, jobs))
    run = BatchRun(output_dir, manifest.path)
    try:
        _remove_temporary_files(output_dir)
        todo = []
        for job in jobs:
            record = manifest.records.get(job.id)
            finished = record is not None and (record["error"] is None and (output_dir / record["file"]).is_file()
                                               or record["error"] is not None and not retry_failed)
            (run.skipped.append(job.id) if finished else todo.append(job))
        parameters = {**parameters, "progress": item_progress}
        results = (_local_results(spec, parameters, todo) if client is None else
                   _dask_results(client, spec, parameters, todo, max_in_flight))
        with tqdm(total=len(jobs), initial=len(run.skipped), desc="Items", unit="item", disable=not progress) as bar:
            for job, result in results:
                _record(output_dir, manifest, job, result, run)
                bar.update(1)
                if run.failed:
                    bar.set_postfix(failed=len(run.failed))
    finally:
        manifest.close()
    run.seconds = time.perf_counter() - start
    return run


def _check_unique(jobs: list[Job]) -> None:
    seen = set()
    for job in jobs:
        if job.id in seen:
            raise ValueError(f"job id {job.id!r} occurs more than once; give each job its own id")
        seen.add(job.id)


def _check_parameters(parameters: dict, kinds: set[str]) -> dict:
    for name, value in parameters.items():
        if name in _ENGINE_PARAMETERS:
            raise ValueError(f"{name} is set by explain_many itself (from the model, the preset or its own "
                             "options); leave it out")
        if not (value is None or isinstance(value, (bool, int, float, str))):
            raise TypeError(f"explainer parameter {name} must be a number, a string or None (so that the run can "
                            f"be hashed and resumed), got {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"explainer parameter {name} must be finite, got {value!r}")
    for kind in kinds:
        accepted = inspect.signature(JOB_KINDS[kind].explainer_class).parameters
        unknown = sorted(set(parameters) - set(accepted))
        if unknown:
            raise TypeError(f"unknown explainer parameter(s) {unknown} for {JOB_KINDS[kind].explainer_class.__name__}")
    return dict(sorted(parameters.items()))


def _model_spec(
    model: str | Path, preset: str | None, mask_on: str, pixel_max: float, providers: list[str] | None,
    text_model: str | Path | None, tokenizer: str | Path | None, captions: bool,
) -> ModelSpec:
    if not isinstance(model, (str, Path)):
        raise TypeError(f"model must be the path of an ONNX file (str or Path), got {type(model).__name__}")
    if preset is not None:
        from dianna_distance.models import EXPORTED_PRESETS, PRESET_FILES, PRESETS, exported_model_file, fetch

        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)} or None, got {preset!r}")
        if str(model) == preset and preset in EXPORTED_PRESETS:  # the preset's own name: its file, as
            model = exported_model_file(EXPORTED_PRESETS[preset])  # load_image_encoder finds it
        elif str(model) == preset and preset in PRESET_FILES:
            model = PRESET_FILES[preset]
        model = fetch(model)
    elif captions:
        raise ValueError("caption references need a preset (preset='clip')")
    if not Path(model).is_file():
        raise FileNotFoundError(f"model: ONNX file {str(model)!r} does not exist")
    if mask_on not in ("pixels", "normalized"):
        raise ValueError(f"mask_on must be 'pixels' or 'normalized', got {mask_on!r}")
    if not isinstance(pixel_max, (int, float)) or isinstance(pixel_max, bool) or not pixel_max > 0:
        raise ValueError(f"pixel_max must be a positive number, got {pixel_max!r}")
    if captions:
        from dianna_distance.models import fetch

        text_model, tokenizer = fetch(text_model or "clip-text"), fetch(tokenizer or "clip-tokenizer")
    resolve = lambda path: None if path is None else str(Path(path).resolve())  # noqa: E731
    if isinstance(providers, str):
        providers = [providers]
    return ModelSpec(resolve(model), preset, mask_on, float(pixel_max), tuple(providers) if providers else None,
                     resolve(text_model) if captions else None, resolve(tokenizer) if captions else None)


def _remove_temporary_files(output_dir: Path) -> None:
    """Remove maps a killed writer left under their temporary names."""
    for path in output_dir.glob(".*.npy.tmp-*"):
        path.unlink(missing_ok=True)


def _record(output_dir: Path, manifest: _Manifest, job: Job, result: ItemResult, run: BatchRun) -> None:
    file_name = None
    if result.error is None:
        file_name = map_file_name(job.id)
        try:
            _save_map(output_dir / file_name, result.saliency)
        except OSError as error:  # a full disk is this item's failure, recorded like any other
            result, file_name = ItemResult(job.id, None, None, result.seconds, _describe(error)), None
    item = _short(job.item) if isinstance(job.item, np.ndarray) else job.item
    manifest.append({"id": job.id, "file": file_name, "item": item, "distances": result.distances,
                     "seconds": round(result.seconds, 6), "error": result.error})
    if result.error is None:
        run.explained.append(job.id)
    else:
        run.failed[job.id] = result.error


def _local_results(spec: ModelSpec, parameters: dict, jobs: list[Job]) -> Iterator[tuple[Job, ItemResult]]:
    for job in jobs:
        yield job, run_job(spec, parameters, job)


def _dask_results(
    client: object, spec: ModelSpec, parameters: dict, jobs: list[Job], max_in_flight: int | None
) -> Iterator[tuple[Job, ItemResult]]:
    """Submit the jobs to the cluster, at most ``max_in_flight`` at a time, and yield results as they complete."""
    with _connected(client) as client:
        from distributed import as_completed

        if max_in_flight is None:
            max_in_flight = max(4, 2 * sum(client.nthreads().values()))
        waiting = iter(jobs)
        submitted: dict[object, Job] = {}

        def submit_next() -> object | None:
            job = next(waiting, None)
            if job is None:
                return None
            future = client.submit(run_job, spec, parameters, job, pure=False,
                                   key=f"explain-{job.id[:60]}-{uuid.uuid4().hex[:12]}")
            submitted[future] = job
            return future

        futures = [future for future in (submit_next() for _ in range(max_in_flight)) if future is not None]
        completed = as_completed(futures)
        for future in completed:
            job = submitted.pop(future)
            try:
                result = future.result()
            except Exception as error:  # e.g. KilledWorker: the item killed its worker every time it ran
                result = ItemResult(job.id, None, None, 0.0, _describe(error))
            future.release()
            following = submit_next()
            if following is not None:
                completed.add(following)
            yield job, result


def _check_client(client: object) -> None:
    """A :class:`distributed.Client` or a scheduler address, with dask.distributed installed."""
    try:
        from distributed import Client
    except ImportError as error:
        raise ImportError("a Dask client needs dask.distributed: pip install 'dianna-distance[dask]'") from error
    if not isinstance(client, (str, Client)):
        raise TypeError(f"client must be a distributed.Client or a scheduler address, got {type(client).__name__}")


@contextlib.contextmanager
def _connected(client: object) -> Iterator[object]:
    """The given :class:`distributed.Client`, or a client of the scheduler at an address (closed afterwards)."""
    from distributed import Client

    if isinstance(client, str):
        with Client(client) as own:
            yield own
    else:
        yield client


# -- one explanation spread over a cluster -----------------------------------------------------------------------

def explain_split(
    job: Job | Mapping | tuple,
    model: str | Path,
    client: object,
    *,
    preset: str | None = None,
    mask_on: str = "pixels",
    pixel_max: float = 1.0,
    providers: str | list[str] | None = None,
    text_model: str | Path | None = None,
    tokenizer: str | Path | None = None,
    masks_per_task: int | None = None,
    progress: bool = True,
    **explainer_parameters,
) -> np.ndarray:
    """One explanation whose masks are embedded on a Dask cluster's workers: for a large ``n_masks`` or a slow model.

    Each task embeds a range of masks (:meth:`~dianna_distance.core.MaskedDistanceExplainer.embed_masked`): the
    workers draw those masks themselves from ``random_state`` and the mask index, and only the embeddings travel
    back. The driver then makes the map
    (:meth:`~dianna_distance.core.MaskedDistanceExplainer.attribute_from_embeddings`). The masked batches are the
    ones a local run makes (the automatic batch size is fixed from the whole run, and every task embeds whole
    batches), so the map is that of ``explain_many`` or ``DistanceExplainer.attribute`` with the same parameters.

    Args:
        job: The job (see :func:`make_job`); its paths must be readable from the workers.
        model: As in :func:`explain_many`.
        client: A :class:`distributed.Client` or a scheduler address.
        preset: As in :func:`explain_many`.
        mask_on: As in :func:`explain_many`.
        pixel_max: As in :func:`explain_many`.
        providers: As in :func:`explain_many`.
        text_model: As in :func:`explain_many`.
        tokenizer: As in :func:`explain_many`.
        masks_per_task: Masks embedded per task, rounded up to whole batches. Default: about two tasks per
            worker thread.
        progress: Progress bar over masks.
        **explainer_parameters: As in :func:`explain_many`; ``random_state`` must be an int.

    Returns:
        The map ``(H, W)``, or ``(K, H, W)`` for K references.
    """
    job = make_job(job)
    parameters = _check_parameters(explainer_parameters, {job.kind})
    _check_client(client)
    if parameters.get("tolerance") is not None:
        raise ValueError("explain_split runs a fixed n_masks; tolerance cannot be combined with it")
    random_state = parameters.get("random_state")
    if not isinstance(random_state, int) or isinstance(random_state, bool):
        raise ValueError(f"explain_split needs an int random_state, so that every worker draws the same masks; "
                         f"got {random_state!r}")
    if masks_per_task is not None and (not isinstance(masks_per_task, int) or isinstance(masks_per_task, bool)
                                       or masks_per_task < 1):
        raise ValueError(f"masks_per_task must be a positive int or None, got {masks_per_task!r}")
    spec = _model_spec(model, preset, mask_on, pixel_max, providers, text_model, tokenizer,
                       captions=job.caption is not None)
    kind = JOB_KINDS[job.kind]
    parameters = {**parameters, "progress": False}
    prepared = kind.prepare(spec, job, parameters)
    reference = kind.reference(spec, job)
    n_masks = prepared.explainer.n_masks
    if prepared.explainer.batch_size is None:  # the batches of a local run, whatever the ranges of the tasks
        parameters["batch_size"] = auto_batch_size(int(np.size(prepared.inputs)), n_masks)
        prepared.explainer.batch_size = parameters["batch_size"]
    batch_size = parameters["batch_size"]
    with _connected(client) as client:
        from distributed import as_completed

        if masks_per_task is None:
            masks_per_task = math.ceil(n_masks / max(1, 2 * sum(client.nthreads().values())))
        step = batch_size * math.ceil(masks_per_task / batch_size)
        ranges = {client.submit(embed_range, spec, parameters, job, start, min(start + step, n_masks), pure=False):
                  start for start in range(0, n_masks, step)}
        embeddings = None
        with tqdm(total=n_masks, desc="Explaining", unit="mask", disable=not progress) as bar:
            for future in as_completed(ranges):
                start, chunk = ranges[future], future.result()
                if embeddings is None:
                    embeddings = np.empty((n_masks, chunk.shape[1]))
                embeddings[start : start + len(chunk)] = chunk
                future.release()
                bar.update(len(chunk))
    return prepared.explainer.attribute_from_embeddings(prepared.inputs, embeddings, reference)


def embed_range(spec: ModelSpec, parameters: dict, job: Job, start: int, stop: int) -> np.ndarray:
    """A task of :func:`explain_split`: embeddings ``(stop - start, D)`` of the item under masks ``start:stop``."""
    prepared = JOB_KINDS[job.kind].prepare(spec, job, parameters)
    return prepared.explainer.embed_masked(prepared.model, prepared.inputs, start, stop)
