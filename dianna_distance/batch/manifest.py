"""What was explained: a run folder's manifest, its lock, each job's key (content hashes), and whole writes.

A run folder holds ``manifest.jsonl``, one ``.npy`` map per finished job and ``.lock``. The manifest's first line
(the header) records the configuration every job of the folder shares: SHA-256 of the model file, the
preprocessing and the explainer parameters (:func:`~dianna_distance.batch.spec.configuration_parameters`). Each
further line records one job: its id, its *key* (:class:`JobKeys`: SHA-256 over its kind and the contents of its
item and reference(s), or its captions and the text tower), its map file, a summary of its distances, seconds and
error. The latest line of an id counts.

One run at a time writes into a folder: it holds an exclusive lock on ``.lock``, a file that is never replaced
or deleted, from before it creates or reads the manifest until it ends. The manifest is created exclusively
under that lock, and its header read under it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypedDict

import numpy as np

from dianna_distance.batch.jobs import JOB_KINDS, Job, map_file_name
from dianna_distance.batch.spec import ModelSpec

MANIFEST = "manifest.jsonl"
#: The lock file of a run folder (never replaced or deleted).
LOCK = ".lock"
FORMAT_VERSION = 2
_HEX64 = re.compile(r"[0-9a-f]{64}")
_RECORD_FIELDS = {"id", "key", "file", "item", "distances", "seconds", "error"}


class DistanceSummary(TypedDict):
    """The masked items' distances to the reference(s) of a finished job: numbers, or lists of K numbers."""

    min: float | list[float]
    median: float | list[float]
    max: float | list[float]
    n_masks: int


class ManifestRecord(TypedDict):
    """One job line of a manifest; see :func:`read_manifest`."""

    id: str
    key: str | None
    file: str | None
    item: str
    distances: DistanceSummary | None
    seconds: float
    error: str | None


# -- content hashes -----------------------------------------------------------------------------------------------

