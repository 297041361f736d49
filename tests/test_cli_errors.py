"""The command line's expected failures: one line on stderr naming the path and the cause, exit code 2, no
traceback, nothing written; and outputs written whole and together."""

from __future__ import annotations

import hashlib
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import save_linear_onnx
from conftest_models import save_image_model
from PIL import Image

from dianna_distance.cli import main, output_paths
from dianna_distance.files import write_together
from dianna_distance.models import REGISTRY, RemoteFile, set_cache_dir

FAST = ["--n-masks", "12", "--random-state", "0", "--no-progress"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def read_only_directory() -> str | None:
    """A directory nobody, not even root, can create files in (Linux's /sys), or None."""
    try:
        with tempfile.NamedTemporaryFile(dir="/sys"):
            return None
    except OSError:
        return "/sys" if os.path.isdir("/sys") else None


@pytest.fixture
def files(tmp_path):
    """A model (N, 3, 6, 8) -> (N, 4), an image, a reference; returns their paths."""
    model = save_linear_onnx(tmp_path / "model.onnx", (3, 6, 8), embedding_length=4)[0]
    image = tmp_path / "image.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)).save(image)
    np.save(tmp_path / "reference.npy", np.arange(1.0, 5.0))
    return model, image, tmp_path / "reference.npy"


@pytest.fixture(autouse=True)
def reset_cache_dir():
    yield
    set_cache_dir(None)


def explain(model, image, reference, *extra):
    return ["explain", str(model), str(image), "--reference", str(reference), *FAST, *extra]


def fails_with_one_line(capsys, argv, *fragments):
    """Run main(argv); assert exit code 2 and one stderr line containing every fragment."""
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("dianna-distance: error:")]
    assert code == 2, err
    assert len(errors) == 1, err
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert "Traceback" not in "\n".join(err)
    return errors[0]


# -- input files --------------------------------------------------------------------------------------------


def test_missing_image_is_named(files, capsys, tmp_path):
    model, _, reference = files
    fails_with_one_line(capsys, explain(model, tmp_path / "absent.png", reference), "absent.png", "does not exist")


def test_directory_given_as_image_is_called_a_directory(files, capsys, tmp_path):
    model, _, reference = files
    (tmp_path / "photos").mkdir()
    fails_with_one_line(capsys, explain(model, tmp_path / "photos", reference), "photos", "is a directory")


def test_path_through_a_file_is_called_not_a_directory(files, capsys):
    model, image, reference = files
    fails_with_one_line(capsys, explain(model, image, Path(reference) / "inner.npy"), "is a file, not a directory")


@pytest.mark.skipif(IS_ROOT or os.name != "posix", reason="root reads any file")
def test_unreadable_image_says_permission(files, capsys):
    model, image, reference = files
    image.chmod(0)
    try:
        fails_with_one_line(capsys, explain(model, image, reference), "permission", str(image))
    finally:
        image.chmod(0o644)


def test_corrupt_onnx_model_is_named(files, capsys, tmp_path):
    _, image, reference = files
    (tmp_path / "broken.onnx").write_bytes(b"\x08\x07garbage that is not protobuf")
    fails_with_one_line(capsys, explain(tmp_path / "broken.onnx", image, reference), "broken.onnx",
                        "not a valid ONNX model")


