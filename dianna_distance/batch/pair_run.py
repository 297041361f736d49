"""Many pair explanations, resumable: :func:`explain_pairs` (jobs with ``item_a`` and ``item_b``).

A pair job is ``{"id": ..., "item_a": ..., "item_b": ...}``: each item a text, or the path of an image or ``.txt``
file (relative paths are taken relative to the jobs file's folder, or the current folder), as
:mod:`dianna_distance.batch.pair_kind` reads them. One run has one model per side and one set of parameters. Each
finished job is written at once, whole: ``<output_dir>/<file>.npz`` (the arrays of
:func:`~dianna_distance.batch.pair_kind.pair_arrays`; the file name from the id as
:func:`~dianna_distance.batch.jobs.map_file_name` makes it, ending ``.npz``) and a line of
``<output_dir>/pairs_manifest.jsonl``.

Re-running into the same folder resumes, as :func:`~dianna_distance.batch.explain_many` does: a job whose key (the
contents of both items: a file by its bytes, a text by itself) is recorded as done is skipped; a job whose items
changed is explained again, with a warning; a failed job stays failed until ``retry_failed=True``; another
configuration (models, parameters) is refused, naming what changed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dianna_distance.batch.jobs import check_unique_ids, map_file_name
from dianna_distance.batch.manifest import file_sha256
from dianna_distance.batch.pair_kind import (
    ModelLoader,
    check_pair,
    pair_arrays,
    prepare_pair,
    read_item,
    run_pair,
    save_npz,
)
from dianna_distance.checks import warn
from dianna_distance.files import write_together
from dianna_distance.pairs import PairDistanceExplainer
from dianna_distance.visualization.images import IMAGE_SUFFIXES

#: The manifest's file name in a run folder.
MANIFEST = "pairs_manifest.jsonl"
#: The fields of a pair job.
PAIR_JOB_FIELDS = ("id", "item_a", "item_b")
#: Parameters that do not change a result (not part of the configuration).
NOT_CONFIGURATION = ("batch_size", "progress")


@dataclass(frozen=True)
class PairJob:
    """One pair to explain.

    Args:
        id: Unique name; it names the output file.
        item_a: A text, or the path of an image or ``.txt`` file.
        item_b: The same for side B.
    """

    id: str
    item_a: str
    item_b: str


@dataclass
class PairBatchRun:
    """What :func:`explain_pairs` did.

    Attributes:
        output_dir: The run folder.
        done: Ids explained by this call.
        skipped: Ids done earlier with the same items (not run again).
        changed: Ids whose items changed since they were done (run again).
        failed: ``{id: error}`` of the jobs that failed (this call or, without ``retry_failed``, earlier).
        seconds: Wall-clock time of the call.
    """

    output_dir: Path
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def read_pair_jobs(path: str | Path) -> list[PairJob]:
    """Read pair jobs from a CSV (columns ``id``, ``item_a``, ``item_b``) or JSONL file; relative paths from its folder.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: Another suffix, or a line without ``item_a`` / ``item_b`` (naming the line).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"jobs file {str(path)!r} does not exist")
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as file:
            rows: list[Any] = list(csv.DictReader(file))
    elif path.suffix.lower() == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        raise ValueError(f"jobs file {str(path)!r} must be a .csv or .jsonl file")
    jobs = []
    for number, row in enumerate(rows, start=1):
        try:
            jobs.append(make_pair_job(row, path.parent))
        except (TypeError, ValueError) as error:
            raise type(error)(f"jobs file {str(path)!r}, job {number}: {error}") from error
    return jobs


