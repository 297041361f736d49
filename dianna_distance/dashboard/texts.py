"""The Texts page: which words make a text close to a reference text or a ``.npy`` embedding; then explore the run."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, cast

import numpy as np
import streamlit as st

from dianna_distance.dashboard import common
from dianna_distance.dashboard import explore as explore_

STATE = "texts_run"
PAGE = "Texts"
EXAMPLE_PASSAGE = ("A lighthouse keeper lit the lamp each evening, and its rotating beam guided the ships past the "
                   "rocks.")
EXAMPLE_QUERIES = ("how do lighthouses warn ships at night", "a recipe for apple pie")
MODELS = ("MiniLM (all-MiniLM-L6-v2, preset)", "upload an ONNX sentence model and its tokenizer.json")


@st.cache_resource(show_spinner="Loading MiniLM…")
def minilm() -> tuple[Any, str]:
    """The MiniLM sentence encoder and the path of its ``tokenizer.json``."""
    from dianna_distance.models.sentence import load_minilm, minilm_files

    return load_minilm(), str(minilm_files()[1])


@st.cache_resource(max_entries=4, show_spinner="Loading the ONNX model…")
def sentence_model(digest: str, model: bytes, tokenizer: bytes, names: tuple[str, str] = ("model.onnx",
                                                                                        "tokenizer.json")
                   ) -> tuple[Any, str]:
    """A sentence encoder for an uploaded ONNX model and ``tokenizer.json`` (one session per pair).

    Args:
        digest: :func:`~dianna_distance.dashboard.common.file_digest` of both files.
        model: The uploaded model's bytes.
        tokenizer: The uploaded tokenizer's bytes.
        names: The uploaded files' names, which errors name (never the server's copies).
    """
    from dianna_distance.sentence_model import SentenceEncoder

    model_path = common.stored_upload(model, ".onnx")
    tokenizer_path = common.stored_upload(tokenizer, ".json")
    try:
        with common.named_as_uploaded(model_path, names[0]), common.named_as_uploaded(tokenizer_path, names[1]):
            return SentenceEncoder(model_path, tokenizer_path), str(tokenizer_path)
    except Exception as error:
        raise common.DashboardInputError(f"the uploaded model and tokenizer cannot be read as a sentence model "
                                         f"({error})") from error


@functools.lru_cache(maxsize=4)
def _tokenizer(tokenizer_json: str) -> Any:
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_str(tokenizer_json)
    except Exception as error:  # tokenizers raises a bare Exception for text that is not a tokenizer
        raise ValueError(f"tokenizer_json is not a tokenizer.json ({' '.join(str(error).split())[:200]})") from error


def make_explainer(parameters: dict, n_masks: int) -> Any:
    """A :class:`~dianna_distance.TextDistanceExplainer` with the page's parameters and ``n_masks`` masks.

    The tokenizer is ``parameters["tokenizer_json"]``, the text of the run's ``tokenizer.json``: a run file
    carries it, and no path is read.
    """
    from dianna_distance import TextDistanceExplainer

    tokenizer_json = parameters.get("tokenizer_json")
    if not isinstance(tokenizer_json, str):
        raise ValueError("the run's parameters have no tokenizer_json (the text of its tokenizer.json)")
    return TextDistanceExplainer(n_masks=int(n_masks), p_keep=float(parameters["p_keep"]),
                                 tokenizer=_tokenizer(tokenizer_json),
                                 random_state=int(parameters["random_state"]),
                                 distance=parameters.get("distance", "cosine"),
                                 mask_pairs=parameters.get("mask_pairs", "auto"), progress=False)


def _inputs() -> tuple | None:
    source = st.radio("data", ["use an example", "use your own data"], horizontal=True, key="texts_source")
    if source == "use an example":
        st.caption("MiniLM: a passage against two search queries (the words that make it a good or a bad match)")
        model, tokenizer = minilm()
        text, npy = EXAMPLE_PASSAGE, None
        lines: list[str] | None = list(EXAMPLE_QUERIES)
        st.text_area("passage", text, disabled=True, key="texts_example_passage")
    else:
        choice = cast(str, st.selectbox("model", MODELS, key="texts_model"))  # see common.SELECTBOX
        model_upload = tokenizer_upload = None
        if choice == MODELS[1]:
            model_upload = st.file_uploader("ONNX sentence model", type=["onnx"], key="texts_onnx")
            tokenizer_upload = st.file_uploader("its tokenizer.json", type=["json"], key="texts_tokenizer")
        text = st.text_area("text to explain", key="texts_text")
        kind = st.radio("reference", ["reference text(s)", ".npy embedding"], horizontal=True, key="texts_kind")
        lines, npy = None, None
        if kind == "reference text(s)":
            lines = [line.strip() for line in st.text_area("reference text(s), one a line",
                                                           key="texts_references").splitlines() if line.strip()]
        else:
            npy = st.file_uploader("reference embedding (D,) or (K, D)", type=["npy"], key="texts_npy")
        if choice == MODELS[1] and (model_upload is None or tokenizer_upload is None):
            st.info("Upload the ONNX model and its tokenizer.json.")
            return None
        if not text.strip():
            st.info("Write the text to explain.")
            return None
        if lines is not None and not lines:
            st.info("Write at least one reference text.")
            return None
        if npy is None and lines is None:
            st.info("Upload the reference embedding.")
            return None
        with common.shown_errors("loading the model"):
            if model_upload is None or tokenizer_upload is None:  # MiniLM (the uploads are checked above)
                model, tokenizer = minilm()
            else:
                data = model_upload.getvalue() + tokenizer_upload.getvalue()
                model, tokenizer = sentence_model(common.file_digest(data), model_upload.getvalue(),
                                                  tokenizer_upload.getvalue(),
                                                  (model_upload.name, tokenizer_upload.name))
    with common.shown_errors("embedding the reference"):
        if len(text.split()) < 2:
            raise common.DashboardInputError("the text must have at least two words")
        if npy is not None:
            reference = common.read_embedding(npy.getvalue(), npy.name)
            labels = [f"{Path(npy.name).stem}[{i}]" for i in range(len(reference))] if len(reference) > 1 \
                else [Path(npy.name).stem]
        else:
            assert lines is not None  # without a .npy upload, reference texts (the page returned without either)
            reference = np.atleast_2d(np.asarray(model(lines), dtype=np.float64))
            labels = lines
        common.check_reference_length(reference, np.asarray(model([text])).shape[1], "the reference")
    return model, tokenizer, text, reference, labels, "the passage" if source == "use an example" else "your text"


def _highlight(explainer: Any, text: str, titles: list[str], overlay: bool) -> str:
    from dianna_distance.visualization import TextHighlight

    scores = np.atleast_2d(explainer.map_)
    return TextHighlight(explainer.explanation(scores), text, explainer.offsets_, titles=titles,
                         standard_errors=_errors(explainer),
                         significant=np.atleast_2d(explainer.significant_) if overlay else None).to_html()


def _errors(explainer: Any) -> np.ndarray | None:
    """The standard errors to show, or None while a selection holds a single mask (infinite errors)."""
    errors = np.atleast_2d(explainer.standard_error_)
    return None if np.isinf(errors).any() else errors


def _masked_texts(explainer: Any, index: int, count: int = 3) -> tuple[list[str], list[str]]:
    words = explainer.words_

    def kept(mask_index: int) -> str:
        mask = np.asarray(explainer.masks_[int(mask_index)]).ravel()
        return " ".join(word for word, keep in zip(words, mask) if keep > 0.5) or "(every word dropped)"

    positive = np.atleast_2d(explainer.positive_indices_)[index][:count]
    negative = np.atleast_2d(explainer.negative_indices_)[index][-count:]
    return [kept(i) for i in positive], [kept(i) for i in negative]


def _quoted(labels: list[str]) -> list[str]:
    return [f"“{label}”" for label in labels]


@st.fragment
def explore(widgets: dict | None = None) -> None:
    """After a run: re-selection, significance, histogram, closest and farthest masked texts, downloads.

    A fragment: moving a slider reruns this section alone; each figure is drawn once per setting that changes it.

    Args:
        widgets: The parameter widgets' values now (a change since the run is named), or None.
    """
    from dianna_distance.visualization import plot_text_distance

    run = st.session_state.get(STATE)
    if run is None or "labels" not in run:
        return
    explainer, text, labels, parameters = run["explainer"], run["inputs"], run["labels"], run["parameters"]
    item_name = str(run.get("item_name") or parameters.get("item_name") or "the text")
    titles = explore_.pair_titles(item_name, _quoted(labels), parameters, figure=False)
    st.subheader("Explore the run (no model calls)")
    explore_.show_pair(item_name, _quoted(labels), parameters)
    explore_.show_run(run, widgets)
    selection = common.selection_widgets("texts")
    with common.shown_errors("re-selecting the masks"):
        explore_.reselect_once(run, selection)
    st.html(explore_.cached(STATE, run, ("highlight", explore_.figure_key(selection)),
                            lambda: _highlight(explainer, text, titles, selection["overlay"])))
    st.image(explore_.cached(STATE, run, ("histogram", explore_.ranges_key(selection)), lambda: explore_.png(
        lambda: common.distance_histogram(explainer, selection, labels), dpi=100)))
    masked = explore_.cached(STATE, run, ("masked", explore_.ranges_key(selection)),
                             lambda: [_masked_texts(explainer, index) for index in range(len(labels))])
    for label, (closest, farthest) in zip(labels, masked):
        st.markdown(f"**vs “{common.markdown_text(label)}”**: closest masked texts")
        st.text("\n".join(closest))
        st.markdown("farthest masked texts")
        st.text("\n".join(farthest))

    def figure() -> bytes:
        scores = np.atleast_2d(explainer.map_)
        return explore_.png(lambda: plot_text_distance(
            explainer.explanation(scores), title=[common.figure_text(title) for title in titles],
            standard_error=_errors(explainer),
            significant=np.atleast_2d(explainer.significant_) if selection["overlay"] else None, text=text,
            offsets=explainer.offsets_, n_masks=len(explainer.embeddings_)))

    left, middle, right = st.columns(3)
    left.download_button("scores and standard error (.npz)", lambda: common.map_npz(explainer), "text_distance.npz",
                         key="texts_download_npz", on_click="ignore")
    middle.download_button("figure (.png)", figure, "text_distance.png", key="texts_download_png", on_click="ignore")
    right.download_button("run file (explore later)",
                          lambda: common.run_file(explainer, text, parameters, labels, PAGE, selection),
                          "text_run.npz", key="texts_download_run", on_click="ignore")


def page() -> None:
    """Draw the Texts page."""
    st.header(PAGE)
    st.write("Which words make a text close to, or far from, a reference? Red words bring it closer, blue words "
             "push it away.")
    upload = st.file_uploader("or open a run file saved by this page", type=["npz"], key="texts_run_file")
    widgets = None
    if upload is not None:
        common.open_run_file(upload, "texts", PAGE, make_explainer, STATE)
        (running, exploring), clicked = explore_.slots(), False
    else:
        prepared = _inputs()
        if prepared is None:
            return
        model, tokenizer, text, reference, labels, item_name = prepared
        widgets = common.parameter_widgets("texts", images=False)
        parameters = {**widgets, "item_name": item_name, "tokenizer_json": Path(tokenizer).read_text(encoding="utf-8")}
        clicked = st.button("Explain", type="primary", key="texts_explain")
        running, exploring = explore_.slots()
        if clicked:
            st.session_state.pop(STATE, None)
            exploring.empty()  # the last run's exploration goes at once, never greyed below the new run
            with running.container():
                placeholder = st.empty()

                def draw(explainer: Any) -> None:
                    explainer.significance(common.DEFAULTS["fdr"])
                    titles = explore_.pair_titles(item_name, _quoted(labels), st.session_state[STATE]["parameters"],
                                                  figure=False)
                    placeholder.html(_highlight(explainer, text, titles, False))

                with common.shown_errors("explaining"):
                    common.run_in_blocks(lambda n: make_explainer(parameters, n), model, text, reference,
                                         int(parameters["n_masks"]), STATE, draw, {"model": model},
                                         {"labels": labels, "parameters": parameters, "item_name": item_name},
                                         embed_item=lambda: np.asarray(model([text])))
    if clicked:  # the run's progress bar, Stop and partial map go with the run
        running.empty()
    with exploring.container():
        explore(widgets)
