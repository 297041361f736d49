"""Run files: a dashboard run saved whole, and read back as data, never as instructions.

A run file is an ``.npz`` archive (:func:`run_file`) of plain arrays and one JSON member, ``meta``: the page, the
explainer's parameters, the reference labels, the item (the text, for the Texts page; an ``inputs`` array
otherwise), the chosen selection ranges, weighting and false-discovery rate. The arrays are the embedded
references, the masked inputs' embeddings, the features the run left unscored (Texts: words past the model's
maximum length) and, as the run showed them, the map, its standard error and its significance.

:func:`read_run_file` takes the uploaded bytes and nothing else: it opens no path named in the file (a Texts run
file carries its tokenizer's JSON), and it rebuilds the run without the model. It reads what every member declares
(the ``.npy`` header: shape and dtype) before any of its data, and refuses a member that is not the shape and
dtype the run needs, or arrays larger than a file of that size can hold, so a small file cannot make the server
allocate gigabytes. The rebuilt run must give the map, standard error and significance stored beside it, else the
file is refused: what the page shows is the run that was saved. Every failure is one :class:`ValueError` line
naming the uploaded file, which the page shows with ``st.error``.
"""

from __future__ import annotations

import io
import json
import math
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np

from dianna_distance.distances import WEIGHTINGS
from dianna_distance.files import npy_header
from dianna_distance.image import MASK_KINDS
from dianna_distance.masks import MASK_PAIRS

RUN_FILE_VERSION = 2
EMBEDDINGS_IN_RUN_FILE_MB = 64  # embeddings larger than this are stored as float32 in the run file
MAX_MASKS = 20_000  # the n_masks widget's maximum
MAX_FEATURE_RES = 64  # the feature_res widget's maximum
MAX_MASK_VALUES = 2**33  # masks times features: what a rebuilt run may have to sum (a live run did the same work)
MAX_REFERENCES = 256
MAX_EMBEDDING_LENGTH = 65_536
MAX_FEATURES = 2**24  # values of an item (an image of 4096 x 4096 pixels), features of a map
MAX_META_BYTES = 32 * 2**20  # the JSON member (a Texts run file holds its tokenizer.json)
MAX_LABEL_CHARACTERS = 10_000
SLACK_BYTES = 16 * 2**20  # arrays a run file may declare beyond EXPANSION times its own size
EXPANSION = 16  # how much larger than the file its arrays may be (real run files compress less than 4 times)
SELECTION = ("mask_selection_range_min", "mask_selection_range_max", "mask_selection_negative_range_min",
             "mask_selection_negative_range_max")
FDR_RANGE = (0.001, 0.5)  # the false-discovery rate widget's range


@dataclass
class Run:
    """A run read from a run file.

    Attributes:
        explainer: The page's explainer, rebuilt from the stored embeddings and selected as saved.
        inputs: The item explained (a str for the Texts page).
        parameters: The explainer parameters the page used.
        labels: One label per reference.
        selection: The selection ranges, ``weighting`` and ``fdr`` the run was saved with (and ``overlay``).
    """

    explainer: Any
    inputs: Any
    parameters: dict
    labels: list[str]
    selection: dict


