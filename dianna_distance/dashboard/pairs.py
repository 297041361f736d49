"""The Pairs page: explain two items at once, then pick a word or a region and see what it binds to, without the model.

One run of :class:`~dianna_distance.PairDistanceExplainer` gives both sides' first-order maps and the interactions
of every feature of A with every feature of B; the page keeps the run and reads any feature's column or row of
the interactions (:meth:`~dianna_distance.PairDistanceExplainer.interaction_map`) from it, so picking a word or a
region calls no model. Examples: ConSE (EfficientNet-Lite0 x MiniLM) on a composite of two bundled photographs
with the caption "a bee and a car", and MiniLM on a query and a passage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
import streamlit as st

from dianna_distance.batch.pair_kind import PairSide, pair_arrays, pair_figure, read_item, run_pair, save_npz
from dianna_distance.dashboard import common
from dianna_distance.data import example_image

STATE = "pairs_run"
CALLS = "pairs_model_calls"
PAGE = "Pairs"
#: The choices of data the page offers (two examples, or one's own items).
EXAMPLES = ("MiniLM: a query x a passage",
            "ConSE: a composite of two photographs x “a bee and a car”",
            "your own items")
EXAMPLE_QUERY = "cheap flights to rome"
EXAMPLE_PASSAGE = "inexpensive airfares for travel to italy"
EXAMPLE_CAPTION = "a bee and a car"
#: Models offered for one's own items (names of :data:`~dianna_distance.batch.pair_kind.PAIR_MODELS`).
OWN_MODELS = ("conse", "minilm", "efficientnet-lite0")


class CountedModel:
    """A model that counts its calls in the session (the page shows that exploring calls none)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, batch: Any) -> Any:
        """Embed a batch, counting the call."""
        st.session_state[CALLS] = st.session_state.get(CALLS, 0) + 1
        return self.model(batch)


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def loaded_model(name: str, modality: str) -> Any:
    """A side's model by name and modality, one per server (ConSE and EfficientNet-Lite0 need no download)."""
    from dianna_distance.batch.pair_kind import ModelLoader

    return ModelLoader((None, None), None).get(name, modality, 0)


def _image_side(model: Any, image: Any, label: str) -> PairSide:
    prepared, options = model.prepare(image)
    return PairSide(prepared, CountedModel(model), dict(options), model.load_image(image), label)


def _composite_sides() -> tuple[PairSide, PairSide]:
    """ConSE's bee-and-car composite (bee left, car right) and its caption."""
    from dianna_distance.evaluation.pairs import side_by_side

    model = loaded_model("conse", "image")
    bee, options = model.prepare(example_image("bee.jpg"))
    car, _ = model.prepare(example_image("car2.png"))
    composite, _ = side_by_side(bee, car)
    shown, _ = side_by_side(model.load_image(example_image("bee.jpg")), model.load_image(example_image("car2.png")))
    text = loaded_model("conse", "text")
    return (PairSide(composite, CountedModel(model), dict(options), shown, "bee.jpg | car2.png"),
            PairSide(EXAMPLE_CAPTION, CountedModel(text), {}, EXAMPLE_CAPTION, EXAMPLE_CAPTION))


def _own_side(name: str, key: str) -> tuple[str, str | Path] | None:
    """One side of one's own: a text, or an uploaded image (stored in the dashboard's folder)."""
    kind = st.radio(f"item {name}", ["text", "image"], horizontal=True, key=f"pairs_{key}_kind")
    if kind == "text":
        text = st.text_input(f"text {name}", key=f"pairs_{key}_text")
        return ("text", text) if text.strip() else None
    upload = st.file_uploader(f"image {name}", type=["png", "jpg", "jpeg"], key=f"pairs_{key}_image")
    if upload is None:
        return None
    return "image", common.stored_upload(upload.getvalue(), Path(upload.name).suffix.lower())


def _inputs(source: str) -> tuple[PairSide, PairSide] | None:
    if source == EXAMPLES[1]:
        st.caption("The bee left, the car right: does “bee” bind the left half and “car” the right?")
        return _composite_sides()
    if source == EXAMPLES[0]:
        st.caption("Which query word goes with which passage word?")
        model = loaded_model("minilm", "text")
        return (PairSide(EXAMPLE_QUERY, CountedModel(model), {}, EXAMPLE_QUERY, EXAMPLE_QUERY),
                PairSide(EXAMPLE_PASSAGE, CountedModel(model), {}, EXAMPLE_PASSAGE, EXAMPLE_PASSAGE))
    choice = cast(str, st.selectbox("model (both sides)", OWN_MODELS, key="pairs_model"))  # see common.SELECTBOX
    left, right = st.columns(2)
    with left:
        given_a = _own_side("A", "a")
    with right:
        given_b = _own_side("B", "b")
    if given_a is None or given_b is None:
        st.info("Give both items: a text, or an image.")
        return None
    sides = []
    with common.shown_errors("reading the items"):
        for side, (_kind, value) in zip("ab", (given_a, given_b)):
            modality, read = read_item(str(value), f"item_{side}")
            model = loaded_model(choice, modality)
            sides.append(_image_side(model, read, Path(read).name) if modality == "image" else
                         PairSide(str(read), CountedModel(model), {}, str(read), str(read)))
    return sides[0], sides[1]


