"""The image-vs-image tutorial runs top to bottom."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

TUTORIAL = Path(__file__).parent.parent / "tutorials" / "image_vs_image_mnist.ipynb"


def test_image_vs_image_tutorial_executes_without_errors(tmp_path):
    notebook = nbformat.read(TUTORIAL, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", [])]
    assert any("(28, 28)" in text for text in outputs)
