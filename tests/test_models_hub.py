"""Fetching model files: local paths, download and SHA-256 check from an HTTP server on 127.0.0.1, offline."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import pytest

from dianna_distance.models import REGISTRY, RemoteFile, fetch, get_cache_dir, set_cache_dir

CONTENT = b"pretend ONNX bytes " * 100


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/served over HTTP on 127.0.0.1; yields the base URL."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "model.onnx").write_bytes(CONTENT)
    handler = functools.partial(QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(autouse=True)
def reset_cache_dir():
    yield
    set_cache_dir(None)


def test_good_file_is_downloaded_verified_and_cached(server, tmp_path):
    remote = RemoteFile(f"{server}/model.onnx", "model.onnx", hashlib.sha256(CONTENT).hexdigest())
    path = fetch(remote, cache_dir=tmp_path / "cache")
    assert path == tmp_path / "cache" / "model.onnx"
    assert path.read_bytes() == CONTENT


def test_cached_file_is_used_without_the_server(server, tmp_path):
    remote = RemoteFile(f"{server}/model.onnx", "model.onnx", hashlib.sha256(CONTENT).hexdigest())
    fetch(remote, cache_dir=tmp_path / "cache")
    (tmp_path / "served" / "model.onnx").unlink()
    assert fetch(remote, cache_dir=tmp_path / "cache").read_bytes() == CONTENT


def test_checksum_mismatch_is_an_error_and_leaves_nothing_in_the_cache(server, tmp_path):
    remote = RemoteFile(f"{server}/model.onnx", "model.onnx", hashlib.sha256(b"the real file").hexdigest())
    with pytest.raises(ValueError, match="hash"):
        fetch(remote, cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_file_on_the_server_says_how_to_supply_it(server, tmp_path):
    remote = RemoteFile(f"{server}/absent.onnx", "absent.onnx")
    with pytest.raises(ConnectionError, match="pass its local path"):
        fetch(remote, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "absent.onnx").exists()


def test_offline_error_names_where_to_put_the_file(tmp_path):
    with socket.socket() as sock:  # a port on 127.0.0.1 that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    remote = RemoteFile(f"http://127.0.0.1:{port}/model.onnx", "model.onnx")
    with pytest.raises(ConnectionError, match=str(tmp_path / "cache" / "model.onnx")):
        fetch(remote, cache_dir=tmp_path / "cache")


def test_local_path_is_returned_as_it_is(tmp_path):
    (tmp_path / "mine.onnx").write_bytes(CONTENT)
    assert fetch(tmp_path / "mine.onnx") == tmp_path / "mine.onnx"


def test_path_that_does_not_exist_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="known model name"):
        fetch(str(tmp_path / "resnet50.onnx"))


def test_cache_dir_follows_set_cache_dir_then_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DIANNA_DISTANCE_CACHE", str(tmp_path / "from_env"))
    assert get_cache_dir() == tmp_path / "from_env"
    set_cache_dir(tmp_path / "set")
    assert get_cache_dir() == tmp_path / "set"


def test_registry_files_are_pinned_and_verified_where_a_checksum_is_known():
    assert {"resnet50", "vgg16", "clip-image", "clip-text", "clip-tokenizer"} <= set(REGISTRY)
    for remote in REGISTRY.values():
        assert remote.url.startswith("https://") and remote.source
        assert remote.sha256 is None or len(remote.sha256) == 64
    assert all(REGISTRY[name].sha256 for name in ("resnet50", "vgg16", "clip-image"))


def test_a_local_file_named_like_a_registry_entry_is_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet50").write_bytes(CONTENT)
    set_cache_dir(tmp_path / "empty-cache")  # a registry fetch would try to download: offline, an error
    assert fetch("resnet50").resolve() == (tmp_path / "resnet50").resolve()
    assert fetch("./resnet50").resolve() == (tmp_path / "resnet50").resolve()
    assert fetch(Path("resnet50")).resolve() == (tmp_path / "resnet50").resolve()


def test_a_path_object_is_never_a_registry_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="'resnet50' is neither an existing file"):
        fetch(Path("resnet50"))


def test_a_damaged_cached_export_says_it_is_a_cached_export_and_how_to_rebuild_it(tmp_path, capsys):
    import dianna

    from dianna_distance.cli import main

    data = Path(dianna.__file__).parent / "data"
    (tmp_path / "efficientnet-lite0.onnx").write_bytes(b"\x08\x07 not an onnx model")
    set_cache_dir(tmp_path)
    code = main(["explain", "efficientnet-lite0", str(data / "bee.jpg"), "--preset", "efficientnet-lite0",
                 "--reference", str(data / "digit0.jpg"), "--n-masks", "4", "--no-progress",
                 "--output", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert code == 2
    assert "the cached export" in error and "is damaged" in error
    assert "delete it" in error and "dianna-distance export efficientnet-lite0 --output-dir" in error
    assert not (tmp_path / "out.npy").exists()
