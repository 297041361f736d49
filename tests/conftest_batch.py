"""What the batch tests share: a folder with a small ONNX image model, images and references, and direct maps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from conftest import save_linear_onnx
from PIL import Image

from dianna_distance import DistanceExplainer
from dianna_distance.batch import MANIFEST, Job
from dianna_distance.model import OnnxModel
from dianna_distance.models.image import load_image_for_model

SIZE = 16
PARAMETERS = {"n_masks": 40, "feature_res": 4, "random_state": 0}
REPOSITORY = Path(__file__).resolve().parents[1]


def make_workspace(folder: Path) -> Path:
    """Fill ``folder`` with an NHWC ONNX model ``model.onnx`` (16 x 16 x 3 -> 6), images ``img0.png``..``img3.png``,
    a reference embedding ``ref.npy`` (6,) and a reference image ``ref.png``; return it."""
    save_linear_onnx(folder / "model.onnx", (SIZE, SIZE, 3))
    rng = np.random.default_rng(1)
    for name in ("img0", "img1", "img2", "img3", "ref"):
        pixels = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{name}.png")
    np.save(folder / "ref.npy", rng.normal(size=6))
    return folder


def jobs_for(folder: Path, names: list[str], reference: str = "ref.npy") -> list[Job]:
    """One job per image name, each against ``reference``."""
    return [Job(name, folder / f"{name}.png", reference=folder / reference) for name in names]


def direct_map(folder: Path, name: str, reference: np.ndarray, **parameters: object) -> np.ndarray:
    """The map of image ``name`` made by DistanceExplainer directly (PARAMETERS, updated by ``parameters``)."""
    model = OnnxModel(folder / "model.onnx")
    image = load_image_for_model(folder / f"{name}.png", model)
    explainer = DistanceExplainer(axis_labels={2: "channels"}, progress=False, **{**PARAMETERS, **parameters})
    return explainer.attribute(model, image, reference)


def item_lines(output: Path) -> list[dict]:
    """The job lines of a run folder's manifest."""
    return [json.loads(line) for line in (output / MANIFEST).read_text().splitlines()[1:]]
