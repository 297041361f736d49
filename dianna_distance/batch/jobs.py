"""What to explain: jobs, their kinds, jobs files (CSV / JSONL), and the file name of each job's map.

This module is plain data and checks, the lowest of the batch modules: it imports none of them. The run's model
(:class:`ModelSpec`) and a prepared job (:class:`PreparedJob`) are defined here because a :class:`JobKind` names
them; how a kind's jobs are prepared and run is registered into :data:`JOB_KINDS` by
:mod:`dianna_distance.batch.worker`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dianna_distance.core import MaskedDistanceExplainer

#: The fields of a job (columns of a CSV jobs file, keys of a JSONL one).
JOB_FIELDS = ("id", "item", "reference", "caption", "kind")
_PLAIN_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
#: Names Windows keeps for devices: such an id gets the hashed file name.
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


@dataclass(frozen=True, eq=False)
class Job:
    """One explanation of a run: an item against a reference.

    Args:
        id: Unique name of the job; it names the output file and the manifest line.
        item: What is explained: for ``kind="image"``, an image file, or an array laid out as the model (or the
            preset's :meth:`~dianna_distance.models.ImageEncoder.prepare`) takes it.
        reference: A ``.npy`` file holding ``(D,)`` or ``(K, D)``, an image file the model embeds, a tuple of
            such files (one map each), or an embedding array ``(D,)`` / ``(K, D)``. :func:`make_job` makes the
            paths of the kind's path fields absolute ``str``.
        caption: Instead of ``reference``: one caption or a tuple of captions, embedded by CLIP's text tower.
        kind: A key of :data:`JOB_KINDS`.
    """

    id: str
    item: str | Path | np.ndarray
    reference: str | Path | tuple[str | Path, ...] | np.ndarray | None = None
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
        embedding_output: Inner tensor of the ONNX graph used as the embedding (see :mod:`dianna_distance.layers`).
        embedding_pooling: How that tensor becomes one vector per item.
    """

    path: str
    preset: str | None = None
    mask_on: str = "pixels"
    pixel_max: float = 1.0
    providers: tuple[str, ...] | None = None
    text_model: str | None = None
    tokenizer: str | None = None
    embedding_output: str | None = None
    embedding_pooling: str = "auto"


@dataclass
class PreparedJob:
    """A job's item made ready: ``explainer.attribute(model, inputs, reference)`` gives its map."""

    explainer: MaskedDistanceExplainer
    model: Callable[[np.ndarray], np.ndarray]
    inputs: np.ndarray


@dataclass(frozen=True)
class JobKind:
    """How jobs of one kind run.

    Args:
        prepare: ``(spec, job, parameters) -> PreparedJob``: the explainer, model and input, made where the job
            runs (driver or worker).
        reference: ``(spec, job) -> (D,) or (K, D)``: the job's reference embedding(s).
        path_fields: Job fields that hold file paths (resolved against the jobs file's folder, and keyed by the
            files' contents).
        explainer_class: The explainer the parameters are for (their names are checked against it, and their
            defaults taken from it).
    """

    prepare: Callable[[ModelSpec, Job, dict], PreparedJob]
    reference: Callable[[ModelSpec, Job], np.ndarray]
    path_fields: tuple[str, ...]
    explainer_class: type


#: Job kinds by name. A kind is one modality, with how its items and references are loaded and which explainer runs.
#: :mod:`dianna_distance.batch.worker` registers ``"image"``.
JOB_KINDS: dict[str, JobKind] = {}


def describe_value(value: object) -> str:
    """A value for a message: an array by its shape, anything else as its ``repr`` (cut to 80 characters)."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- jobs -------------------------------------------------------------------------------------------------------

def read_jobs(path: str | Path) -> list[Job]:
    """Read jobs from a CSV or JSONL file.

    Columns (CSV) or keys (JSONL, one object per line): ``item`` (required), ``reference`` or ``caption``, and
    optionally ``id`` (default: the item as written) and ``kind`` (default ``"image"``). In JSONL,
    ``reference`` and ``caption`` may be lists (one map per entry). Relative paths are taken relative to the
    jobs file's folder. A CSV file saved with a byte-order mark (as spreadsheets do) is read.

    Args:
        path: ``.csv`` or ``.jsonl`` file.

    Returns:
        The jobs, in file order.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError, TypeError: A line is not valid (the message names the line and the field).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"jobs file {str(path)!r} " + ("is not a file" if path.exists() else "does not exist"))
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise ValueError(f"jobs file {str(path)!r} must end in .csv or .jsonl")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(f"jobs file {str(path)!r} line {line}: not UTF-8 text") from None
    rows = _csv_rows(text, path) if suffix == ".csv" else _jsonl_rows(text, path)
    jobs: list[Job] = []
    lines: dict[str, int] = {}
    for number, row in rows:
        try:
            job = make_job(row, base=path.parent)
        except (ValueError, TypeError) as error:
            raise type(error)(f"jobs file {str(path)!r} line {number}: {error}") from None
        if job.id in lines:
            raise ValueError(f"jobs file {str(path)!r} line {number}: job id {job.id!r} occurs more than once "
                             f"(also on line {lines[job.id]}); give each job its own id")
        lines[job.id] = number
        jobs.append(job)
    return jobs