def run_file(explainer: Any, inputs: np.ndarray | str, parameters: dict, labels: list[str], page: str,
             selection: dict | None = None) -> bytes:
    """A run file (``.npz`` bytes) of a run: everything :func:`read_run_file` needs to show it again.

    Args:
        explainer: The run's explainer, as the page shows it (after its re-selection and significance).
        inputs: The item explained.
        parameters: The explainer parameters the page used (JSON values only).
        labels: One label per reference.
        page: The page's name.
        selection: The selection widgets' values (ranges, ``weighting``, ``fdr``, ``overlay``); default the
            explainer's own ranges and weighting and its ``fdr_``.
    """
    chosen: dict[str, Any] = {name: float(getattr(explainer, name)) for name in SELECTION}
    chosen.update(weighting=str(getattr(explainer, "weighting_", explainer.weighting)), fdr=float(explainer.fdr_))
    chosen.update({name: value for name, value in (selection or {}).items() if name in (*SELECTION, "weighting",
                                                                                        "fdr", "overlay")})
    embeddings = np.asarray(explainer.embeddings_, dtype=np.float64)
    if embeddings.nbytes > EMBEDDINGS_IN_RUN_FILE_MB * 2**20:
        embeddings = embeddings.astype(np.float32)
    maps = np.asarray(explainer.map_, dtype=np.float64)
    references = np.atleast_2d(np.asarray(explainer.embedded_reference_, dtype=np.float64))
    seen = getattr(explainer, "seen_", None)
    feature_shape = maps.shape if np.ndim(explainer.embedded_reference_) == 1 else maps.shape[1:]
    unscored = np.zeros(feature_shape, dtype=bool) if seen is None else ~np.asarray(seen, dtype=bool)
    parameters = {**parameters, "mask_pairs": explainer.mask_pairs_}  # as run: reopens alike if a default changes
    meta = {"version": RUN_FILE_VERSION, "page": page, "parameters": parameters, "labels": list(labels),
            "n_masks": int(len(embeddings)), "selection": chosen,
            "feature_shape": list(unscored.shape)}
    members: dict[str, Any] = {"reference": references, "embeddings": embeddings, "unscored": unscored,
               "map": maps.reshape(len(references), *unscored.shape),
               "standard_error": np.asarray(explainer.standard_error_, dtype=np.float64).reshape(
                   len(references), *unscored.shape),
               "significant": np.asarray(explainer.significant_, dtype=bool).reshape(
                   len(references), *unscored.shape)}
    if isinstance(inputs, str):
        meta["text"] = inputs
    else:
        members["inputs"] = np.asarray(inputs)
    meta_bytes = json.dumps(meta, allow_nan=False).encode("utf-8")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, meta=np.frombuffer(meta_bytes, dtype=np.uint8), **members)
    return buffer.getvalue()


def read_run_file(data: bytes, name: str, page: str, make_explainer: Callable[[dict, int], Any]) -> Run:
    """Rebuild a run from the bytes of a run file, without the model and without reading any path.

    Args:
        data: The uploaded bytes.
        name: The uploaded file's name (for messages).
        page: The page's name; a run file of another page is refused.
        make_explainer: ``(parameters, n_masks) -> explainer`` of the page.

    Returns:
        The run, selected as it was saved.

    Raises:
        ValueError: One line naming ``name``: the file is not a run file of this page, or it is inconsistent.
    """
    label = repr(name)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return _read(archive, len(data), label, page, make_explainer)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError) as error:
        cause = " ".join(str(error).split()) or type(error).__name__
        raise ValueError(f"{label} is not a readable dashboard run file (an .npz archive saved by a page's run "
                         f"file button): {cause}") from error


