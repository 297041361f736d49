"""Uploads are private and named: a per-server folder only this user can read, files created exclusively and removed
when the server stops, and errors that name the uploaded file (never a server path, never advice to unpickle)."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit", minversion="1.56")

from conftest import save_linear_onnx  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from dianna_distance.dashboard import common  # noqa: E402
from dianna_distance.files import read_npy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dianna_distance" / "dashboard" / "app.py"
SIZE = 16


def test_uploads_go_to_a_private_folder_made_for_this_server():
    path = common.stored_upload(b"a private upload", ".onnx")
    folder = path.parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert folder.parent == Path(tempfile.gettempdir()) and folder.name != "dianna_distance_dashboard"
    assert path.read_bytes() == b"a private upload"


def test_an_upload_never_follows_a_planted_link_nor_serves_a_planted_file(tmp_path):
    folder = common.stored_upload(b"first", ".onnx").parent
    data = b"the real model"
    digest = common.file_digest(data)
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    (folder / f"{digest}.onnx.part").symlink_to(victim)  # what a predictable temporary name would write through
    (folder / f"{digest}.onnx").write_bytes(b"a planted model")  # what a predictable final name would serve
    path = common.stored_upload(data, ".onnx")
    assert path.read_bytes() == data
    assert victim.read_bytes() == b"untouched"
    assert common.stored_upload(data, ".onnx") == path  # the same bytes again: the same file, written once


def test_an_upload_suffix_is_never_a_path():
    path = common.stored_upload(b"suffix", "/../../escape")
    assert path.parent == common.upload_folder() and path.suffix == ""


def find_browser() -> str | None:
    for name in ("chromium-headless-shell", "chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    return None


SCRIPT = """
import os
from dianna_distance.dashboard import common
path = common.stored_upload(b"an upload", ".bin")
with open(os.environ["UPLOAD_RECORD"], "w") as out:
    out.write(str(path.parent))
"""


def test_the_upload_folder_is_removed_when_the_streamlit_server_stops(tmp_path):
    browser_path = find_browser()
    if browser_path is None:
        pytest.skip("no Chromium here (apt-get install chromium-headless-shell) to open a session")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    (tmp_path / "app.py").write_text(SCRIPT)
    record = tmp_path / "folder.txt"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "UPLOAD_RECORD": str(record), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(tmp_path / "app.py"), "--server.port",
                                str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
                                "--browser.gatherUsageStats", "false"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2).read()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        with sync_playwright() as playwright:  # a session runs the script, which stores an upload
            browser = playwright.chromium.launch(executable_path=browser_path)
            browser.new_page().goto(url)
            while not (record.exists() and record.read_text()):
                assert time.monotonic() < deadline, "the script did not run"
                time.sleep(0.3)
            browser.close()
        folder = Path(record.read_text())
        assert folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) == 0o700
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not folder.exists()
    finally:
        if process.poll() is None:
            process.kill()


def own_image_app(tmp_path: Path, image: bytes, reference: bytes) -> AppTest:
    path, _, _ = save_linear_onnx(tmp_path / "linear.onnx", (SIZE, SIZE, 3), embedding_length=6)
    from dianna_distance.dashboard.images import MODELS

    app = AppTest.from_file(str(APP), default_timeout=60)
    app.session_state["images_source"] = "use your own data"
    app.session_state["images_model"] = MODELS[2]
    app.session_state["images_reference_kind"] = ".npy embedding"
    app.run()
    app.file_uploader(key="images_image").upload("holiday photo.png", image, "image/png")
    app.file_uploader(key="images_onnx").upload("model.onnx", path.read_bytes())
    app.file_uploader(key="images_npy").upload("reference.npy", reference)
    app.run()
    assert not app.exception
    return app


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_a_bad_image_upload_names_the_uploaded_file_never_a_server_path(tmp_path):
    app = own_image_app(tmp_path, b"not an image at all", npy_bytes(np.ones(6)))
    message = app.error[0].value
    assert "holiday photo.png" in message
    assert tempfile.gettempdir() not in message and "upload-" not in message


def test_an_onnx_upload_that_is_not_a_model_names_the_uploaded_file_never_a_server_path():
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.session_state["page"] = "Tables"
    app.session_state["tables_source"] = "use your own data"
    app.run()
    app.file_uploader(key="tables_onnx").upload("broken.onnx", b"\x08\x07garbage that is not protobuf")
    app.file_uploader(key="tables_table").upload("rows.csv", b"a,b,c,d\n1,2,3,4\n")
    app.run()
    assert not app.exception
    message = app.error[0].value
    assert "broken.onnx" in message and tempfile.gettempdir() not in message


def test_a_text_file_uploaded_as_an_npy_reference_is_named_without_advice_to_load_pickles(tmp_path):
    image = io.BytesIO()
    from PIL import Image

    Image.fromarray(np.zeros((SIZE, SIZE, 3), dtype=np.uint8)).save(image, format="PNG")
    app = own_image_app(tmp_path, image.getvalue(), b"these are my notes, not an array\n")
    message = app.error[0].value
    assert "reference.npy is not a readable .npy file" in message
    assert "pickle" not in message


def test_a_text_file_given_as_an_npy_on_the_command_line_is_not_called_a_pickle(tmp_path):
    (tmp_path / "notes.npy").write_text("these are my notes, not an array\n")
    with pytest.raises(ValueError, match="notes.npy'? is not a readable .npy file") as caught:
        read_npy(tmp_path / "notes.npy", "reference")
    assert "pickle" not in str(caught.value)