def _csv_rows(text: str, path: Path) -> list[tuple[int, dict]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise ValueError(f"jobs file {str(path)!r} line 1: not valid CSV ({error})") from None
    if header is None:
        return []
    header = [name.strip() for name in header]
    unknown = [name for name in header if name not in JOB_FIELDS]
    if unknown:
        raise ValueError(f"jobs file {str(path)!r} line 1: unknown column(s) {unknown}; the columns are "
                         f"{', '.join(JOB_FIELDS)}")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValueError(f"jobs file {str(path)!r} line 1: column(s) {repeated} given more than once")
    rows = []
    try:
        for values in reader:
            number = reader.line_num
            if not any(value.strip() for value in values):
                continue
            if len(values) > len(header):
                raise ValueError(f"jobs file {str(path)!r} line {number}: {len(values)} fields, but the header has "
                                 f"{len(header)} columns ({', '.join(header)})")
            rows.append((number, {name: value for name, value in zip(header, values, strict=False) if value != ""}))
    except csv.Error as error:
        raise ValueError(f"jobs file {str(path)!r} line {reader.line_num}: not valid CSV ({error})") from None
    return rows


def _jsonl_rows(text: str, path: Path) -> list[tuple[int, dict]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"jobs file {str(path)!r} line {number}: not valid JSON ({error})") from None
        if not isinstance(row, dict):
            raise ValueError(f"jobs file {str(path)!r} line {number}: a job must be a JSON object with the keys "
                             f"{', '.join(JOB_FIELDS)}, got {type(row).__name__}")
        rows.append((number, row))
    return rows


def make_job(spec: Job | Mapping | tuple, base: str | Path | None = None) -> Job:
    """Turn a :class:`Job`, a mapping (keys as in :func:`read_jobs`) or a pair ``(item, reference)`` into a checked Job.

    Paths of the kind's path fields become absolute, relative ones taken against ``base`` (default: the current
    folder), so that workers with another working folder find them.

    Raises:
        ValueError, TypeError: A field is missing or of the wrong type; the message names the field.
    """
    if isinstance(spec, Job):
        fields = {"id": spec.id, "item": spec.item, "reference": spec.reference, "caption": spec.caption,
                  "kind": spec.kind}
    elif isinstance(spec, Mapping):
        unknown = [key for key in spec if key not in JOB_FIELDS]
        if unknown:
            raise ValueError(f"unknown job field(s) {sorted(map(repr, unknown))}; the fields are "
                             f"{', '.join(JOB_FIELDS)}")
        fields = dict(spec)
    elif isinstance(spec, tuple) and len(spec) == 2:
        fields = {"item": spec[0], "reference": spec[1]}
    else:
        raise TypeError(f"a job must be a Job, a mapping or a pair (item, reference), got {type(spec).__name__}")
    kind = fields.get("kind")
    kind = "image" if kind is None else kind
    if not isinstance(kind, str) or kind not in JOB_KINDS:
        raise ValueError(f"job field 'kind' must be one of {sorted(JOB_KINDS)}, got {describe_value(kind)}")
    path_fields = JOB_KINDS[kind].path_fields
    base = Path(base) if base is not None else Path.cwd()
    item = _check_item(fields.get("item"), "item" in path_fields, base)
    reference = _check_reference(fields.get("reference"), "reference" in path_fields, base)
    caption = _check_caption(fields.get("caption"))
    if (reference is None) == (caption is None):
        raise ValueError(f"job for item {describe_value(item)} needs exactly one of reference and caption (the "
                         "fields 'reference' and 'caption')")
    job_id = fields.get("id")
    if job_id is None:
        if isinstance(item, np.ndarray):
            raise ValueError("job field 'id' is needed for a job whose item is an array")
        job_id = str(fields["item"])
    if not isinstance(job_id, (str, int)) or isinstance(job_id, bool) or str(job_id) == "":
        raise TypeError(f"job field 'id' must be a non-empty str, got {describe_value(job_id)}")
    return Job(str(job_id), item, reference, caption, kind)


def _check_item(item: object, is_path: bool, base: Path) -> str | Path | np.ndarray:
    if item is None:
        raise ValueError("job field 'item' is missing: a job needs an item")
    if isinstance(item, np.ndarray):
        return item
    if not isinstance(item, (str, Path)) or str(item) == "":
        expected = "a file path" if is_path else "a str"
        raise TypeError(f"job field 'item' must be {expected} or an array, got {describe_value(item)}")
    return _absolute(item, base) if is_path else item


def _check_reference(reference: object, is_path: bool, base: Path
                     ) -> str | Path | tuple[str | Path, ...] | np.ndarray | None:
    if reference is None or isinstance(reference, np.ndarray):
        return reference
    entries = list(reference) if isinstance(reference, (list, tuple)) else [reference]
    paths = [entry for entry in entries if isinstance(entry, (str, Path)) and str(entry) != ""]
    if not entries or len(paths) != len(entries):
        raise TypeError("job field 'reference' must be a file path, a non-empty list of file paths or an array, "
                        f"got {describe_value(reference)}")
    if is_path:
        paths = [_absolute(entry, base) for entry in paths]
    return tuple(paths) if isinstance(reference, (list, tuple)) else paths[0]


def _check_caption(caption: object) -> str | tuple[str, ...] | None:
    if caption is None:
        return None
    entries = list(caption) if isinstance(caption, (list, tuple)) else [caption]
    texts = [entry for entry in entries if isinstance(entry, str) and entry.strip()]
    if not entries or len(texts) != len(entries):
        raise TypeError(f"job field 'caption' must be a non-empty str or a non-empty list of them, got "
                        f"{describe_value(caption)}")
    return tuple(texts) if isinstance(caption, (list, tuple)) else texts[0]


def _absolute(value: str | Path, base: Path) -> str:
    return str((base / Path(value).expanduser()).resolve())


def check_unique_ids(jobs: list[Job]) -> None:
    """Refuse two jobs with one id (they would share a map file and a manifest line)."""
    seen = set()
    for job in jobs:
        if job.id in seen:
            raise ValueError(f"job id {job.id!r} occurs more than once; give each job its own id")
        seen.add(job.id)


def map_file_name(job_id: str) -> str:
    """The ``.npy`` file name of a job's map: two ids never share a file, on any file system.

    A plain lower-case id (letters, digits, ``.``, ``_``, ``-``, at most 100 characters, not a Windows device name)
    is the name itself. Any other id gets its characters outside ``[A-Za-z0-9._-]`` replaced, then ``~`` and 16
    hex digits of its SHA-256: ``~`` never occurs in a plain id, so a hashed name never equals a plain one, and
    hashed names differ in their (lower-case) hash, also where upper and lower case are one.
    """
    if _PLAIN_ID.fullmatch(job_id) and job_id.split(".")[0] not in _RESERVED:
        return f"{job_id}.npy"
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", job_id)[:80].strip("._") or "item"
    return f"{cleaned}~{hashlib.sha256(job_id.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}.npy"
