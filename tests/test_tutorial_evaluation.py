"""The evaluation tutorial runs from top to bottom on a stand-in for EfficientNet-Lite0 and shows its results.

Its committed outputs come from the real EfficientNet-Lite0 and the paper's bee and fly; here the model file is a
small stand-in with the same input and output layout, read from the environment variables the notebook reads.
"""

import os
import re
import shutil
import sys
from pathlib import Path

import dianna
import numpy as np
import pytest
from conftest_models import save_image_model
from PIL import Image

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "tutorials" / "evaluation.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    models, images = tmp_path_factory.mktemp("models"), tmp_path_factory.mktemp("images")
    save_image_model(models / "efficientnet-lite0.onnx", head="softmax", dim=10)
    shutil.copy(Path(dianna.__file__).parent / "data" / "bee.jpg", images / "bee.jpg")
    fly = np.random.default_rng(0).integers(0, 256, size=(180, 240, 3), dtype=np.uint8)
    Image.fromarray(fly).save(images / "fly.jpg")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DIANNA_DISTANCE_MODEL_DIR", str(models))
        patch.setenv("DIANNA_DISTANCE_IMAGE_DIR", str(images))
        patch.setenv("DIANNA_DISTANCE_N_MASKS", "24")
        # the kernel's "python" is this interpreter (the kernelspec runs "python -m ipykernel_launcher")
        patch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
        client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                         resources={"metadata": {"path": str(NOTEBOOK.parent)}})
        client.execute()  # raises CellExecutionError on the first failing cell
    return notebook


def _outputs(notebook):
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def _printed(notebook):
    return "".join(output.get("text", "") for output in _outputs(notebook) if output.output_type == "stream")


def test_the_tutorial_runs_on_the_stand_in_model_file(executed):
    assert "model efficientnet-lite0.onnx" in _printed(executed)
    assert re.search(r"image \(224, 224, 3\) reference \(10,\)", _printed(executed))


def test_the_tutorial_shows_the_map_and_the_plots_of_all_four_metrics(executed):
    figures = [output for output in _outputs(executed) if "image/png" in output.get("data", {})]
    assert len(figures) >= 5  # map, deletion, sensitivity maps, randomisation, seed spread


def test_the_tutorial_reports_deletion_areas_and_both_sensitivities(executed):
    printed = _printed(executed)
    assert re.search(r"area between LoDF and random: [-+]\d\.\d{3}", printed)
    assert re.search(r"area between HiDF and random: [-+]\d\.\d{3}", printed)
    assert re.search(r"average sensitivity, Gaussian 10% of the range: \d\.\d{3}", printed)
    assert re.search(r"average sensitivity, uniform ±0.2/255: +\d\.\d{3}", printed)


def test_the_tutorial_reports_the_randomisation_table_and_the_masks_used(executed):
    printed = _printed(executed)
    assert re.search(r"^layer\s+top_down\s+bottom_up\s+independent$", printed, flags=re.M)
    assert re.search(r"used \d+ masks \(converged: (True|False)\)", printed)
