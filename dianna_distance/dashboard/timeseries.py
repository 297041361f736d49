"""The timeseries page (placeholder)."""

import streamlit as st


def page() -> None:
    """Draw the page."""
    st.header("Time series")
    st.info("Not built yet.")
