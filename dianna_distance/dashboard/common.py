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
import json
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypedDict, cast

import numpy as np
import streamlit as st

CMAP = "bwr"
RUN_FILE_VERSION = 1
EMBEDDINGS_IN_RUN_FILE_MB = 64  # embeddings larger than this are stored as float32 in the run file


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
WEIGHTINGS = ("ranges", "linear", "normal")
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
        st.error(f"Error while {what}: {message}")
        st.stop()


def file_digest(data: bytes) -> str:
    """SHA-256 of uploaded bytes (the cache key of models and files)."""
    return hashlib.sha256(data).hexdigest()


def stored_upload(data: bytes, suffix: str) -> Path:
    """Write uploaded bytes to a file of the dashboard's own temporary folder (named by their digest)."""
    folder = Path(tempfile.gettempdir()) / "dianna_distance_dashboard"
    folder.mkdir(exist_ok=True)
    path = folder / f"{file_digest(data)}{suffix}"
    if not path.exists():
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(path)
    return path


@st.cache_resource(max_entries=4, show_spinner="Loading the ONNX model…")
def onnx_model(digest: str, data: bytes) -> Any:
    """One ONNX Runtime session per uploaded model (cached by digest, shared by the sessions of this server)."""
    from dianna_distance.model import OnnxModel

    try:
        return OnnxModel(stored_upload(data, ".onnx"))
    except Exception as error:
        raise DashboardInputError(f"the uploaded model is not a readable ONNX file ({error})") from error


def parameter_widgets(key: str, images: bool = True, distance: str = "cosine") -> dict:
    """Widgets for every explainer parameter, with the paper's defaults; returns their values.

    Args:
        key: Prefix of the widget keys (one per page).
        images: Whether to show ``feature_res`` (image and time-series masks).
        distance: The distance selected first.
    """
    with st.expander("Explainer parameters", expanded=False):
        left, right = st.columns(2)
        values: dict[str, int | float | str] = {
            "n_masks": left.number_input("n_masks", 10, 20000, DEFAULTS["n_masks"], step=50, key=f"{key}_n_masks"),
            "p_keep": right.slider("p_keep", 0.05, 1.0, DEFAULTS["p_keep"], 0.05, key=f"{key}_p_keep"),
            "random_state": left.number_input("random_state (seed)", 0, 2**31 - 1, DEFAULTS["random_state"],
                                              key=f"{key}_seed"),
        }
        values["distance"] = cast(str, right.selectbox("distance", DISTANCES, DISTANCES.index(distance),  # SELECTBOX
                                                       key=f"{key}_distance"))
        if images:
            values["feature_res"] = left.number_input("feature_res (grid cells per axis)", 1, 64,
                                                      DEFAULTS["feature_res"], key=f"{key}_feature_res")
    return values


def selection_widgets(key: str) -> dict:
    """Selection ranges, weighting and FDR: the settings a run can change afterwards without the model."""
    left, right = st.columns(2)
    positive = left.slider("positive selection (closest first)", 0.0, 1.0,
                           (DEFAULTS["range_min"], DEFAULTS["range_max"]), 0.01, key=f"{key}_positive")
    negative = right.slider("negative selection", 0.0, 1.0, (DEFAULTS["negative_min"], DEFAULTS["negative_max"]),
                            0.01, key=f"{key}_negative")
    weighting = left.selectbox("weighting", WEIGHTINGS, key=f"{key}_weighting")
    fdr = right.slider("false-discovery rate of the significance overlay", 0.001, 0.5, DEFAULTS["fdr"], 0.001,
                       format="%.3f", key=f"{key}_fdr")
    overlay = left.checkbox("hatch what is not significant", True, key=f"{key}_overlay")
    return {"mask_selection_range_min": positive[0], "mask_selection_range_max": positive[1],
            "mask_selection_negative_range_min": negative[0], "mask_selection_negative_range_max": negative[1],
            "weighting": weighting, "fdr": fdr, "overlay": overlay}


def block_size(n_masks: int) -> int:
    """Masks per block of a run: small enough that the first map appears within seconds."""
    return int(max(10, min(100, n_masks // 4)))


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
            explainer.attribute_from_embeddings(inputs, np.concatenate(embeddings), reference,
                                                **(from_embeddings or {}))
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
        ax.set_title(f"distances to {label}", fontsize=9)
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


def run_file(explainer: Any, inputs: np.ndarray | str, parameters: dict, labels: list[str], page: str) -> bytes:
    """A run file (``.npz``): parameters, input, references, map, standard error, distances and embeddings.

    Loaded with :func:`load_run_file`, it is explored again (re-selection, significance) without the model.
    """
    embeddings = explainer.embeddings_
    if embeddings.nbytes > EMBEDDINGS_IN_RUN_FILE_MB * 2**20:
        embeddings = embeddings.astype(np.float32)
    meta = {"version": RUN_FILE_VERSION, "page": page, "parameters": parameters, "labels": labels,
            "n_masks": int(len(explainer.embeddings_))}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, meta=np.array(json.dumps(meta)), inputs=np.asarray(inputs),
                        reference=explainer.embedded_reference_, map=explainer.map_,
                        standard_error=explainer.standard_error_, distances=explainer.distances_,
                        embeddings=embeddings)
    return buffer.getvalue()


def load_run_file(data: bytes, make_explainer: Callable[[dict, int], Any], page: str
                  ) -> tuple[Any, np.ndarray, dict, list]:
    """Rebuild a run from a run file, without the model.

    Args:
        data: The bytes of a file written by :func:`run_file`.
        make_explainer: ``(parameters, n_masks) -> explainer`` of the page.
        page: The page's name; a run file of another page is refused.

    Returns:
        ``(explainer, inputs, parameters, labels)``.

    Raises:
        DashboardInputError: The file is not a run file of this page.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            arrays = {name: stored[name] for name in ("inputs", "reference", "embeddings")}
    except Exception as error:
        raise DashboardInputError(f"the uploaded file is not a dashboard run file ({error})") from error
    if meta.get("version") != RUN_FILE_VERSION:
        raise DashboardInputError(f"the run file has version {meta.get('version')!r}, expected {RUN_FILE_VERSION}")
    if meta.get("page") != page:
        raise DashboardInputError(f"the run file is from the {meta.get('page')} page; open it there")
    if arrays["inputs"].dtype.kind == "U":
        arrays["inputs"] = str(arrays["inputs"])
    explainer = make_explainer(meta["parameters"], meta["n_masks"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer.attribute_from_embeddings(arrays["inputs"], arrays["embeddings"].astype(np.float64),
                                            arrays["reference"])
    return explainer, arrays["inputs"], meta["parameters"], meta["labels"]


def read_embedding(data: bytes, name: str) -> np.ndarray:
    """A reference embedding from uploaded ``.npy`` bytes: ``(D,)`` or ``(K, D)`` finite numbers."""
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as error:
        raise DashboardInputError(f"{name} is not a .npy file ({error})") from error
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
