"""The image-vs-image tutorial (DIANNA's bundled MNIST model and digits) runs top to bottom and shows its maps."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

TUTORIAL = Path(__file__).parent.parent / "tutorials" / "image_vs_image_mnist.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    notebook = nbformat.read(TUTORIAL, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path_factory.mktemp("mnist"))}}).execute()
    return notebook


def test_image_vs_image_tutorial_executes_without_errors(executed):
    outputs = [output.get("text", "") for cell in executed.cells if cell.cell_type == "code"
               for output in cell.get("outputs", [])]
    assert any("(28, 28)" in text for text in outputs)


def test_image_vs_image_tutorial_displays_every_map_it_plots(executed):
    plotting = [cell for cell in executed.cells if cell.cell_type == "code" and "plot_distance_map(" in cell.source]
    assert len(plotting) == 3  # the map, the map with its significance, the re-selections
    assert all(any("image/png" in output.get("data", {}) for output in cell.outputs) for cell in plotting)
    assert "significant=explainer.significant_" in plotting[1].source