#: Sub-folder of a run folder that holds each map's standard error, under the map's file name.
STANDARD_ERROR_DIR = "standard_error"


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def array_sha256(array: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and values."""
    array = np.ascontiguousarray(array)
    return hashlib.sha256(f"{array.dtype.str}{array.shape}".encode() + array.tobytes()).hexdigest()


class JobKeys:
    """Each job's key: SHA-256 over what it explains, so that a resumed run notices a changed job.

    The key covers the job's kind, its item and its reference(s), files by their contents (a ``.npy`` reference and
    an image reference apart), arrays by dtype, shape and values, captions by their text together with the text
    tower and tokenizer files. It does not cover the id or the paths: the same contents give the same map. Files are
    hashed once per run.

    A table-row job with background rows (the run's ``training_data`` parameter, a ``.csv`` path) keys them by
    their contents too: a changed file at the same path explains its jobs again, never keeps their maps.

    Args:
        spec: The run's model.
        parameters: The run's explainer parameters (``training_data`` is read from them); None: none.
    """

    def __init__(self, spec: ModelSpec, parameters: dict | None = None) -> None:
        self.spec = spec
        self.parameters = parameters or {}
        self._files: dict[str, str] = {}

    def key(self, job: Job) -> str:
        """The job's key (64 hex digits).

        Raises:
            FileNotFoundError, OSError: A file of the job cannot be read (the job fails alone).
            ValueError: The job has a caption and the spec no text tower (``text_model`` and ``tokenizer``).
        """
        path_fields = JOB_KINDS[job.kind].path_fields
        parts: dict[str, str | list[str]] = {
            "kind": job.kind, "item": self._describe(job.item, "item" in path_fields, "item")}
        if job.caption is not None:
            if self.spec.text_model is None or self.spec.tokenizer is None:
                raise ValueError(f"job {job.id!r} has a caption, but the run's model spec has no text_model and "
                                 "tokenizer, which caption references need")
            parts["caption"] = [job.caption] if isinstance(job.caption, str) else list(job.caption)
            parts["text_model"] = self._file(self.spec.text_model, "text_model")
            parts["tokenizer"] = self._file(self.spec.tokenizer, "tokenizer")
        elif isinstance(job.reference, tuple):
            parts["reference"] = [self._describe(entry, "reference" in path_fields, "reference")
                                  for entry in job.reference]
        else:
            parts["reference"] = self._describe(job.reference, "reference" in path_fields, "reference")
        background = self.parameters.get("training_data")
        if job.kind == "tabular" and isinstance(background, (str, Path)):
            parts["training_data"] = self._file(str(background), "training_data")
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def _describe(self, value: object, is_path: bool, name: str) -> str:
        if isinstance(value, np.ndarray):
            return "array:" + array_sha256(value)
        if not is_path:
            return "value:" + json.dumps(str(value))
        role = "npy" if str(value).lower().endswith(".npy") else "file"
        return f"{role}:{self._file(str(value), name)}"

    def _file(self, path: str, name: str) -> str:
        if path not in self._files:
            if not os.path.exists(path):
                raise FileNotFoundError(f"{name} file {path!r} does not exist")
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{name} {path!r} is not a file")
            self._files[path] = file_sha256(path)
        return self._files[path]


def configuration(spec: ModelSpec, parameters: dict) -> dict:
    """The manifest header: what every job of a run folder shares.

    Args:
        spec: The run's model.
        parameters: :func:`~dianna_distance.batch.spec.configuration_parameters` of the run.
    """
    settings = {
        "format": FORMAT_VERSION,
        "model_sha256": {"model": file_sha256(spec.path)},
        "preprocessing": {"preset": spec.preset, "mask_on": spec.mask_on, "pixel_max": spec.pixel_max},
        "parameters": parameters,
    }
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return {"configuration_sha256": hashlib.sha256(canonical.encode()).hexdigest(), **settings, "model": spec.path}


def _differences(old: dict, new: dict) -> str:
    if old.get("format") != new.get("format"):
        return f"format {old.get('format')} -> {new.get('format')}: written by another version of dianna-distance"
    changed = []
    for key, name in (("model_sha256", "model file"), ("preprocessing", "preprocessing")):
        if old.get(key) != new.get(key):
            changed.append(name)
    old_parameters, new_parameters = old.get("parameters") or {}, new.get("parameters") or {}
    for name in sorted(set(old_parameters) | set(new_parameters)):
        if old_parameters.get(name) != new_parameters.get(name):
            changed.append(f"{name} {old_parameters.get(name)!r} -> {new_parameters.get(name)!r}")
    seed = old_parameters.get("random_state")
    if seed != new_parameters.get("random_state") and isinstance(seed, int) and not isinstance(seed, bool):
        # said in the library's words: the command line names the option (--random-state=N)
        changed.append(f"the run in this folder was made with random_state={seed}: random_state={seed} resumes it, "
                       f"a fresh random seed never does")
    return ", ".join(changed) or "the configuration hash"


# -- reading ------------------------------------------------------------------------------------------------------

def read_manifest(output_dir: str | Path) -> tuple[dict, dict[str, ManifestRecord]]:
    """Read a run's manifest.

    A last line cut short (the writer was killed while writing it) is ignored.

    Args:
        output_dir: The run's folder.

    Returns:
        ``(header, records)``: the configuration line, and the latest line of each item id, in the order the
        items were first recorded. A record has ``id``, ``key`` (see :class:`JobKeys`; None when the job failed
        before its files were read), ``file`` (None for a failed item), ``item``, ``distances``, ``seconds`` and
        ``error``.

    Raises:
        FileNotFoundError: The folder has no manifest.
        ValueError: The manifest is damaged (the message names the line and the field).
    """
    path = Path(output_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no manifest {str(path)!r}: not a dianna-distance run folder")
    header, records, _ = parse_manifest(path)
    return header, records


def _damaged(path: Path, number: int, problem: str) -> ValueError:
    return ValueError(f"damaged manifest {str(path)!r} line {number}: {problem}; it was not written by "
                      "dianna-distance, or was edited")


def parse_manifest(path: Path) -> tuple[dict, dict[str, ManifestRecord], int]:
    """``(header, records, length of the complete lines in bytes)`` of a manifest; see :func:`read_manifest`."""
    data = path.read_bytes()
    complete = data.rfind(b"\n") + 1
    lines = data[:complete].split(b"\n")[:-1]
    if not lines:
        raise ValueError(f"damaged manifest {str(path)!r}: it has no configuration line; it was not written by "
                         "dianna-distance")
    values = []
    for number, line in enumerate(lines, start=1):
        try:
            values.append(json.loads(line.decode("utf-8")))
        except UnicodeDecodeError:
            raise _damaged(path, number, "not UTF-8 text") from None
        except json.JSONDecodeError as error:
            raise _damaged(path, number, f"not valid JSON ({error})") from None
    header = values[0]
    if not isinstance(header, dict) or not isinstance(header.get("configuration_sha256"), str):
        raise _damaged(path, 1, "not a configuration line (no configuration_sha256)")
    for name, kind in (("model_sha256", dict), ("preprocessing", dict), ("parameters", dict), ("format", int)):
        if name in header and not isinstance(header[name], kind):
            raise _damaged(path, 1, f"field {name!r} must be a JSON {'object' if kind is dict else 'int'}, got "
                                    f"{header[name]!r}")
    if header.get("format") != FORMAT_VERSION:
        raise ValueError(f"manifest {str(path)!r} was written by another version of dianna-distance (format "
                         f"{header.get('format')!r}; this version writes format {FORMAT_VERSION}); use another output "
                         "folder, or delete this one")
    records: dict[str, ManifestRecord] = {}
    for number, record in enumerate(values[1:], start=2):
        check_record(record, functools.partial(_damaged, path, number))
        records[record["id"]] = record
    return header, records, complete


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_record(record: object, damaged: Callable[[str], Exception]) -> None:
    """Check one job line of a manifest; raise ``damaged(problem)`` naming the field at fault."""
    if not isinstance(record, dict):
        raise damaged(f"a job line must be a JSON object, got {type(record).__name__}")
    missing = sorted(_RECORD_FIELDS - set(record))
    if missing:
        raise damaged(f"field(s) {missing} missing")
    if not isinstance(record["id"], str) or not record["id"]:
        raise damaged(f"field 'id' must be a non-empty str, got {record['id']!r}")
    if record["key"] is not None and not (isinstance(record["key"], str) and _HEX64.fullmatch(record["key"])):
        raise damaged(f"field 'key' must be 64 hex digits or null, got {record['key']!r}")
    if record["error"] is not None and not isinstance(record["error"], str):
        raise damaged(f"field 'error' must be a str or null, got {record['error']!r}")
    file = record["file"]
    if record["error"] is None:
        if file != map_file_name(record["id"]):
            raise damaged(f"field 'file' must be the map file of id {record['id']!r} in the run folder "
                          f"({map_file_name(record['id'])!r}), got {file!r}")
        if record["key"] is None:
            raise damaged("field 'key' must be 64 hex digits for a finished job, got null")
    elif file is not None:
        raise damaged(f"field 'file' must be null for a failed job, got {file!r}")
    if not isinstance(record["item"], str):
        raise damaged(f"field 'item' must be a str, got {record['item']!r}")
    if not _is_number(record["seconds"]) or not record["seconds"] >= 0:
        raise damaged(f"field 'seconds' must be a number >= 0, got {record['seconds']!r}")
    distances = record["distances"]
    if distances is None:
        if record["error"] is None:
            raise damaged("field 'distances' must be an object for a finished job, got null")
        return
    if not isinstance(distances, dict) or set(distances) != {"min", "median", "max", "n_masks"}:
        raise damaged(f"field 'distances' must be an object with min, median, max and n_masks, got {distances!r}")
    if not isinstance(distances["n_masks"], int) or isinstance(distances["n_masks"], bool):
        raise damaged(f"field 'distances' n_masks must be an int, got {distances['n_masks']!r}")
    for name in ("min", "median", "max"):
        value = distances[name]
        entries = value if isinstance(value, list) else [value]
        if not entries or not all(_is_number(entry) for entry in entries):
            raise damaged(f"field 'distances' {name} must be a number or a list of numbers, got {value!r}")


def map_path(output_dir: str | Path, file: str | None) -> Path | None:
    """The map file a finished record names (its ``file``), when it is a plain file (not a link) in the run folder.

    Returns:
        The path, or None when there is no such plain file (or ``file`` is None: a failed job has no map).
    """
    if file is None:
        return None
    path = Path(output_dir) / file
    try:
        status = os.lstat(path)
    except OSError:
        return None
    return path if stat.S_ISREG(status.st_mode) else None


def load_map(output_dir: str | Path, job_id: str, standard_error: bool = False
             ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The map of a finished item of a run, ``(H, W)`` or ``(K, H, W)``, and optionally its standard error.

    Args:
        output_dir: The run folder.
        job_id: The item's id.
        standard_error: Also return the map's per-feature standard error (same shape; stored in
            ``<output_dir>/standard_error/`` under the map's file name).

    Returns:
        The map, or ``(map, standard_error)``.

    Raises:
        KeyError: The run has no job ``job_id``.
        ValueError: The job failed, or its map (or standard error) file is missing or not a plain file.
    """
    if not isinstance(standard_error, bool):
        raise TypeError(f"standard_error must be True or False, got {standard_error!r}")
    _, records = read_manifest(output_dir)
    if job_id not in records:
        raise KeyError(f"no item {job_id!r} in the run in {str(output_dir)!r}")
    record = records[job_id]
    if record["error"] is not None:
        raise ValueError(f"item {job_id!r} failed: {record['error']}")
    path = map_path(output_dir, record["file"])
    if path is None:
        raise ValueError(f"the map file {record['file']!r} of item {job_id!r} is missing or not a plain file in "
                         f"{str(output_dir)!r}")
    saliency = np.load(path, allow_pickle=False)
    if not standard_error:
        return saliency
    error_path = map_path(output_dir, f"{STANDARD_ERROR_DIR}/{record['file']}")
    if error_path is None:
        raise ValueError(f"the standard error file {STANDARD_ERROR_DIR}/{record['file']} of item {job_id!r} is "
                         f"missing or not a plain file in {str(output_dir)!r} (runs written before version 0.2 "
                         "did not store it)")
    return saliency, np.load(error_path, allow_pickle=False)


# -- writing ------------------------------------------------------------------------------------------------------

class Manifest:
    """A run folder's manifest, open for appending while this run holds the folder's lock.

    Args:
        output_dir: The run folder (it exists).
        header: :func:`configuration` of this run.

    Raises:
        ValueError: Another run is writing into the folder, the folder holds a run with another configuration,
            or its manifest is damaged.
    """

    def __init__(self, output_dir: Path, header: dict) -> None:
        self.path = output_dir / MANIFEST
        self.file: BinaryIO | None = None
        self.lock = _lock(output_dir)
        try:
            self._open(output_dir, header)
        except BaseException:
            self.close()
            raise

    def _open(self, output_dir: Path, header: dict) -> None:
        line = (json.dumps(header) + "\n").encode()
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "wb") as created:
                created.write(line)
                created.flush()
                os.fsync(created.fileno())
        self.file = file = open(self.path, "r+b")  # closed by close()
        if b"\n" not in file.read(1 << 16) and file.seek(0, os.SEEK_END) < (1 << 16):
            # A manifest without a complete first line: its creator was killed before writing the header.
            file.seek(0)
            file.truncate()
            file.write(line)
            file.flush()
            os.fsync(file.fileno())
        old, self.records, complete = parse_manifest(self.path)
        if old["configuration_sha256"] != header["configuration_sha256"]:
            raise ValueError(f"output_dir {str(output_dir)!r} holds a run with another configuration "
                             f"({_differences(old, header)}); use another output folder, or delete this one")
        file.truncate(complete)  # a line cut short by a killed writer
        file.seek(complete)

    def append(self, record: ManifestRecord) -> None:
        """Write one job's line (whole, flushed) and remember it as the job's latest."""
        # No fsync: the map was synced before its line is written, and a line lost in a power cut only means
        # that the item runs again. A killed process loses nothing that write() has returned from.
        assert self.file is not None  # __init__ opened it (or raised)
        self.file.write((json.dumps(record) + "\n").encode())
        self.file.flush()
        self.records[record["id"]] = record

    def close(self) -> None:
        """Close the manifest and release the folder's lock."""
        if self.file is not None:
            self.file.close()
        os.close(self.lock)


def _lock(output_dir: Path) -> int:
    """Open ``<output_dir>/.lock`` (created if missing, never replaced) and lock it; return its descriptor."""
    descriptor = os.open(output_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        raise ValueError(f"output_dir {str(output_dir)!r} is being written by another run") from None
    return descriptor


def save_map(path: Path, saliency: np.ndarray) -> None:
    """Write a map whole: to a temporary name in its folder, synced, then renamed into place."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(temporary, "wb") as file:
        np.save(file, saliency)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def remove_temporary_files(output_dir: Path) -> None:
    """Remove maps (and standard errors) a killed writer left under their temporary names."""
    for folder in (output_dir, output_dir / STANDARD_ERROR_DIR):
        for path in folder.glob(".*.npy.tmp-*"):
            path.unlink(missing_ok=True)
