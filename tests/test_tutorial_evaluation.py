"""The evaluation tutorial runs from top to bottom on its stand-in model and shows its results."""

import re
from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "tutorials" / "evaluation.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path_factory.mktemp("tutorial"))}})
    client.execute()  # raises CellExecutionError on the first failing cell
    return notebook


def _outputs(notebook):
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def _printed(notebook):
    return "".join(output.get("text", "") for output in _outputs(notebook) if output.output_type == "stream")


def test_the_tutorial_shows_the_map_and_the_plots_of_all_four_metrics(executed):
    figures = [output for output in _outputs(executed) if "image/png" in output.get("data", {})]
    assert len(figures) >= 5  # map, deletion, sensitivity maps, randomisation, seed spread


def test_the_tutorials_explanation_passes_incremental_deletion(executed):
    printed = _printed(executed)
    lodf = float(re.search(r"area between LoDF and random: ([-+.\d]+)", printed).group(1))
    hidf = float(re.search(r"area between HiDF and random: ([-+.\d]+)", printed).group(1))
    assert lodf > 0 > hidf


def test_the_tutorial_reports_the_randomisation_table_and_the_masks_used(executed):
    printed = _printed(executed)
    assert re.search(r"^layer\s+top_down\s+bottom_up\s+independent$", printed, flags=re.M)
    assert re.search(r"used \d+ masks \(converged: True\)", printed)