def _read(archive: zipfile.ZipFile, size: int, label: str, page: str, make_explainer: Callable) -> Run:
    infos = {info.filename: info for info in archive.infolist()}
    if len(infos) != len(archive.infolist()):
        raise ValueError(f"{label} holds a member twice")
    if "meta.npy" not in infos:
        raise ValueError(f"{label} is not a dashboard run file: it has no meta member")
    if _header(archive, infos["meta.npy"], label).dtype.kind == "U":
        raise ValueError(f"{label} is a run file of version 1 (an earlier dashboard); this dashboard reads version "
                         f"{RUN_FILE_VERSION}: run the explanation again and save a new run file")
    meta_bytes = min(MAX_META_BYTES, SLACK_BYTES + EXPANSION * size)
    meta = _meta(_member(archive, infos["meta.npy"], label, (None,), ("u1",), meta_bytes), label, page)
    references = len(meta["labels"])
    text = meta.get("text")
    expected = {"reference", "embeddings", "unscored", "map", "standard_error", "significant"} | (
        set() if isinstance(text, str) else {"inputs"})
    found = {member.removesuffix(".npy") for member in infos} - {"meta"}
    if found != expected:
        missing, extra = sorted(expected - found), sorted(found - expected)
        raise ValueError(f"{label} is not a run file of the {page} page: " + "; ".join(
            part for part in (f"missing {', '.join(missing)}" if missing else "",
                              f"unexpected members {', '.join(repr(m) for m in extra[:5])}" if extra else "")
            if part))
    headers = {member: _header(archive, infos[f"{member}.npy"], label) for member in expected}
    feature_shape = tuple(meta["feature_shape"])
    n_masks = meta["n_masks"]
    length = headers["reference"].shape[-1] if len(headers["reference"].shape) == 2 else -1
    if not 1 <= length <= MAX_EMBEDDING_LENGTH:
        raise ValueError(f"{label}: reference must be (references, embedding length) with a length from 1 to "
                         f"{MAX_EMBEDDING_LENGTH}, got {headers['reference'].shape}")
    shapes: dict[str, tuple[tuple, tuple[str, ...]]] = {
        "reference": ((references, length), ("f8",)),
        "embeddings": ((n_masks, length), ("f8", "f4")),
        "unscored": (feature_shape, ("b1",)),
        "map": ((references, *feature_shape), ("f8",)),
        "standard_error": ((references, *feature_shape), ("f8",)),
        "significant": ((references, *feature_shape), ("b1",)),
    }
    if "inputs" in expected:
        declared = headers["inputs"].shape
        if not 1 <= len(declared) <= 3 or math.prod(declared) > MAX_FEATURES:
            raise ValueError(f"{label}: inputs must be an item of 1 to 3 axes and at most {MAX_FEATURES} values, "
                             f"got shape {declared}")
        shapes["inputs"] = (declared, ("f8", "f4"))
    for member, (shape, dtypes) in shapes.items():
        _check_header(headers[member], shape, dtypes, f"{label}: {member}")
    total = sum(header.nbytes for header in headers.values())
    if total > SLACK_BYTES + EXPANSION * size:
        raise ValueError(f"{label} declares {total / 2**20:.0f} MB of arrays in a file of {size / 2**20:.1f} MB: "
                         "more than a run file of that size holds; it is not a run file saved by the dashboard")
    arrays = {member: _member(archive, infos[f"{member}.npy"], label, shape, dtypes, None)
              for member, (shape, dtypes) in shapes.items()}
    for member in ("reference", "embeddings", "inputs"):
        if member in arrays and not np.all(np.isfinite(arrays[member])):
            raise ValueError(f"{label}: {member} holds NaN or infinite values")
    inputs = text if isinstance(text, str) else arrays["inputs"]
    _check_parameters(meta["parameters"], inputs, label)
    return _rebuild(meta, arrays, inputs, label, page, make_explainer)


