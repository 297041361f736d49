"""What the dashboard's pages share: parameter widgets, runs in blocks, re-selection, downloads and run files.

A run embeds the masked inputs in blocks with :meth:`~dianna_distance.core.MaskedDistanceExplainer.embed_masked`
(an int ``random_state`` makes the masks depend on their index alone) and draws the map of the masks so far with
:meth:`~dianna_distance.core.MaskedDistanceExplainer.attribute_from_embeddings` after every block, so a first picture
appears within seconds. The explainer of the masks so far is kept in ``st.session_state`` after every block: Stop
keeps what was computed, and everything after the run (selection ranges, weighting, significance) uses
:meth:`~dianna_distance.core.MaskedDistanceExplainer.reselect` and
:meth:`~dianna_distance.core.MaskedDistanceExplainer.significance`, without the model.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypedDict, cast

import numpy as np
import streamlit as st

from dianna_distance.dashboard.runfiles import MAX_FEATURE_RES, read_run_file
from dianna_distance.dashboard.runfiles import run_file as run_file  # the pages' run files (re-exported)
from dianna_distance.distances import WEIGHTINGS
from dianna_distance.files import read_npy_bytes

CMAP = "bwr"
MAX_NPY_UPLOAD_BYTES = 256 * 2**20  # a .npy upload (a reference embedding, an item) may declare at most this


class Defaults(TypedDict):
    """The first values of the parameter and selection widgets: the paper's."""

    n_masks: int
    p_keep: float
    feature_res: int
    range_min: float
    range_max: float
    negative_min: float
    negative_max: float
    weighting: str
    fdr: float
    random_state: int


DEFAULTS: Defaults = {"n_masks": 1000, "p_keep": 0.5, "feature_res": 8, "range_min": 0.0, "range_max": 0.1,
                      "negative_min": 0.9, "negative_max": 1.0, "weighting": "ranges", "fdr": 0.05, "random_state": 0}
DISTANCES = ("cosine", "euclidean")

# SELECTBOX: Streamlit (1.67 needs Python >= 3.11) types the first overload of selectbox with typing.Never, which mypy
# cannot resolve under the project's python_version 3.10; it then picks that overload (the one for empty options)
# and types every selectbox's value as None. A selectbox over non-empty str options returns one of them, so where
# its value is used as a str it is cast to str.


class DashboardInputError(ValueError):
    """Bad input from the page's user: shown on the page with ``st.error``."""


@contextlib.contextmanager
def shown_errors(what: str) -> Iterator[None]:
    """Show an expected failure inside the block as one ``st.error`` line naming ``what`` failed, never a traceback.

    Args:
        what: What was being done, e.g. ``"reading the model"``.
    """
    try:
        yield
    except Exception as error:  # noqa: BLE001 - the page shows every failure as a message, never a traceback
        message = " ".join(str(error).split()) or type(error).__name__
        st.error(f"Error while {markdown_text(what)}: {markdown_text(message)}")
        st.stop()


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]!<>~$])")


def markdown_text(text: str) -> str:
    r"""``text`` escaped for Streamlit's markdown (``st.error``, ``st.markdown``): shown as it is, never as markup.

    Labels, names and messages come from uploads and run files: ``![x](http://host/p.png)`` must not make the
    browser fetch an image, ``[here](http://...)`` or ``http://...`` must not become a link, ``$...$`` not
    mathematics and ``a_b_c`` not italics. The marks that start markup (``\ ` * _ [ ] ! < > ~ $``) are
    backslash-escaped, and so is the ``//`` of a URL.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("://", ":\\/\\/")


def figure_text(text: str) -> str:
    """``text`` for a matplotlib title or tick label: shown as it is (a ``$`` never starts mathtext)."""
    return str(text).replace("$", r"\$")


_UPLOADS: list[tempfile.TemporaryDirectory] = []  # this server's private upload folder, made on the first upload
_STORED: dict[str, Path] = {}  # digest and suffix -> the file this server wrote
_UPLOADS_LOCK = threading.Lock()


def upload_folder() -> Path:
    """This server's private folder for uploads: made by ``tempfile.mkdtemp`` (mode 0700, an unpredictable name).

    It is removed when the server's process ends (the folder's finalizer runs at interpreter exit, as it does when
    Streamlit stops on SIGINT or SIGTERM).
    """
    with _UPLOADS_LOCK:
        if not _UPLOADS:
            _UPLOADS.append(tempfile.TemporaryDirectory(prefix="dianna-distance-uploads-"))
        return Path(_UPLOADS[0].name)


def stored_upload(data: bytes, suffix: str) -> Path:
    """Write uploaded bytes to a new file of :func:`upload_folder`, once per content; return its path.

    The file is created exclusively (``tempfile.mkstemp``: ``O_EXCL``, mode 0600, a random name, so no planted
    file or symbolic link is followed or served) and written whole before its path is returned. The same bytes
    uploaded again give the same file.

    Args:
        data: The uploaded bytes.
        suffix: The file's suffix (``".onnx"``); anything but a dot and up to 10 letters or digits is dropped.
    """
    suffix = suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", suffix) else ""
    key = file_digest(data) + suffix
    folder = upload_folder()
    with _UPLOADS_LOCK:
        path = _STORED.get(key)
        if path is not None and path.is_file():
            return path
        handle, name = tempfile.mkstemp(dir=folder, prefix="upload-", suffix=suffix)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        _STORED[key] = Path(name)
        return Path(name)


@contextlib.contextmanager
def named_as_uploaded(path: Path, name: str) -> Iterator[None]:
    """Errors about a stored upload name the uploaded file (``name``), never the server's copy at ``path``."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - re-raised with the upload's name in place of the server's path
        message = str(error).replace(repr(str(path)), repr(name)).replace(str(path), name)
        raise DashboardInputError(message) from error


