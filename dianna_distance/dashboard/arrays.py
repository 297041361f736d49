"""What the Time series and Tables pages share: items that are arrays, read from ``.npy`` or ``.csv`` uploads.

A page is described by an :class:`ArrayPage` (its explainer, its example, its figure); :func:`draw_page` draws it:
"use an example" / "use your own data" (an ONNX model, the item, a reference embedding ``.npy`` or a reference
item the model embeds) / "open a run file", then the block-wise run and the exploration without the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import streamlit as st

from dianna_distance.dashboard import common
from dianna_distance.dashboard import explore as explore_
from dianna_distance.files import read_npy_bytes
from dianna_distance.readers import check_columns, read_csv_numbers


class MakeExplainer(Protocol):
    """How a page makes its explainer: ``(parameters, n_masks, run=False) -> explainer``.

    ``run=True`` for a run with the model (a page may then add what only a run needs, such as background rows);
    False for an explainer rebuilt from a run file.
    """

    def __call__(self, parameters: dict, n_masks: int, run: bool = False) -> Any:
        """The page's explainer."""


@dataclass
class ArrayPage:
    """One page for array items.

    Attributes:
        name: Page title (also the run files' page name).
        key: Prefix of the widget and state keys.
        intro: One sentence under the title.
        item_noun: What an item is called ("series", "row").
        make_explainer: ``(parameters, n_masks, run=False) -> explainer`` (see :class:`MakeExplainer`).
        example: ``() -> (model, item, reference (K, D), labels, extra parameters)``, or None when a package the
            example needs is not installed (then ``example_missing`` is shown). The extra parameters may hold
            ``distance`` (the distance widget's first value), ``item_name`` (the item in the titles) and whatever
            the page's explainer and figure read.
        example_missing: The message shown when there is no example.
        figure: ``(explainer, item, titles, overlay, parameters) -> matplotlib figure`` (``titles``: one per
            reference, naming the pair and its distance).
        read_item: ``(bytes, file name) -> array`` of the page's layout.
        feature_res: Whether the explainer has ``feature_res``.
        check_model: ``(model, item) -> None``, raising ValueError when the model cannot take the item as the
            explainer feeds it (a channels-first series model), before anything is embedded; None: no check.
        distance: The distance selected first.
        own_inputs: ``(page) -> same as example``: the page's own "use your own data" widgets, or None for the
            shared ones (a model, an item file, a reference).
        p_keep: The ``p_keep`` shown first (the explainer's default for the modality).
    """

    name: str
    key: str
    intro: str
    item_noun: str
    make_explainer: MakeExplainer
    example: Callable[[], tuple | None]
    example_missing: str
    figure: Callable[..., Any]
    read_item: Callable[[bytes, str], np.ndarray]
    feature_res: bool = False
    distance: str = "cosine"
    own_inputs: Callable[[ArrayPage], tuple | None] | None = None
    p_keep: float = 0.5
    check_model: Callable[[Any, np.ndarray], None] | None = None


@st.cache_resource(max_entries=4, show_spinner="Loading the ONNX model…")
def uploaded_model(digest: str, data: bytes, name: str = "model.onnx") -> Any:
    """An uploaded ONNX model ``(B, ...) -> (B, D)`` in one ONNX Runtime session (cached by digest).

    Args:
        digest: :func:`~dianna_distance.dashboard.common.file_digest` of ``data``.
        data: The uploaded bytes.
        name: The uploaded file's name, which errors name (never the server's copy).
    """
    from dianna_distance.model import load_model

    path = common.stored_upload(data, ".onnx")
    try:
        with common.named_as_uploaded(path, name):
            return load_model(str(path))
    except Exception as error:
        raise common.DashboardInputError(f"the uploaded model is not a readable ONNX file ({error})") from error


def read_numbers(data: bytes, name: str) -> np.ndarray:
    """A ``.npy`` array or a ``.csv`` table of numbers (an optional header line) as float64.

    The readers are the package's (:func:`dianna_distance.files.read_npy_bytes`, its size checked before its data,
    and :func:`dianna_distance.readers.read_csv_numbers`): a byte-order mark is dropped, a gap is refused in any row.
    """
    return read_columns(data, name)[0]


