"""The dianna-distance command line."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import save_linear_onnx
from PIL import Image

from dianna_distance.cli import main


def write_image(path, size=(20, 16), seed=0):
    pixels = (np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def test_explain_writes_the_map_and_an_overlay(tmp_path):
    model, weights, bias = save_linear_onnx(tmp_path / "model.onnx", (3, 16, 20), embedding_length=5)
    np.save(tmp_path / "reference.npy", np.arange(1.0, 6.0))
    image = write_image(tmp_path / "image.png")
    code = main(["explain", str(model), str(image), "--reference", str(tmp_path / "reference.npy"),
                 "--output", str(tmp_path / "out"), "--n-masks", "50", "--random-state", "1", "--no-progress"])
    assert code == 0
    saliency = np.load(tmp_path / "out.npy")
    assert saliency.shape == (16, 20)
    assert (tmp_path / "out.png").stat().st_size > 0


def test_explain_embeds_an_image_reference_with_the_model(tmp_path):
    model, _, _ = save_linear_onnx(tmp_path / "model.onnx", (3, 16, 20), embedding_length=5)
    image, reference = write_image(tmp_path / "a.png"), write_image(tmp_path / "b.png", seed=1)
    code = main(["explain", str(model), str(image), "--reference", str(reference), "--output",
                 str(tmp_path / "out"), "--n-masks", "40", "--no-progress"])
    assert code == 0
    assert np.load(tmp_path / "out.npy").shape == (16, 20)


def test_explain_resizes_the_image_to_the_model_input(tmp_path):
    model, _, _ = save_linear_onnx(tmp_path / "model.onnx", (16, 20, 3), embedding_length=5)
    image = write_image(tmp_path / "big.png", size=(64, 48))
    np.save(tmp_path / "reference.npy", np.ones(5))
    main(["explain", str(model), str(image), "--reference", str(tmp_path / "reference.npy"), "--output",
          str(tmp_path / "out"), "--n-masks", "20", "--no-progress"])
    assert np.load(tmp_path / "out.npy").shape == (16, 20)


def test_explain_reports_a_missing_image_and_fails(tmp_path, capsys):
    model, _, _ = save_linear_onnx(tmp_path / "model.onnx", (3, 16, 20), embedding_length=5)
    code = main(["explain", str(model), str(tmp_path / "absent.png"), "--reference", str(tmp_path / "r.npy")])
    assert code == 2
    assert "absent.png" in capsys.readouterr().err


def test_explain_reports_a_bad_parameter_and_fails(tmp_path, capsys):
    model, _, _ = save_linear_onnx(tmp_path / "model.onnx", (3, 16, 20), embedding_length=5)
    np.save(tmp_path / "reference.npy", np.ones(5))
    code = main(["explain", str(model), str(write_image(tmp_path / "a.png")), "--reference",
                 str(tmp_path / "reference.npy"), "--p-keep", "2"])
    assert code == 2
    assert "--p-keep" in capsys.readouterr().err


def test_demo_runs_on_dianna_bundled_data_and_shows_a_blue_and_a_red_map(tmp_path):
    result = subprocess.run([sys.executable, "-m", "dianna_distance.cli", "demo", "--output",
                             str(tmp_path / "demo"), "--n-masks", "100", "--no-progress"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "demo.png").stat().st_size > 0
    saliency = np.load(tmp_path / "demo.npy")
    assert saliency.shape == (2, 28, 28)  # against digit 1 and against another 0
    assert saliency[0].sum() < 0 < saliency[1].sum()  # blue: pushes it away from the 1; red: closer to the 0


def test_version_prints_the_packages_one_version(capsys):
    import importlib.metadata

    import dianna_distance

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    printed = capsys.readouterr().out.strip()
    assert printed == f"dianna-distance {dianna_distance.__version__}"
    assert importlib.metadata.version("dianna-distance") == dianna_distance.__version__