def file_digest(data: bytes) -> str:
    """SHA-256 of uploaded bytes (the cache key of models and files)."""
    return hashlib.sha256(data).hexdigest()


@st.cache_resource(max_entries=4, show_spinner="Loading the ONNX model…")
def onnx_model(digest: str, data: bytes, name: str = "model.onnx") -> Any:
    """One ONNX Runtime session per uploaded model (cached by digest, shared by the sessions of this server).

    Args:
        digest: :func:`file_digest` of ``data``.
        data: The uploaded bytes.
        name: The uploaded file's name, which errors name (never the server's copy).
    """
    from dianna_distance.model import OnnxModel

    path = stored_upload(data, ".onnx")
    try:
        with named_as_uploaded(path, name):
            return OnnxModel(path)
    except Exception as error:
        raise DashboardInputError(f"the uploaded model is not a readable ONNX file ({error})") from error


def parameter_widgets(key: str, images: bool = True, distance: str = "cosine", p_keep: float | None = None,
                      mask_kinds: dict[str, str] | None = None) -> dict:
    """Widgets for every explainer parameter, with the modality's defaults; returns their values.

    Args:
        key: Prefix of the widget keys (one per page).
        images: Whether to show ``feature_res`` (image and time-series masks).
        distance: The distance selected first.
        p_keep: The ``p_keep`` shown first; None: the paper's (``DEFAULTS``).
        mask_kinds: The masks offered, value -> what it means (the first is shown first); None: no choice.
    """
    with st.expander("Explainer parameters", expanded=False):
        left, right = st.columns(2)
        values: dict[str, int | float | str] = {
            "n_masks": left.number_input("n_masks", 10, 20000, DEFAULTS["n_masks"], step=50, key=f"{key}_n_masks"),
            "p_keep": right.slider("p_keep", 0.05, 1.0, DEFAULTS["p_keep"] if p_keep is None else p_keep, 0.05,
                                   key=f"{key}_p_keep"),
            "random_state": left.number_input("random_state (seed)", 0, 2**31 - 1, DEFAULTS["random_state"],
                                              key=f"{key}_seed"),
        }
        values["distance"] = cast(str, right.selectbox("distance", DISTANCES, DISTANCES.index(distance),  # SELECTBOX
                                                       key=f"{key}_distance"))
        if images:
            label = "feature_res (grid cells per axis; superpixels: about its square)" if mask_kinds else \
                "feature_res (grid cells per axis)"
            values["feature_res"] = left.number_input(label, 1, MAX_FEATURE_RES,
                                                      DEFAULTS["feature_res"], key=f"{key}_feature_res")
        if mask_kinds:
            values["mask_kinds"] = cast(str, right.selectbox(  # SELECTBOX
                "masks", list(mask_kinds), format_func=lambda kind: mask_kinds[kind], key=f"{key}_mask_kinds"))
    return values


def selection_widgets(key: str, weighting: str = "ranges") -> dict:
    """Selection ranges, weighting and FDR: the settings a run can change afterwards without the model.

    ``weighting``: the weighting shown first (the run's own: the explainer's default for its modality).
    """
    left, right = st.columns(2)
    positive = left.slider("positive selection (closest first)", 0.0, 1.0,
                           (DEFAULTS["range_min"], DEFAULTS["range_max"]), 0.01, key=f"{key}_positive")
    negative = right.slider("negative selection", 0.0, 1.0, (DEFAULTS["negative_min"], DEFAULTS["negative_max"]),
                            0.01, key=f"{key}_negative")
    chosen = left.selectbox("weighting", WEIGHTINGS, index=WEIGHTINGS.index(weighting), key=f"{key}_weighting")
    fdr = right.slider("false-discovery rate of the significance overlay", 0.001, 0.5, DEFAULTS["fdr"], 0.001,
                       format="%.3f", key=f"{key}_fdr")
    overlay = left.checkbox("hatch what is not significant", True, key=f"{key}_overlay")
    return {"mask_selection_range_min": positive[0], "mask_selection_range_max": positive[1],
            "mask_selection_negative_range_min": negative[0], "mask_selection_negative_range_max": negative[1],
            "weighting": chosen, "fdr": fdr, "overlay": overlay}