def make_pair_job(job: PairJob | Mapping, base: str | Path | None = None) -> PairJob:
    """A :class:`PairJob` from a mapping (``id`` default ``"<item_a> x <item_b>"``); relative files from ``base``."""
    if isinstance(job, PairJob):
        fields: Mapping = {"id": job.id, "item_a": job.item_a, "item_b": job.item_b}
    elif isinstance(job, Mapping):
        fields = job
    else:
        raise TypeError(f"a pair job must be a PairJob or a mapping with item_a and item_b, got {type(job).__name__}")
    unknown = sorted(set(fields) - set(PAIR_JOB_FIELDS))
    if unknown:
        raise ValueError(f"a pair job has the fields {PAIR_JOB_FIELDS}, not {unknown}")
    items = []
    for name in ("item_a", "item_b"):
        value = fields.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"job field {name!r} must be a non-empty text or file path, got {value!r}")
        items.append(_absolute(value, Path(base) if base is not None else Path.cwd()))
    job_id = fields.get("id") or f"{fields['item_a']} x {fields['item_b']}"
    if not isinstance(job_id, str):
        raise TypeError(f"job field 'id' must be a str, got {job_id!r}")
    return PairJob(job_id, items[0], items[1])


def _absolute(value: str, base: Path) -> str:
    """A file item made absolute (an image or ``.txt`` name); a text as it is."""
    lowered = value.strip().lower()
    if lowered.endswith((".txt", *IMAGE_SUFFIXES)):
        path = Path(value.strip())
        return str(path if path.is_absolute() else base / path)
    return value


def pair_key(job: PairJob) -> str:
    """The job's key: SHA-256 of both items' contents (a file by its bytes, a text by itself), not of its id."""
    parts = []
    for name, value in (("item_a", job.item_a), ("item_b", job.item_b)):
        modality, read = read_item(value, name)
        parts.append(f"{modality}:{file_sha256(read)}" if modality == "image" else f"text:{read}")
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def explain_pairs(
    jobs: Iterable[PairJob | Mapping] | str | Path,
    output_dir: str | Path,
    model_a: str,
    model_b: str | None = None,
    *,
    tokenizer_a: str | None = None,
    tokenizer_b: str | None = None,
    retry_failed: bool = False,
    **explainer_parameters: Any,
) -> PairBatchRun:
    """Explain many pairs with one model per side and one set of parameters, resumably (see the module).

    Args:
        jobs: Pair jobs (:class:`PairJob` or mappings with ``item_a``, ``item_b`` and optionally ``id``), or a CSV /
            JSONL jobs file (:func:`read_pair_jobs`).
        output_dir: Folder of the ``.npz`` files and the manifest; created if missing.
        model_a: Side A's model (:data:`~dianna_distance.batch.pair_kind.PAIR_MODELS` or an ONNX file).
        model_b: Side B's model (default: ``model_a``).
        tokenizer_a: ``tokenizer.json`` of a sentence-encoder ONNX file on side A.
        tokenizer_b: The same for side B.
        retry_failed: Run the jobs recorded as failed again.
        **explainer_parameters: Parameters of :class:`~dianna_distance.PairDistanceExplainer` (JSON values); an
            int ``random_state`` (default 0) so that a resumed run gives the maps a single run would.

    Returns:
        A :class:`PairBatchRun`. A job that cannot run (a missing file, a model that fails on it) fails alone.
    """
    start = time.perf_counter()
    job_list = [make_pair_job(job) for job in read_pair_jobs(jobs)] if isinstance(jobs, (str, Path)) else \
        [make_pair_job(job) for job in jobs]
    check_unique_ids(job_list)  # type: ignore[arg-type]
    if not isinstance(retry_failed, bool):
        raise TypeError(f"retry_failed must be True or False, got {retry_failed!r}")
    parameters = {"random_state": 0, "progress": False, **explainer_parameters}
    PairDistanceExplainer(**parameters).check_parameters()
    model_b = model_a if model_b is None else model_b
    header = {"models": [_describe_model(model_a), _describe_model(model_b)],
              "parameters": {name: value for name, value in sorted(parameters.items())
                             if name not in NOT_CONFIGURATION}}
    try:
        json.dumps(header)
    except TypeError as error:
        raise TypeError(f"explainer parameters must be JSON values (numbers, strings, None): {error}") from error
    output_dir = Path(output_dir)
    records = _read_manifest(output_dir / MANIFEST, header)
    output_dir.mkdir(parents=True, exist_ok=True)
    run = PairBatchRun(output_dir)
    loaded: dict[tuple, Any] = {}
    with open(output_dir / MANIFEST, "a", encoding="utf-8") as manifest:
        if not records and manifest.tell() == 0:
            manifest.write(json.dumps({"header": header}) + "\n")
        for job in job_list:
            try:
                key = pair_key(job)
            except (OSError, TypeError, ValueError) as error:  # an unreadable item: the job fails alone
                run.failed[job.id] = f"{type(error).__name__}: {error}"
                manifest.write(json.dumps({"id": job.id, "key": None, "file": None, "error": run.failed[job.id],
                                           "seconds": 0.0}) + "\n")
                continue
            earlier = records.get(job.id)
            if earlier is not None and earlier.get("key") == key:
                if earlier.get("error") is None and (output_dir / earlier["file"]).is_file():
                    run.skipped.append(job.id)
                    continue
                if earlier.get("error") is not None and not retry_failed:
                    run.failed[job.id] = earlier["error"]
                    continue
            elif earlier is not None and earlier.get("error") is None:
                warn(f"job {job.id!r}: its items changed since it was explained; explaining it again", stacklevel=2)
                run.changed.append(job.id)
            record = _explain(job, key, output_dir, model_a, model_b, tokenizer_a, tokenizer_b, parameters, loaded)
            manifest.write(json.dumps(record) + "\n")
            manifest.flush()
            if record["error"] is None:
                run.done.append(job.id)
            else:
                run.failed[job.id] = record["error"]
    run.seconds = time.perf_counter() - start
    return run