def read_columns(data: bytes, name: str) -> tuple[np.ndarray, list[str] | None]:
    """:func:`read_numbers` with the column names of a ``.csv`` header (None for ``.npy`` or no header)."""
    names = None
    try:
        if name.lower().endswith(".npy"):
            array = read_npy_bytes(data, name, common.MAX_NPY_UPLOAD_BYTES)
        else:
            names, array = read_csv_numbers(name, "upload", data=data)
    except ValueError as error:
        raise common.DashboardInputError(str(error)) from error
    if array.size == 0 or not np.issubdtype(array.dtype, np.number):
        raise common.DashboardInputError(f"{name} holds no numbers (shape {array.shape}, {array.dtype})")
    if not np.all(np.isfinite(array)):
        raise common.DashboardInputError(f"{name} holds NaN or infinite values")
    return array.astype(np.float64), names


def embed(model: Callable, items: np.ndarray) -> np.ndarray:
    """Embed items ``(N, ...)`` with a page's model: float32 in, ``(N, D)`` float64 out."""
    return np.atleast_2d(np.asarray(model(items.astype(np.float32)), dtype=np.float64))


def _own_inputs(spec: ArrayPage) -> tuple | None:
    key = spec.key
    model_upload = st.file_uploader("ONNX model (embeds a batch)", type=["onnx"], key=f"{key}_onnx")
    item_upload = st.file_uploader(f"{spec.item_noun} to explain (.npy or .csv)", type=["npy", "csv"],
                                   key=f"{key}_item")
    kind = st.radio("reference", [".npy embedding", f"reference {spec.item_noun} (.npy or .csv)"], horizontal=True,
                    key=f"{key}_kind")
    reference_upload = st.file_uploader("reference", type=["npy"] if kind == ".npy embedding" else ["npy", "csv"],
                                        key=f"{key}_reference")
    if model_upload is None or item_upload is None or reference_upload is None:
        st.info(f"Upload the model, the {spec.item_noun} and the reference.")
        return None
    with common.shown_errors("reading your data"):
        data = model_upload.getvalue()
        model = uploaded_model(common.file_digest(data), data, model_upload.name)
        item = spec.read_item(item_upload.getvalue(), item_upload.name)
        if spec.check_model is not None:
            try:
                spec.check_model(model, item)
            except ValueError as error:
                raise common.DashboardInputError(str(error)) from error
        name = Path(reference_upload.name).stem
        if kind == ".npy embedding":
            reference = common.read_embedding(reference_upload.getvalue(), reference_upload.name)
        else:
            other = spec.read_item(reference_upload.getvalue(), reference_upload.name)
            item_columns = read_columns(item_upload.getvalue(), item_upload.name)[1]
            reference_columns = read_columns(reference_upload.getvalue(), reference_upload.name)[1]
            try:
                check_columns(reference_columns, item_columns,
                              f"the reference {reference_upload.name!r}", f"the {spec.item_noun} {item_upload.name!r}")
            except ValueError as error:
                raise common.DashboardInputError(str(error)) from error
            if other.shape != item.shape:
                raise common.DashboardInputError(f"the reference {spec.item_noun} has shape {other.shape}; the "
                                                 f"{spec.item_noun} explained has {item.shape}")
            reference = embed(model, other[None])
        try:
            embedding = embed(model, item[None])
        except Exception as error:
            raise common.DashboardInputError(f"the model cannot take the {spec.item_noun} of shape {item.shape} "
                                             f"({' '.join(str(error).split())[:300]})") from error
        common.check_reference_length(reference, embedding.shape[1], "the reference")
    labels = [f"{name}[{i}]" for i in range(len(reference))] if len(reference) > 1 else [name]
    return model, item, reference, labels, {"item_name": item_upload.name}