def block_size(n_masks: int) -> int:
    """Masks per block of a run: small enough that the first map appears within seconds; even (paired masks)."""
    return 2 * int(max(5, min(50, n_masks // 8)))


class CountingModel:
    """Wraps a model callable and counts its calls in ``st.session_state["model_calls"]``."""

    def __init__(self, model: Callable) -> None:
        self.model = model

    def __call__(self, batch: Any) -> np.ndarray:
        """Embed a batch, counting the call."""
        st.session_state["model_calls"] = st.session_state.get("model_calls", 0) + 1
        return self.model(batch)


def run_in_blocks(make_explainer: Callable[[int], Any], model: Callable, inputs: Any, reference: np.ndarray,
                  n_masks: int, state_key: str, draw: Callable[[Any], None],
                  from_embeddings: dict | None = None, state_extra: dict | None = None,
                  embed_item: Callable[[], np.ndarray] | None = None) -> Any:
    """Embed the masked inputs block by block; after each block store and draw the map of the masks so far.

    Call it inside the place a page keeps for a running run (see :func:`dianna_distance.dashboard.explore.slots`):
    the progress bar and Stop then go when the page empties that place after the run.

    Args:
        make_explainer: Explainer factory taking ``n_masks`` (same seed and parameters for every call: the first
            ``n`` masks of an explainer of ``N`` masks are those of one of ``n``).
        model: The model callable.
        inputs: The item explained.
        reference: ``(K, D)`` reference embeddings.
        n_masks: Masks in all.
        state_key: Where ``st.session_state`` keeps the explainer of the masks so far.
        draw: Called with that explainer after every block.
        from_embeddings: Further arguments of ``attribute_from_embeddings`` (a text model, to learn what it sees).
        state_extra: Stored in ``st.session_state[state_key]`` with the explainer (labels, parameters).
        embed_item: Embeds the unmasked item ``(1, D)`` as the explainer's model sees it (one model call): its
            distance to each reference is stored as ``item_distances`` in the run and its parameters (the figures'
            titles name it).

    Returns:
        The explainer of all masks.
    """
    counted = CountingModel(model)
    full = make_explainer(n_masks)
    extra = dict(state_extra or {})
    if embed_item is not None:
        from dianna_distance.distances import compute_distances

        st.session_state["model_calls"] = st.session_state.get("model_calls", 0) + 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            embedding = np.atleast_2d(np.asarray(embed_item(), dtype=np.float64))
            distances = [float(value) for value in compute_distances(embedding, reference, full.distance)[:, 0]]
        extra["item_distances"] = distances
        if isinstance(extra.get("parameters"), dict):
            extra["parameters"] = {**extra["parameters"], "item_distances": distances}
    progress = st.progress(0.0, text=f"0 of {n_masks} masks")
    st.button("Stop (keeps the masks computed so far)", key=f"{state_key}_stop")
    step = block_size(n_masks)
    embeddings: list[np.ndarray] = []
    started = time.perf_counter()
    explainer = None
    for start in range(0, n_masks, step):
        stop = min(n_masks, start + step)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            embeddings.append(full.embed_masked(counted, inputs, start, stop))
            explainer = make_explainer(stop)
            try:
                explainer.attribute_from_embeddings(inputs, np.concatenate(embeddings), reference,
                                                    **(from_embeddings or {}))
            except ValueError:  # too few masks so far for a map (the regression weighting): wait for more
                if stop == n_masks:
                    raise
                progress.progress(stop / n_masks, text=f"{stop} of {n_masks} masks (too few for a map yet)")
                continue
        elapsed = time.perf_counter() - started
        st.session_state[state_key] = {"explainer": explainer, "inputs": inputs, "seconds_per_mask": elapsed / stop,
                                       **extra}
        progress.progress(stop / n_masks, text=f"{stop} of {n_masks} masks ({elapsed:.1f} s)")
        draw(explainer)
    return explainer


def reselected(explainer: Any, selection: dict) -> Any:
    """Apply the selection widgets to a run's explainer without the model (reselect, then significance)."""
    names = ("mask_selection_range_min", "mask_selection_range_max", "mask_selection_negative_range_min",
             "mask_selection_negative_range_max", "weighting")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer.reselect(**{name: selection[name] for name in names})
        if getattr(explainer, "fdr_", None) != selection["fdr"]:  # reselect judged significance at another rate
            explainer.significance(selection["fdr"])
    return explainer


def distance_histogram(explainer: Any, selection: dict, labels: list[str]) -> Any:
    """Histogram of the masked inputs' distances per reference, the selected ranges shaded (red +, blue −)."""
    from matplotlib.figure import Figure

    distances = np.atleast_2d(explainer.distances_)
    fig = Figure(figsize=(4.0 * len(distances), 2.6))  # a fixed layout: drawn at every slider step, kept cheap
    axes = fig.subplots(1, len(distances), squeeze=False)[0]
    fig.subplots_adjust(left=0.1 / len(distances), right=1 - 0.03 / len(distances), bottom=0.2, top=0.88,
                        wspace=0.3)
    for ax, row, label in zip(axes, distances, labels):
        ax.hist(row, bins=40, color="0.55")
        ranked = np.sort(row)
        if selection["weighting"] == "ranges":
            for low, high, colour in ((selection["mask_selection_range_min"], selection["mask_selection_range_max"],
                                       "red"),
                                      (selection["mask_selection_negative_range_min"],
                                       selection["mask_selection_negative_range_max"], "blue")):
                if high > low:
                    first = ranked[min(len(ranked) - 1, int(low * len(ranked)))]
                    last = ranked[max(0, min(len(ranked), int(np.ceil(high * len(ranked)))) - 1)]
                    ax.axvspan(first, last, color=colour, alpha=0.2)
        ax.set_title(f"distances to {figure_text(label)}", fontsize=9)
        ax.set_xlabel("distance of a masked input")
    return fig


def figure_png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    return buffer.getvalue()


def map_npz(explainer: Any) -> bytes:
    """The map and its standard error (and significance) as ``.npz`` bytes."""
    buffer = io.BytesIO()
    np.savez(buffer, map=explainer.map_, standard_error=explainer.standard_error_,
             significant=explainer.significant_)
    return buffer.getvalue()


def open_run_file(upload: Any, key: str, page: str, make_explainer: Callable[[dict, int], Any], state: str,
                  extra: dict | None = None) -> None:
    """Open an uploaded run file once (until another file is uploaded): the run as saved, with its selection.

    The run goes to ``st.session_state[state]``, and the selection widgets of ``key`` are set to the ranges,
    weighting and false-discovery rate the run was saved with, so the page shows the run that was saved. A file
    that is not a run file of this page is one ``st.error`` line naming it.

    Args:
        upload: The uploaded file.
        key: The page's widget prefix.
        page: The page's name.
        make_explainer: ``(parameters, n_masks) -> explainer`` of the page.
        state: Where the run is kept.
        extra: Further entries of the run's state (the Images page's reference thumbnails).
    """
    data = upload.getvalue()
    digest = file_digest(data)
    if st.session_state.get(state, {}).get("run_file") == digest:
        return
    with shown_errors(f"reading the run file {upload.name}"):
        run = read_run_file(data, upload.name, page, make_explainer)
    st.session_state[state] = {"explainer": run.explainer, "inputs": run.inputs, "labels": run.labels,
                               "parameters": run.parameters, "run_file": digest, **(extra or {})}
    chosen = run.selection
    st.session_state[f"{key}_positive"] = (chosen["mask_selection_range_min"], chosen["mask_selection_range_max"])
    st.session_state[f"{key}_negative"] = (chosen["mask_selection_negative_range_min"],
                                           chosen["mask_selection_negative_range_max"])
    st.session_state[f"{key}_weighting"] = chosen["weighting"]
    st.session_state[f"{key}_fdr"] = chosen["fdr"]
    if "overlay" in chosen:
        st.session_state[f"{key}_overlay"] = chosen["overlay"]


def read_embedding(data: bytes, name: str) -> np.ndarray:
    """A reference embedding from uploaded ``.npy`` bytes: ``(D,)`` or ``(K, D)`` finite numbers."""
    try:
        array = read_npy_bytes(data, name, MAX_NPY_UPLOAD_BYTES)
    except ValueError as error:
        raise DashboardInputError(str(error)) from error
    if array.ndim not in (1, 2) or array.size == 0 or not np.issubdtype(array.dtype, np.number):
        raise DashboardInputError(f"{name} must hold an embedding (D,) or embeddings (K, D) of numbers, "
                                  f"got shape {array.shape} of {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise DashboardInputError(f"{name} holds NaN or infinite values")
    return np.atleast_2d(array.astype(np.float64))


def check_reference_length(reference: np.ndarray, embedding_length: int, name: str) -> None:
    """Raise when a reference's length is not the model's embedding length."""
    if reference.shape[1] != embedding_length:
        raise DashboardInputError(f"{name} has length {reference.shape[1]}, but the model embeds into "
                                  f"{embedding_length} values")
