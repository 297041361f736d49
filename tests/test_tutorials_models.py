"""The real-model tutorials run top to bottom against small stand-ins with the same signatures.

Their committed outputs come from the real models (EfficientNet-Lite0, CLIP) and the paper's images; here every
model file is a small stand-in with the same input and output layout, read from the environment variables below.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import dianna
import numpy as np
import pytest
from conftest_models import save_image_model, save_text_model, save_tokenizer
from PIL import Image

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

TUTORIALS = Path(__file__).parent.parent / "tutorials"


@pytest.fixture
def stand_ins(tmp_path, monkeypatch):
    """Stand-in model files and images, and the environment variables the tutorials read them from."""
    models, images = tmp_path / "models", tmp_path / "images"
    models.mkdir()
    images.mkdir()
    save_image_model(models / "efficientnet-lite0.onnx", head="softmax", dim=10)
    save_image_model(models / "clip-image.onnx", head="embeds", dim=4)
    save_text_model(models / "clip-text.onnx", dim=4)
    save_tokenizer(models / "tokenizer.json")
    shutil.copy(Path(dianna.__file__).parent / "data" / "bee.jpg", images / "bee.jpg")
    fly = np.random.default_rng(0).integers(0, 256, size=(180, 240, 3), dtype=np.uint8)
    Image.fromarray(fly).save(images / "fly.jpg")
    monkeypatch.setenv("DIANNA_DISTANCE_MODEL_DIR", str(models))
    monkeypatch.setenv("DIANNA_DISTANCE_IMAGE_DIR", str(images))
    monkeypatch.setenv("DIANNA_DISTANCE_N_MASKS", "16")
    # the kernel's "python" is this interpreter (the kernelspec runs "python -m ipykernel_launcher")
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])


@pytest.mark.parametrize("name", ["image_vs_image_efficientnet.ipynb", "image_vs_caption_clip.ipynb"])
def test_tutorial_runs_top_to_bottom(stand_ins, name):
    notebook = nbformat.read(TUTORIALS / name, as_version=4)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(TUTORIALS)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    assert any("image/png" in output.get("data", {}) for output in outputs)
