"""The tables page (placeholder)."""

import streamlit as st


def page() -> None:
    """Draw the page."""
    st.header("Tables")
    st.info("Not built yet.")