def test_corrupt_npy_reference_is_named(files, capsys, tmp_path):
    model, image, _ = files
    (tmp_path / "cut.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    fails_with_one_line(capsys, explain(model, image, tmp_path / "cut.npy"), "cut.npy", "not a readable .npy")


def test_pickled_npy_reference_says_it_holds_objects(files, capsys, tmp_path):
    model, image, _ = files
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    fails_with_one_line(capsys, explain(model, image, tmp_path / "objects.npy"), "objects.npy", "Python objects")


def test_pickle_file_named_npy_is_refused(files, capsys, tmp_path):
    model, image, _ = files
    (tmp_path / "pickle.npy").write_bytes(pickle.dumps([1.0, 2.0, 3.0, 4.0]))
    fails_with_one_line(capsys, explain(model, image, tmp_path / "pickle.npy"), "pickle.npy")


def test_npz_archive_given_as_reference_is_refused(files, capsys, tmp_path):
    model, image, _ = files
    np.savez(tmp_path / "refs.npz", a=np.ones(4))
    (tmp_path / "refs.npz").rename(tmp_path / "refs.npy")
    fails_with_one_line(capsys, explain(model, image, tmp_path / "refs.npy"), "refs.npy", ".npz archive")


# -- output location: checked before the model runs -------------------------------------------------------------


def test_missing_output_directory_is_reported_before_the_model_runs(files, capsys, tmp_path):
    _, image, reference = files
    (tmp_path / "broken.onnx").write_bytes(b"not a model")  # would fail if the model were loaded first
    fails_with_one_line(capsys, explain(tmp_path / "broken.onnx", image, reference, "--output",
                                        str(tmp_path / "nowhere" / "out")), "nowhere", "does not exist")


def test_output_directory_that_is_a_file_is_reported(files, capsys, tmp_path):
    model, image, reference = files
    fails_with_one_line(capsys, explain(model, image, reference, "--output", str(image / "out")),
                        "is a file, not a directory")


@pytest.mark.skipif(read_only_directory() is None, reason="needs a read-only directory")
def test_read_only_output_directory_is_reported_before_the_model_runs(files, capsys, tmp_path):
    _, image, reference = files
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    fails_with_one_line(capsys, explain(tmp_path / "broken.onnx", image, reference, "--output", "/sys/out"),
                        "/sys", "cannot write")


def test_output_with_png_suffix_is_a_prefix(files, tmp_path):
    model, image, reference = files
    assert main(explain(model, image, reference, "--output", str(tmp_path / "result.png"))) == 0
    assert np.load(tmp_path / "result.npy").shape == (6, 8)
    assert (tmp_path / "result.png").stat().st_size > 0
    assert not (tmp_path / "result.png.npy").exists()


def test_output_directory_gets_files_named_after_the_image(files, tmp_path):
    model, image, reference = files
    (tmp_path / "maps").mkdir()
    assert main(explain(model, image, reference, "--output", str(tmp_path / "maps"))) == 0
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == ["image_distance.npy", "image_distance.png",
                                                                      "image_distance_se.npy"]


def test_explain_writes_the_maps_standard_error_beside_it(files, tmp_path):
    model, image, reference = files
    assert main(explain(model, image, reference, "--output", str(tmp_path / "result.npy"))) == 0
    saliency, standard_error = np.load(tmp_path / "result.npy"), np.load(tmp_path / "result_se.npy")
    assert standard_error.shape == saliency.shape == (6, 8)
    assert np.all(standard_error > 0)


def test_a_standard_error_path_that_is_a_directory_is_refused_before_the_model_runs(files, tmp_path, capsys):
    model, image, reference = files
    (tmp_path / "result_se.npy").mkdir()
    assert main(explain(model, image, reference, "--output", str(tmp_path / "result"))) == 2
    assert "result_se.npy" in capsys.readouterr().err
    assert not (tmp_path / "result.npy").exists()


def test_output_paths_keep_other_suffixes_as_part_of_the_prefix(tmp_path):
    npy, png = output_paths(tmp_path / "run.v2", "bee.jpg")
    assert (npy.name, png.name) == ("run.v2.npy", "run.v2.png")


# -- files written whole and together -----------------------------------------------------------------------------


def writer(content: bytes, fail: BaseException | None = None):
    def write(path: Path) -> None:
        path.write_bytes(content[: len(content) // 2])
        if fail is not None:
            raise fail
        path.write_bytes(content)

    return write


@pytest.mark.parametrize("interruption", [KeyboardInterrupt(), OSError(28, "No space left on device")])
def test_interrupted_write_leaves_the_previous_files_and_no_temporary_ones(tmp_path, interruption):
    npy, png = tmp_path / "out.npy", tmp_path / "out.png"
    write_together([(npy, writer(b"old npy")), (png, writer(b"old png"))])
    with pytest.raises(type(interruption)):
        write_together([(npy, writer(b"new npy")), (png, writer(b"new png", fail=interruption))])
    assert (npy.read_bytes(), png.read_bytes()) == (b"old npy", b"old png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy", "out.png"]


def test_concurrent_runs_on_the_same_output_leave_a_matching_pair(tmp_path):
    npy, png = tmp_path / "out.npy", tmp_path / "out.png"

    def run(name: str) -> None:
        for round_ in range(40):
            tag = f"{name}-{round_}".encode()
            write_together([(npy, writer(tag)), (png, writer(tag))])

    threads = [threading.Thread(target=run, args=(name,)) for name in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert npy.read_bytes() == png.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy", "out.png"]


def test_written_files_have_the_usual_permissions(files, tmp_path):
    model, image, reference = files
    assert main(explain(model, image, reference, "--output", str(tmp_path / "out"))) == 0
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "out.npy").stat().st_mode & 0o777 == 0o666 & ~umask


# -- options that do not go together ----------------------------------------------------------------------------


def test_pixel_max_with_preset_is_an_error(tmp_path, capsys, files):
    _, image, _ = files
    save_image_model(tmp_path / "resnet.onnx", head="logits")
    fails_with_one_line(capsys, ["explain", str(tmp_path / "resnet.onnx"), str(image), "--preset", "resnet50",
                                 "--reference", str(image), "--pixel-max", "255", *FAST], "--pixel-max", "--preset")


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
def test_pixel_max_that_is_not_positive_and_finite_is_an_error(files, capsys, value):
    model, image, reference = files
    fails_with_one_line(capsys, explain(model, image, reference, "--pixel-max", value), "pixel-max")


def test_caption_without_a_caption_model_is_refused_even_beside_a_reference(files, capsys):
    model, image, reference = files
    fails_with_one_line(capsys, explain(model, image, reference, "--caption", "a bee"), "--caption",
                        "--preset clip")


def test_mask_on_without_a_preset_is_refused(files, capsys):
    model, image, reference = files
    fails_with_one_line(capsys, explain(model, image, reference, "--mask-on", "pixels"), "--mask-on",
                        "only with --preset")


@pytest.mark.parametrize("option", ["--text-model", "--tokenizer"])
def test_caption_model_files_without_a_caption_are_refused(files, capsys, tmp_path, option):
    _, image, _ = files
    save_image_model(tmp_path / "resnet.onnx", head="logits")
    fails_with_one_line(capsys, ["explain", str(tmp_path / "resnet.onnx"), str(image), "--preset", "resnet50",
                                 "--reference", str(image), option, "some.file", *FAST], option, "only with --caption")


def test_mask_on_given_with_a_preset_applies(files, tmp_path):
    _, image, _ = files
    save_image_model(tmp_path / "resnet.onnx", head="logits")
    base = ["explain", str(tmp_path / "resnet.onnx"), str(image), "--preset", "resnet50", "--reference",
            str(image), *FAST]
    assert main([*base, "--mask-on", "normalized", "--output", str(tmp_path / "normalized")]) == 0
    assert main([*base, "--output", str(tmp_path / "default")]) == 0
    assert not np.allclose(np.load(tmp_path / "normalized.npy"), np.load(tmp_path / "default.npy"))


def test_local_file_named_like_a_registry_entry_is_the_file_on_the_command_line(files, tmp_path, monkeypatch):
    _, image, _ = files
    monkeypatch.chdir(tmp_path)
    save_image_model(tmp_path / "resnet50", head="logits")
    monkeypatch.setitem(REGISTRY, "resnet50", RemoteFile(closed_port_url(), "resnet50.onnx", None, "test"))
    set_cache_dir(tmp_path / "cache")  # the registry's file would be a failed download
    for model in ("resnet50", "./resnet50"):
        assert main(["explain", model, str(image), "--preset", "resnet50", "--reference", str(image), "--output",
                     str(tmp_path / "out"), *FAST]) == 0
        assert np.load(tmp_path / "out.npy").shape == (224, 224)


# -- downloads and the cache --------------------------------------------------------------------------------------


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/vision_model.onnx"


def test_offline_download_says_where_to_put_the_file(files, capsys, tmp_path, monkeypatch):
    _, image, _ = files
    monkeypatch.setitem(REGISTRY, "clip-image", RemoteFile(closed_port_url(), "clip.onnx", None, "test"))
    set_cache_dir(tmp_path / "cache")
    fails_with_one_line(capsys, ["explain", "clip", str(image), "--preset", "clip", "--reference", str(image),
                                 "--output", str(tmp_path / "out"), *FAST],
                        "could not download", str(tmp_path / "cache" / "clip.onnx"))


def test_cached_file_failing_its_checksum_says_so_and_how_to_fix_it(files, capsys, tmp_path, monkeypatch):
    _, image, _ = files
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "clip.onnx").write_bytes(b"a damaged download")
    expected = hashlib.sha256(b"the real file").hexdigest()
    monkeypatch.setitem(REGISTRY, "clip-image", RemoteFile(closed_port_url(), "clip.onnx", expected, "test"))
    set_cache_dir(tmp_path / "cache")
    line = fails_with_one_line(capsys, ["explain", "clip", str(image), "--preset", "clip", "--reference", str(image),
                                        *FAST], "fails its SHA-256 check", "Delete it", "clip.onnx")
    assert "could not download" not in line


def test_unwritable_cache_directory_is_not_reported_as_offline(files, capsys, tmp_path, monkeypatch):
    _, image, _ = files
    (tmp_path / "cache").write_text("a file where the cache directory should be")
    monkeypatch.setitem(REGISTRY, "clip-image", RemoteFile(closed_port_url(), "clip.onnx", None, "test"))
    set_cache_dir(tmp_path / "cache" / "inner")
    line = fails_with_one_line(capsys, ["explain", "clip", str(image), "--preset", "clip", "--reference",
                                        str(image), *FAST], "cache directory", "not writable")
    assert "offline" not in line and "could not download" not in line


def test_preset_name_as_model_uses_the_registry_file(tmp_path, monkeypatch, files):
    _, image, _ = files
    (tmp_path / "cache").mkdir()
    save_image_model(tmp_path / "cache" / "clip.onnx", head="embeds", dim=4)
    digest = hashlib.sha256((tmp_path / "cache" / "clip.onnx").read_bytes()).hexdigest()
    monkeypatch.setitem(REGISTRY, "clip-image", RemoteFile(closed_port_url(), "clip.onnx", digest, "test"))
    set_cache_dir(tmp_path / "cache")
    assert main(["explain", "clip", str(image), "--preset", "clip", "--reference", str(image), "--output",
                 str(tmp_path / "out"), *FAST]) == 0
    assert np.load(tmp_path / "out.npy").shape == (224, 224)


def test_preset_name_of_another_preset_as_model_is_an_error(files, capsys):
    _, image, _ = files
    fails_with_one_line(capsys, ["explain", "resnet50", str(image), "--preset", "clip", "--reference", str(image),
                                 *FAST], "another preset")


# -- the process as a user sees it ----------------------------------------------------------------------------


def test_expected_failure_prints_no_traceback_from_the_installed_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "dianna_distance.cli", "explain", str(tmp_path / "m.onnx"),
                             str(tmp_path), "--reference", str(tmp_path / "r.npy")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
