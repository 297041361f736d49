"""The command line with real-model presets: ``explain --preset ... --caption ...`` and ``export``."""

from __future__ import annotations

from pathlib import Path

import dianna
import numpy as np
import pytest
from conftest_models import save_image_model, save_text_model, save_tokenizer

from dianna_distance.cli import main

BEE = Path(dianna.__file__).parent / "data" / "bee.jpg"
FAST = ["--n-masks", "12", "--random-state", "0", "--no-progress"]


@pytest.fixture
def clip_files(tmp_path):
    save_image_model(tmp_path / "image.onnx", head="embeds", dim=4)
    save_text_model(tmp_path / "text.onnx", dim=4)
    return tmp_path / "image.onnx", tmp_path / "text.onnx", save_tokenizer(tmp_path / "tokenizer.json")


def test_captions_give_one_map_each(clip_files, tmp_path):
    image_model, text_model, tokenizer = clip_files
    code = main(["explain", str(image_model), str(BEE), "--preset", "clip", "--caption", "a bee", "--caption",
                 "a fly", "--caption", "a flower", "--text-model", str(text_model), "--tokenizer", str(tokenizer),
                 "--output", str(tmp_path / "out"), *FAST])
    assert code == 0
    assert np.load(tmp_path / "out.npy").shape == (3, 224, 224)
    assert (tmp_path / "out.png").stat().st_size > 0


def test_image_reference_with_resnet50_preset_gives_one_map(tmp_path):
    save_image_model(tmp_path / "resnet.onnx", head="logits")
    code = main(["explain", str(tmp_path / "resnet.onnx"), str(BEE), "--preset", "resnet50", "--reference",
                 str(BEE), "--mask-on", "normalized", "--output", str(tmp_path / "out"), *FAST])
    assert code == 0
    assert np.load(tmp_path / "out.npy").shape == (224, 224)


def test_npy_reference_of_wrong_dimension_is_reported(tmp_path, capsys):
    save_image_model(tmp_path / "vgg.onnx", head="logits", dim=6)
    np.save(tmp_path / "ref.npy", np.ones(5))
    code = main(["explain", str(tmp_path / "vgg.onnx"), str(BEE), "--preset", "vgg16", "--reference",
                 str(tmp_path / "ref.npy"), "--output", str(tmp_path / "out"), *FAST])
    assert code == 2
    assert "dimension 5" in capsys.readouterr().err


def test_caption_without_clip_preset_is_reported(tmp_path, capsys):
    save_image_model(tmp_path / "resnet.onnx", head="logits")
    code = main(["explain", str(tmp_path / "resnet.onnx"), str(BEE), "--preset", "resnet50", "--caption", "a bee",
                 *FAST])
    assert code == 2
    assert "--caption needs --preset clip" in capsys.readouterr().err


def test_export_of_missing_framework_is_reported(tmp_path, capsys):
    pytest.importorskip("torch")
    try:
        import torchvision  # noqa: F401
        pytest.skip("torchvision is installed")
    except ImportError:
        pass
    assert main(["export", "torchvision", "resnet50", "--output-dir", str(tmp_path)]) == 2
    assert "pip install torchvision" in capsys.readouterr().err


def test_export_without_a_model_name_is_reported(tmp_path, capsys):
    assert main(["export", "torchvision", "--output-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == ("dianna-distance: error: name is required for source 'torchvision' "
                                               "(a model name within it)")