def _explain(job: PairJob, key: str, output_dir: Path, model_a: str, model_b: str, tokenizer_a: str | None,
             tokenizer_b: str | None, parameters: dict, loaded: dict) -> dict:
    """Explain one job and write its ``.npz``; its manifest record (with the error when it failed)."""
    file = map_file_name(job.id)[: -len(".npy")] + ".npz"
    started = time.perf_counter()
    try:
        check_pair(job.item_a, job.item_b, model_a, model_b)
        sides = _prepared(job, model_a, model_b, tokenizer_a, tokenizer_b, loaded)
        explainer = run_pair(sides, **parameters)
        arrays = pair_arrays(explainer)
        write_together([(output_dir / file, lambda path: save_npz(path, arrays))])
        error = None
    except Exception as failure:  # noqa: BLE001 (a failed job is recorded and the run goes on)
        error = f"{type(failure).__name__}: {failure}"
    return {"id": job.id, "key": key, "file": file, "error": error,
            "seconds": round(time.perf_counter() - started, 3)}


def _prepared(job: PairJob, model_a: str, model_b: str, tokenizer_a: str | None, tokenizer_b: str | None,
              loaded: dict) -> Any:
    """:func:`prepare_pair`, reusing the models this run loaded already (one load per model and modality)."""
    loader = loaded.setdefault("loader", ModelLoader((tokenizer_a, tokenizer_b), None))
    return prepare_pair(job.item_a, job.item_b, model_a, model_b, tokenizer_a, tokenizer_b, loader=loader)


def _describe_model(model: str) -> str:
    path = Path(model)
    return f"file:{file_sha256(path)}" if model.lower().endswith(".onnx") and path.is_file() else f"name:{model}"


def _read_manifest(path: Path, header: dict) -> dict[str, dict]:
    """The last record of each id in a run folder's manifest; refuses another configuration."""
    if not path.is_file():
        return {}
    records: dict[str, dict] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            warn(f"{path}: line {number} is damaged (an interrupted write?); it is ignored", stacklevel=3)
            continue
        if "header" in entry:
            if entry["header"] != header:
                changed = [name for name in ("models", "parameters") if entry["header"].get(name) != header[name]]
                raise ValueError(f"output_dir {str(path.parent)!r} holds a pair run with other {' and '.join(changed)}"
                                 f" ({entry['header']}); use another folder, or the same models and parameters")
            continue
        records[entry["id"]] = entry
    return records
