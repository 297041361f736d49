"""Running the tutorials top to bottom against small stand-ins of their real models.

The notebooks read the paper's images from ``../data/images`` (relative to ``tutorials/``) and load their models by
name (``load_image_encoder("efficientnet-lite0")``, ``load_conse()``, ``load_clip()``), exactly as a user runs them;
they read no environment variables. A test runs a copy of a notebook in ``<tmp>/tutorials/``, next to a link
``<tmp>/data`` to the repository's ``data`` folder (so the images are the real ones and any file a notebook writes
lands in the temporary folder), with a first cell added that points the model cache at stand-ins under the file
names those loaders look for: EfficientNet-Lite0's export (1000 classes, so that ConSE's class names match) and
CLIP's three registry files (the image tower's checksum in the registry replaced by its stand-in's). MiniLM is the
installed one.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest
from conftest_models import save_image_model, save_text_model, save_tokenizer

from dianna_distance.models import REGISTRY

REPOSITORY = Path(__file__).resolve().parents[1]
TUTORIALS = REPOSITORY / "tutorials"

#: The cell put first in a tutorial: the model cache holds stand-ins.
CACHE_CELL = """import dataclasses
from dianna_distance.models import REGISTRY, set_cache_dir
set_cache_dir({cache!r})
REGISTRY["clip-image"] = dataclasses.replace(REGISTRY["clip-image"], sha256={digest!r})"""


def stand_in_cache(cache: Path) -> str:
    """Write the stand-ins into ``cache``; return the first cell that points a notebook's model cache at them."""
    cache.mkdir(parents=True, exist_ok=True)
    save_image_model(cache / "efficientnet-lite0.onnx", head="softmax", dim=1000)  # ImageNet's 1000 classes
    save_image_model(cache / REGISTRY["clip-image"].fname, head="embeds", dim=4)
    save_text_model(cache / REGISTRY["clip-text"].fname, dim=4)
    save_tokenizer(cache / REGISTRY["clip-tokenizer"].fname)
    digest = hashlib.sha256((cache / REGISTRY["clip-image"].fname).read_bytes()).hexdigest()
    return CACHE_CELL.format(cache=str(cache), digest=digest)


def run_tutorial(name: str, tmp_path: Path, timeout: int = 600):
    """Execute tutorial ``name`` on the stand-ins, from ``<tmp_path>/tutorials``; return the executed notebook.

    Raises nbclient's ``CellExecutionError`` on the first failing cell.
    """
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    workdir = tmp_path / "tutorials"
    workdir.mkdir()
    (tmp_path / "data").symlink_to(REPOSITORY / "data", target_is_directory=True)
    notebook = nbformat.read(TUTORIALS / name, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(stand_in_cache(tmp_path / "cache")))
    with pytest.MonkeyPatch.context() as patch:
        # the kernel's "python" is this interpreter (the kernelspec runs "python -m ipykernel_launcher")
        patch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
        nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(workdir)}}).execute()
    return notebook


def outputs(notebook) -> list:
    """Every output of the notebook's code cells, in order."""
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def printed(notebook) -> str:
    """Everything the notebook printed."""
    return "".join(output.get("text", "") for output in outputs(notebook) if output.output_type == "stream")


def figure_cells(notebook) -> list:
    """The code cells that display a PNG figure."""
    return [cell for cell in notebook.cells if cell.cell_type == "code"
            and any("image/png" in output.get("data", {}) for output in cell.outputs)]
