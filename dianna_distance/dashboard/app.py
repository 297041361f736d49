"""The dashboard's start-up script (``streamlit run app.py``): DIANNA's look, and one page per modality."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import streamlit as st

from dianna_distance.dashboard import common, sessions
from dianna_distance.dashboard.explore import COLOURS


def dianna_logo() -> Path | None:
    """DIANNA's logo from the installed ``dianna`` package data, or None when it is not there."""
    try:
        logo = Path(str(resources.files("dianna") / "data" / "logo.png"))
    except ModuleNotFoundError:
        return None
    return logo if logo.is_file() else None


def pages() -> dict:
    """The page names and their drawing functions."""
    from dianna_distance.dashboard import images, pairs, tables, texts, timeseries

    return {"Images": images.page, "Texts": texts.page, "Time series": timeseries.page, "Tables": tables.page,
            "Pairs": pairs.page}


def main() -> None:
    """Draw the dashboard."""
    st.set_page_config(page_title="dianna-distance", page_icon=str(dianna_logo() or "🔍"), layout="wide")
    sessions.watch()  # a closed tab's session is shut down before Streamlit forgets it (its memory is freed)
    logo = dianna_logo()
    if logo is not None:
        st.sidebar.image(str(logo))
    st.sidebar.markdown("**Distance Explainer**: why is an item close to, or far from, a reference in a model's "
                        "embedded space?")
    available = pages()
    choice = st.sidebar.radio("page", list(available), key="page")
    st.sidebar.markdown(COLOURS)
    st.sidebar.caption("After a run, moving the selection sliders re-selects the masks already embedded: no model "
                       "call.")
    try:
        available[choice]()
    except Exception as error:  # noqa: BLE001 - the page shows a message, never a traceback
        message = " ".join(str(error).split()) or type(error).__name__
        st.error(f"The {choice} page failed: {common.markdown_text(message)}")


if __name__ == "__main__":  # `streamlit run app.py` runs this file as __main__; importing it draws nothing
    main()
