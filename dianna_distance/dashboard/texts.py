"""The texts page (placeholder)."""

import streamlit as st


def page() -> None:
    """Draw the page."""
    st.header("Texts")
    st.info("Not built yet.")