def _rebuild(meta: dict, arrays: dict, inputs: Any, label: str, page: str, make_explainer: Callable) -> Run:
    selection = meta["selection"]
    try:
        explainer = make_explainer(meta["parameters"], meta["n_masks"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            explainer.attribute_from_embeddings(inputs, arrays["embeddings"].astype(np.float64),
                                                arrays["reference"])
            unscored = arrays["unscored"]
            if hasattr(explainer, "seen_"):
                if explainer.seen_.shape != unscored.shape:
                    raise ValueError(f"unscored has shape {unscored.shape}, but the text has "
                                     f"{len(explainer.seen_)} words")
                explainer.seen_ = ~unscored  # the words the model never saw, as the run knew them
            elif unscored.any():
                raise ValueError(f"a run of the {page} page scores every feature, but unscored marks some")
            explainer.reselect(**{name: selection[name] for name in (*SELECTION, "weighting")})
            explainer.significance(selection["fdr"])
    except Exception as error:  # noqa: BLE001 - whatever the file holds, the page shows one line
        raise ValueError(f"{label} does not hold a run the {page} page can show: "
                         f"{' '.join(str(error).split())}") from error
    shown = {"map": explainer.map_, "standard_error": explainer.standard_error_,
             "significant": explainer.significant_}
    exact = arrays["embeddings"].dtype == np.float64
    for member, values in shown.items():
        stored = arrays[member]
        values = np.asarray(values).reshape(-1, *stored.shape[1:]) if np.size(values) == stored.size else values
        if np.shape(values) != stored.shape:
            raise ValueError(f"{label}: its {member} has shape {stored.shape}, but its run gives {np.shape(values)}")
        if exact and not _same(values, stored):
            raise ValueError(f"{label}: its {member} is not the one its embeddings give (the file was changed, or "
                             "written by another version of dianna-distance); it is not shown")
    return Run(explainer, inputs, meta["parameters"], meta["labels"], selection)


def _same(values: np.ndarray, stored: np.ndarray) -> bool:
    if stored.dtype == bool:
        return bool(np.array_equal(values, stored))
    return bool(np.allclose(values, stored, rtol=1e-9, atol=1e-12, equal_nan=True)
                and np.array_equal(np.isnan(values), np.isnan(stored)))


def _header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> Any:
    with archive.open(info) as stream:
        return npy_header(stream, f"{label}: member {info.filename!r}")


def _check_header(header: Any, shape: tuple, dtypes: tuple[str, ...], what: str) -> None:
    if header.dtype.str.lstrip("<|") not in dtypes or header.dtype.byteorder == ">":
        raise ValueError(f"{what} must be of dtype {' or '.join(dtypes)}, got {header.dtype}")
    if header.shape != tuple(shape):
        raise ValueError(f"{what} must have shape {tuple(shape)}, got {header.shape}")


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, shape: tuple, dtypes: tuple[str, ...],
            max_bytes: int | None) -> np.ndarray:
    """Read one member: its header checked first, then exactly the declared bytes (never more)."""
    what = f"{label}: member {info.filename!r}"
    with archive.open(info) as stream:
        header = npy_header(stream, what)
        if None in shape:  # a 1-d member of any length (meta)
            shape = header.shape if len(header.shape) == 1 else (-1,)
        _check_header(header, shape, dtypes, what)
        if max_bytes is not None and header.nbytes > max_bytes:
            raise ValueError(f"{what} declares {header.nbytes / 2**20:.0f} MB, more than the "
                             f"{max_bytes / 2**20:.0f} MB it may have")
        flat = np.empty(math.prod(header.shape), dtype=header.dtype)
        view = flat.data.cast("B")
        done = 0
        while done < header.nbytes:
            chunk = stream.read(min(header.nbytes - done, 2**24))
            if not chunk:
                raise ValueError(f"{what} is truncated: {done} of its {header.nbytes} bytes")
            view[done:done + len(chunk)] = chunk
            done += len(chunk)
        if stream.read(1):
            raise ValueError(f"{what} holds more bytes than its array of shape {header.shape}")
    if header.dtype == bool and np.any(flat.view(np.uint8) > 1):
        raise ValueError(f"{what} holds values that are not booleans")
    if header.fortran_order:
        return flat.reshape(header.shape[::-1]).T
    return flat.reshape(header.shape)


def _meta(raw: np.ndarray, label: str, page: str) -> dict:
    """The JSON member, checked: every value the page uses has the type and range it needs."""
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"{label}: its meta member is not JSON ({' '.join(str(error).split())[:200]})") from error
    if not isinstance(meta, dict):
        raise ValueError(f"{label}: its meta member must be a JSON object, got {type(meta).__name__}")
    version = meta.get("version")
    if version != RUN_FILE_VERSION:
        shown = repr(version) if isinstance(version, int) and not isinstance(version, bool) else "another"
        raise ValueError(f"{label} is a run file of version {shown}; this dashboard reads version "
                         f"{RUN_FILE_VERSION}: run the explanation again and save a new run file")
    if meta.get("page") != page:
        other = meta.get("page")
        where = f"the {other} page; open it there" if other in ("Images", "Texts", "Time series", "Tables") \
            else "another page"
        raise ValueError(f"{label} is a run file of {where}")
    labels = meta.get("labels")
    if (not isinstance(labels, list) or not 1 <= len(labels) <= MAX_REFERENCES
            or not all(isinstance(x, str) and len(x) <= MAX_LABEL_CHARACTERS for x in labels)):
        raise ValueError(f"{label}: labels must be a list of 1 to {MAX_REFERENCES} texts")
    n_masks = meta.get("n_masks")
    if not _is_int(n_masks) or not 2 <= n_masks <= MAX_MASKS:
        raise ValueError(f"{label}: n_masks must be a whole number from 2 to {MAX_MASKS}")
    shape = meta.get("feature_shape")
    if (not isinstance(shape, list) or not 1 <= len(shape) <= 3 or not all(_is_int(n) and n >= 1 for n in shape)
            or math.prod(shape) > MAX_FEATURES or math.prod(shape) * n_masks > MAX_MASK_VALUES):
        raise ValueError(f"{label}: feature_shape must be 1 to 3 positive whole numbers, at most {MAX_FEATURES} "
                         f"features and {MAX_MASK_VALUES} mask values in all")
    if "text" in meta and (not isinstance(meta["text"], str) or len(meta["text"]) > MAX_FEATURES):
        raise ValueError(f"{label}: text must be a text")
    parameters = meta.get("parameters")
    if not isinstance(parameters, dict) or not all(isinstance(key, str) and _plain(value)
                                                  for key, value in parameters.items()):
        raise ValueError(f"{label}: parameters must be a JSON object of numbers, texts and lists of them")
    meta["selection"] = _selection(meta.get("selection"), label)
    return meta