def _parameters() -> dict:
    with st.expander("Explainer parameters", expanded=False):
        left, right = st.columns(2)
        return {
            "n_masks": int(left.number_input("joint samples (n_masks)", 20, 20000, 300, step=50,
                                             key="pairs_n_masks")),
            "random_state": int(right.number_input("random_state (seed)", 0, 2**31 - 1, 0, key="pairs_seed")),
            "feature_res_a": int(left.number_input("image cells per axis (side A)", 1, 16, 4, key="pairs_res_a")),
            "feature_res_b": int(right.number_input("image cells per axis (side B)", 1, 16, 4, key="pairs_res_b")),
        }


def _map_over(values: np.ndarray, significant: np.ndarray, side: PairSide, names: list[str], title: str) -> None:
    """One side's values: an image overlay, or a table of its words."""
    if side.modality == "text":
        order = np.argsort(-values, kind="stable")
        st.markdown(f"**{title}**")
        st.table({"word": [names[i] for i in order], "interaction": [f"{values[i]:+.4f}" for i in order],
                  "significant": ["yes" if significant[i] else "no" for i in order]})
        return
    import matplotlib.pyplot as plt

    limit = float(np.max(np.abs(values))) or 1.0
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(np.asarray(side.shown).mean(axis=-1), cmap="gray")
    ax.imshow(values, cmap=common.CMAP, vmin=-limit, vmax=limit, alpha=np.where(significant, 0.75, 0.3))
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    st.image(common.figure_png(fig), width=360)
    plt.close(fig)


def explore(run: dict) -> None:
    """After a run: pick a feature of either side and see what it binds on the other; downloads. No model calls."""
    explainer, sides = run["explainer"], run["sides"]
    st.subheader("What binds to what (no model calls)")
    st.caption(f"{explainer.n_masks_used_} joint samples; model calls so far in this session: "
               f"{st.session_state.get(CALLS, 0)}")
    rows = explainer.top_interactions(5)
    st.markdown("**The strongest bindings**")
    st.table({"A": [row[0] for row in rows], "B": [row[1] for row in rows],
              "interaction": [f"{row[2]:+.4f} ± {row[3]:.4f}" for row in rows],
              "significant": ["yes" if row[4] else "no" for row in rows]})
    whose = cast(str, st.radio("pick a feature of", ["B", "A"], horizontal=True, key="pairs_whose"))
    features = explainer.features_b_ if whose == "B" else explainer.features_a_
    strongest = int(np.argmax(explainer.interactions_.max(axis=0 if whose == "B" else 1)))
    index = cast(int, st.selectbox(f"feature of {whose}", range(len(features)), strongest,
                                   format_func=lambda i: features[i], key=f"pairs_feature_{whose}"))
    side = "b" if whose == "B" else "a"
    other = sides[0] if whose == "B" else sides[1]
    def column(values: np.ndarray) -> np.ndarray:
        return values[:, index] if side == "b" else values[index]

    table, marked = column(explainer.interactions_), column(explainer.interactions_significant_)
    errors = column(explainer.interactions_standard_error_)
    names = explainer.features_a_ if side == "b" else explainer.features_b_
    shown = explainer.interaction_map(index, side=side) if other.modality == "image" else table
    flags = explainer.interaction_map(index, side=side, values="significant") if other.modality == "image" else marked
    best = int(np.argmax(table))
    st.markdown(f"**{common.markdown_text(features[index])}** binds most to **{common.markdown_text(names[best])}** "
                f"({table[best]:+.4f} ± {errors[best]:.4f}, {'significant' if marked[best] else 'not significant'})")
    _map_over(shown, flags, other, names,
              f"what “{common.figure_text(features[index])}” binds (faded: not significant)")
    with st.expander("the whole figure"):
        fig = pair_figure(explainer, sides)
        st.image(common.figure_png(fig))
    left, right = st.columns(2)
    arrays = pair_arrays(explainer)
    left.download_button("maps and interactions (.npz)", _npz_bytes(arrays), "pair_distance.npz",
                         key="pairs_download_npz")
    right.download_button("figure (.png)", common.figure_png(pair_figure(explainer, sides)), "pair_distance.png",
                          key="pairs_download_png")


def _npz_bytes(arrays: dict) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.npz"
        save_npz(path, arrays)
        return path.read_bytes()


def page() -> None:
    """Draw the Pairs page."""
    st.header(PAGE)
    st.write("Explain two items at once: each side's map, and which word or region of one binds which of the other "
             "(red: the pair is closer with both parts than with each alone).")
    source = cast(str, st.radio("data", EXAMPLES, key="pairs_source"))
    with common.shown_errors("loading the models"):
        sides = _inputs(source)
    if sides is None:
        return
    parameters = _parameters()
    if st.button("Explain the pair", type="primary", key="pairs_explain"):
        st.session_state.pop(STATE, None)
        with common.shown_errors("explaining"), st.spinner("Explaining (two model calls per joint sample)…"):
            explainer = run_pair(sides, progress=False, **parameters)
        st.session_state[STATE] = {"explainer": explainer, "sides": sides, "source": source}
    run = st.session_state.get(STATE)
    if run is not None and run["source"] == source:
        explore(run)