@st.fragment
def explore(spec: ArrayPage, widgets: dict | None = None) -> None:
    """After a run: re-selection, significance, histogram, downloads, without the model.

    A fragment: moving a slider reruns this section alone; each figure is drawn once per setting that changes it.

    Args:
        spec: The page.
        widgets: The parameter widgets' values now (a change since the run is named), or None.
    """
    state = f"{spec.key}_run"
    run = st.session_state.get(state)
    if run is None or "labels" not in run:
        return
    explainer, item, labels, parameters = run["explainer"], run["inputs"], run["labels"], run["parameters"]
    item_name = str(run.get("item_name") or parameters.get("item_name") or f"the {spec.item_noun}")
    titles = explore_.pair_titles(item_name, labels, parameters)
    st.subheader("Explore the run (no model calls)")
    explore_.show_pair(item_name, labels, parameters)
    explore_.show_run(run, widgets)
    selection = common.selection_widgets(spec.key, explainer.weighting)
    with common.shown_errors("re-selecting the masks"):
        explore_.reselect_once(run, selection)
    figure = explore_.cached(state, run, ("map", explore_.figure_key(selection)), lambda: explore_.png(
        lambda: spec.figure(explainer, item, titles, selection["overlay"], parameters)))
    st.image(figure)
    st.image(explore_.cached(state, run, ("histogram", explore_.ranges_key(selection)), lambda: explore_.png(
        lambda: common.distance_histogram(explainer, selection, labels), dpi=100)))
    left, middle, right = st.columns(3)
    left.download_button("map and standard error (.npz)", lambda: common.map_npz(explainer),
                         f"{spec.key}_distance.npz", key=f"{spec.key}_download_npz", on_click="ignore")
    middle.download_button("figure (.png)", figure, f"{spec.key}_distance.png", key=f"{spec.key}_download_png",
                           on_click="ignore")
    right.download_button("run file (explore later)",
                          lambda: common.run_file(explainer, item, parameters, labels, spec.name, selection),
                          f"{spec.key}_run.npz", key=f"{spec.key}_download_run", on_click="ignore")


def draw_page(spec: ArrayPage) -> None:
    """Draw an array page: inputs, the block-wise run, and the exploration of the last run.

    The parameter widgets' values are the run's parameters: a page's example may choose the distance the widget
    shows first, never the one a run uses.
    """
    state = f"{spec.key}_run"
    st.header(spec.name)
    st.write(spec.intro)
    source = st.radio("data", ["use an example", "use your own data", "open a run file"], horizontal=True,
                      key=f"{spec.key}_source")
    widgets = None
    if source == "open a run file":
        upload = st.file_uploader("run file (.npz) saved by this page", type=["npz"], key=f"{spec.key}_run_file")
        if upload is not None:
            common.open_run_file(upload, spec.key, spec.name, spec.make_explainer, state)
        (running, exploring), clicked = explore_.slots(), False
    else:
        if source == "use an example":
            with common.shown_errors("loading the example"):
                prepared = spec.example()
            if prepared is None:
                st.info(spec.example_missing)
        else:
            prepared = (spec.own_inputs or _own_inputs)(spec)
        if prepared is None:
            return
        model, item, reference, labels, extra = prepared
        extra = dict(extra)
        first_distance = extra.pop("distance", spec.distance)  # what the widget shows first; the widget decides
        widgets = common.parameter_widgets(spec.key, images=spec.feature_res, distance=first_distance,
                                           p_keep=spec.p_keep)
        parameters = {**extra, **widgets}
        item_name = str(parameters.get("item_name", f"the {spec.item_noun}"))
        clicked = st.button("Explain", type="primary", key=f"{spec.key}_explain")
        running, exploring = explore_.slots()
        if clicked:
            st.session_state.pop(state, None)
            exploring.empty()  # the last run's exploration goes at once, never greyed below the new run
            with running.container():
                placeholder = st.empty()

                def draw(explainer: Any) -> None:
                    explainer.significance(common.DEFAULTS["fdr"])
                    titles = explore_.pair_titles(item_name, labels, st.session_state[state]["parameters"])
                    placeholder.image(explore_.png(lambda: spec.figure(explainer, item, titles, False, parameters)))

                def make(n: int) -> Any:
                    return spec.make_explainer(parameters, n, run=True)

                with common.shown_errors("explaining"):
                    common.run_in_blocks(make, model, item, reference, int(parameters["n_masks"]), state, draw,
                                         state_extra={"labels": labels, "parameters": parameters,
                                                      "item_name": item_name},
                                         embed_item=lambda: embed(model, item[None]))
    if clicked:  # the run's progress bar, Stop and partial map go with the run
        running.empty()
    with exploring.container():
        explore(spec, widgets)