def _check_parameters(parameters: dict, inputs: Any, label: str) -> None:
    """The parameters the pages use have the types and ranges their widgets give (others are passed on as data)."""
    checks: dict[str, tuple[Callable[[Any], bool], str]] = {
        "p_keep": (lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]"),
        "random_state": (lambda v: _is_int(v) and 0 <= v < 2**31, "a whole number from 0 to 2**31 - 1"),
        "distance": (lambda v: v in ("cosine", "euclidean"), "cosine or euclidean"),
        "feature_res": (lambda v: _is_int(v) and 1 <= v <= MAX_FEATURE_RES, f"a whole number from 1 to "
                                                                             f"{MAX_FEATURE_RES}"),
        "channels_axis": (lambda v: v in (0, 2), "0 or 2"),
        "feature_names": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of texts"),
        "time_labels": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)
                        and len(v) == len(inputs), "one text per time step of the series"),
        "tokenizer_json": (lambda v: isinstance(v, str), "the text of a tokenizer.json"),
        "mask_pairs": (lambda v: v in (*MASK_PAIRS, "auto"), f"one of {(*MASK_PAIRS, 'auto')}"),
        "mask_kinds": (lambda v: v in MASK_KINDS, f"one of {MASK_KINDS}"),
    }
    for name, (valid, expected) in checks.items():
        if name in parameters and not valid(parameters[name]):
            raise ValueError(f"{label}: parameter {name} must be {expected}")
    for name in ("p_keep", "random_state"):
        if name not in parameters:
            raise ValueError(f"{label}: its parameters have no {name}")


def _selection(selection: object, label: str) -> dict:
    if not isinstance(selection, dict):
        raise ValueError(f"{label}: selection must be a JSON object")
    chosen: dict[str, Any] = {}
    for name in SELECTION:
        value = selection.get(name)
        if not _is_number(value) or not 0 <= value <= 1:
            raise ValueError(f"{label}: selection's {name} must be a number in [0, 1]")
        chosen[name] = float(value)
    if selection.get("weighting") not in WEIGHTINGS:
        raise ValueError(f"{label}: selection's weighting must be one of {', '.join(WEIGHTINGS)}")
    fdr = selection.get("fdr")
    if not _is_number(fdr) or not FDR_RANGE[0] <= fdr <= FDR_RANGE[1]:
        raise ValueError(f"{label}: selection's fdr must be a number in [{FDR_RANGE[0]}, {FDR_RANGE[1]}]")
    chosen.update(weighting=selection["weighting"], fdr=float(fdr))
    if isinstance(selection.get("overlay"), bool):
        chosen["overlay"] = selection["overlay"]
    return chosen


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _plain(value: object, depth: int = 0) -> bool:
    """A JSON number, text, boolean or null, or a list of them (no objects: parameters are data, not structure)."""
    if value is None or isinstance(value, (bool, str)) or _is_number(value):
        return True
    return isinstance(value, list) and depth == 0 and all(_plain(item, 1) for item in value)
