"""What every page's exploration of a run shares: the pair and its distance, the run's parameters, figures drawn once.

After a run, a page's exploration (selection sliders, significance, figures, downloads) is a Streamlit fragment: moving
a slider reruns that section alone, never the page's inputs or its model. Each figure is drawn once per setting that
changes it (the histogram, say, only when the selection ranges or the weighting change) and kept as PNG bytes in a
small per-session store (:func:`cached`, at most ``MAX_CACHED`` entries, emptied when a new run replaces the old
one), so going back to an earlier slider position shows its figure at once, and a session's memory stays bounded.
"""

from __future__ import annotations

import io
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import streamlit as st

from dianna_distance.dashboard import common

#: Figures kept per session and page (a map is about 0.5 MB).
MAX_CACHED = 12  # figures kept per session and page (a map is about 0.5 MB)

#: What each distance's values mean, shown under the pair.
SCALES = {"cosine": "cosine distance = (1 − cos)/2: 0 for the same direction, 0.5 for orthogonal embeddings, "
                    "at most 1",
          "euclidean": "Euclidean distance: 0 for the same embedding, in the embedding's own units (no upper bound)"}

#: What the maps' colours mean (the ``bwr`` colour map: blue, white, red).
COLOURS = ("Colours: **red** marks what brings the item closer to the reference, **blue** what pushes it away, "
           "white neither; the same scale for every reference of a run.")

#: The parameters a run summary names, in order, with how to say them.
SUMMARY = (("n_masks", "{} masks"), ("p_keep", "p_keep {}"), ("feature_res", "feature_res {}"),
           ("distance", "{} distance"), ("random_state", "seed {}"))


def distance_words(distance: str, value: float | None) -> str:
    """``"cosine distance 0.448"`` (or ``"cosine distance"`` when the value is not known)."""
    return f"{distance} distance" if value is None else f"{distance} distance {value:.3g}"


def pair_titles(item: str, labels: list[str], parameters: dict, figure: bool = True) -> list[str]:
    """One title per reference: ``"bee.jpg vs fly.jpg — cosine distance 0.448"``.

    Args:
        item: What the item is called (a file name, "the passage", a time span).
        labels: The references' names.
        parameters: The run's parameters (``distance``, and ``item_distances`` when the run stored them).
        figure: Whether the titles go into a matplotlib figure (then a ``$`` of a name never starts mathtext);
            False for plain text.
    """
    distances = parameters.get("item_distances") or [None] * len(labels)
    distance = str(parameters.get("distance", "cosine"))
    titles = [f"{item} vs {label} — {distance_words(distance, value)}" for label, value in zip(labels, distances)]
    return [common.figure_text(title) for title in titles] if figure else titles


def show_pair(item: str, labels: list[str], parameters: dict) -> None:
    """The pairs the run explains and their distances, in bold, and the distance's scale."""
    for title in pair_titles(item, labels, parameters, figure=False):
        st.markdown(f"**{common.markdown_text(title)}**")
    st.caption(SCALES.get(str(parameters.get("distance")), ""))


def run_summary(parameters: dict, n_masks: int) -> str:
    """``"this run: 1000 masks, p_keep 0.5, feature_res 8, cosine distance, seed 0"``."""
    values = {**parameters, "n_masks": n_masks}
    return "this run: " + ", ".join(text.format(values[name]) for name, text in SUMMARY if name in values)


def changed_parameters(run_parameters: dict, widgets: dict | None) -> list[str]:
    """The parameters whose widgets now show another value than the run used (``"distance: cosine → euclidean"``)."""
    if not widgets:
        return []
    changed = []
    for name, _ in SUMMARY:
        if name in widgets and name in run_parameters and widgets[name] != run_parameters[name]:
            changed.append(f"{name}: {run_parameters[name]} → {widgets[name]}")
    return changed


def show_run(run: dict, widgets: dict | None) -> None:
    """The run's parameters, and a warning naming every widget changed since the run (press Explain to use them)."""
    st.caption(f"{run_summary(run['parameters'], len(run['explainer'].embeddings_))}; model calls so far in this "
               f"session: {st.session_state.get('model_calls', 0)}")
    changed = changed_parameters(run["parameters"], widgets)
    if changed:
        st.warning("The parameters above differ from this run's (" + "; ".join(changed) + "): press Explain to "
                   "run with them.")


def cached(state_key: str, run: dict, key: tuple, make: Callable[[], Any]) -> Any:
    """``make()`` once per ``key`` for this run, kept in a bounded per-session store.

    Args:
        state_key: The page's run key in ``st.session_state`` (the store is ``<state_key>_figures``).
        run: The run (its ``token`` says which run the store holds; a new run empties it).
        key: What the value depends on (the selection settings that change it).
        make: Draws the value (PNG bytes, thumbnails).
    """
    token = run.setdefault("token", uuid.uuid4().hex)
    store = st.session_state.get(f"{state_key}_figures")
    if store is None or store["token"] != token:
        store = {"token": token, "items": OrderedDict()}
        st.session_state[f"{state_key}_figures"] = store
    items: OrderedDict = store["items"]
    if key in items:
        items.move_to_end(key)
        return items[key]
    value = make()
    items[key] = value
    while len(items) > MAX_CACHED:
        items.popitem(last=False)
    return value


def reselect_once(run: dict, selection: dict) -> None:
    """Apply the selection widgets to the run's explainer, only when they changed since the last time."""
    key = selection_key(selection, ("overlay",))
    if run.get("selection") != key:
        common.reselected(run["explainer"], selection)
        run["selection"] = key


def selection_key(selection: dict, leave_out: tuple[str, ...] = ()) -> tuple:
    """The selection settings as a hashable key, without ``leave_out``."""
    return tuple(sorted((name, value) for name, value in selection.items() if name not in leave_out))


def ranges_key(selection: dict) -> tuple:
    """The settings the distance histogram and the masked examples depend on (ranges and weighting)."""
    return selection_key(selection, ("fdr", "overlay"))


def figure_key(selection: dict) -> tuple:
    """The settings a map figure depends on (the FDR only while the overlay is shown)."""
    return selection_key(selection, () if selection["overlay"] else ("fdr",))


def png(make_figure: Callable[[], Any], dpi: int = 110) -> bytes:
    """Draw a matplotlib figure and return it as PNG bytes, quickly compressed (the figure is not kept)."""
    buffer = io.BytesIO()
    make_figure().savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def slots() -> tuple[Any, Any]:
    """Two places under a page's Explain button (``st.empty``): one for a running run, one for the exploration.

    A run empties the exploration's place first (no greyed copy of the last run's exploration stays below it) and
    its own place when it ends (its progress bar and Stop go with it); the exploration is then drawn in its place.
    """
    return st.empty(), st.empty()
