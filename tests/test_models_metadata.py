"""Files that state their preprocessing (ONNX metadata_props) get it everywhere; plain files keep today's behaviour."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import dianna
import numpy as np
import onnx
import pytest
from conftest_models import save_image_model

from dianna_distance import DistanceExplainer
from dianna_distance.cli import main
from dianna_distance.model import PREPROCESSING_KEY, OnnxModel
from dianna_distance.models import PRESETS, ImageEncoder, load_image_encoder
from dianna_distance.models.export import state_preprocessing
from dianna_distance.models.image import load_image_for_model, load_reference_for_model

DATA = Path(dianna.__file__).parent / "data"
BEE, LEAF = DATA / "bee.jpg", DATA / "leafsnap_example_acer_rubrum.jpg"  # neither is square
FAST = ["--n-masks", "30", "--random-state", "0", "--no-progress"]


@pytest.fixture
def stated(tmp_path) -> Path:
    """A 224-pixel NCHW stand-in ending in logits, stating the resnet50 preset (bilinear 256, crop 224, softmax)."""
    path = tmp_path / "stated.onnx"
    save_image_model(path, "NCHW", head="logits")
    return state_preprocessing(path, "resnet50")


def test_an_exported_file_states_preset_normalisation_size_and_resizing(stated):
    entry = json.loads({p.key: p.value for p in onnx.load(str(stated)).metadata_props}[PREPROCESSING_KEY])
    assert entry["preset"] == "resnet50" and entry["normalization"] == "torchvision"
    assert (entry["resize"], entry["crop"], entry["resample"]) == (256, 224, "bilinear")
    assert entry["mean"] == [0.485, 0.456, 0.406] and entry["std"] == [0.229, 0.224, 0.225]
    assert (entry["output"], entry["mask_on"], entry["layout"]) == ("probabilities", "pixels", "NCHW")


def test_cli_explain_of_a_file_that_states_its_preset_gives_the_presets_map_without_preset(stated, tmp_path):
    reference = tmp_path / "reference.npy"
    np.save(reference, np.linspace(0.1, 0.6, 6))  # a spread of classes: the masks' distances to it differ clearly
    assert main(["explain", str(stated), str(BEE), "--reference", str(reference), *FAST,
                 "--output", str(tmp_path / "plain")]) == 0
    assert main(["explain", str(stated), str(BEE), "--reference", str(reference), "--preset", "resnet50", *FAST,
                 "--output", str(tmp_path / "preset")]) == 0
    plain, preset = np.load(tmp_path / "plain.npy"), np.load(tmp_path / "preset.npy")
    assert plain.shape == preset.shape == (224, 224)
    np.testing.assert_allclose(plain, preset, atol=1e-6)


def test_python_paths_of_a_stating_file_give_the_presets_embeddings_and_map(stated):
    encoder = ImageEncoder(stated, "resnet50")
    model = OnnxModel(stated)
    image = load_image_for_model(BEE, model)
    assert image.shape == (3, 224, 224)
    np.testing.assert_allclose(load_reference_for_model(LEAF, model), encoder.embed(LEAF), rtol=1e-5, atol=1e-7)
    reference = np.linspace(0.1, 0.6, 6)
    prepared, kwargs = encoder.prepare(BEE)
    expected = DistanceExplainer(n_masks=30, random_state=0, progress=False, **kwargs).attribute(
        encoder, prepared, reference)
    saliency = DistanceExplainer(n_masks=30, random_state=0, progress=False).attribute(model, image, reference)
    np.testing.assert_allclose(saliency, expected, atol=1e-6)
    assert np.ptp(expected) > 0.1


def test_load_image_encoder_without_a_preset_takes_the_files(stated):
    encoder = load_image_encoder(model=stated)
    assert encoder.preset_ == PRESETS["resnet50"] and encoder.mask_on_ == "pixels"
    np.testing.assert_allclose(encoder.embed(BEE), ImageEncoder(stated, "resnet50").embed(BEE), rtol=1e-6)


def test_a_preset_that_differs_from_the_files_is_used_with_a_warning(stated):
    with pytest.warns(UserWarning, match="states the preprocessing of preset 'resnet50'"):
        encoder = ImageEncoder(stated, "clip")
    assert encoder.preset_ == PRESETS["clip"]


def test_an_encoder_of_a_plain_file_without_a_preset_is_refused_naming_preset(tmp_path):
    save_image_model(tmp_path / "plain.onnx", "NCHW")
    with pytest.raises(ValueError, match="preset: model .* states no preprocessing"):
        ImageEncoder(tmp_path / "plain.onnx")


def test_pixel_max_does_not_apply_to_a_stating_file(stated, tmp_path, capsys):
    with pytest.raises(ValueError, match="pixel_max does not apply"):
        load_image_for_model(BEE, OnnxModel(stated), pixel_max=255)
    assert main(["explain", str(stated), str(BEE), "--reference", str(LEAF), "--pixel-max", "255", *FAST,
                 "--output", str(tmp_path / "out")]) == 2
    assert "--pixel-max does not apply" in capsys.readouterr().err
    assert not (tmp_path / "out.npy").exists()


def test_a_damaged_metadata_entry_is_a_value_error_naming_the_file(tmp_path):
    path = tmp_path / "damaged.onnx"
    save_image_model(path, "NCHW")
    model = onnx.load(str(path))
    model.metadata_props.add(key=PREPROCESSING_KEY, value='{"preset": "resnet50"')
    onnx.save(model, str(path))
    with pytest.raises(ValueError, match="damaged.onnx.*damaged 'dianna_distance.preprocessing' metadata"):
        OnnxModel(path)


def test_a_plain_file_whose_input_size_changes_the_aspect_ratio_warns_once(tmp_path):
    path = tmp_path / "plain.onnx"
    save_image_model(path, "NCHW")
    model = OnnxModel(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = load_image_for_model(BEE, model, warn_resize=False)
        load_image_for_model(LEAF, model, warn_resize=False)
    aspect = [w for w in caught if "changes its aspect ratio" in str(w.message)]
    assert len(aspect) == 1 and "states no preprocessing" in str(aspect[0].message)
    assert first.shape == (3, 224, 224)  # today's behaviour: resized to the input size, squashed


def test_a_plain_file_whose_input_keeps_the_aspect_ratio_gets_no_aspect_warning(tmp_path):
    path = tmp_path / "plain.onnx"
    save_image_model(path, "NCHW", size=64)
    square = tmp_path / "square.png"
    from PIL import Image

    Image.fromarray(np.full((128, 128, 3), 200, np.uint8)).save(square)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_image_for_model(square, OnnxModel(path), warn_resize=False)
    assert not [w for w in caught if "aspect ratio" in str(w.message)]


def test_a_batch_run_of_a_stating_file_gives_the_presets_maps_without_a_preset(stated, tmp_path):
    from dianna_distance.batch import Job, explain_many, load_map

    reference = tmp_path / "reference.npy"
    np.save(reference, np.linspace(0.1, 0.6, 6))
    jobs = [Job("bee", str(BEE), reference=str(reference))]
    parameters = {"n_masks": 30, "random_state": 0, "progress": False}
    explain_many(jobs, stated, tmp_path / "plain", **parameters)
    explain_many(jobs, stated, tmp_path / "preset", preset="resnet50", **parameters)
    plain, preset = load_map(tmp_path / "plain", "bee"), load_map(tmp_path / "preset", "bee")
    assert plain.shape == preset.shape == (224, 224)
    np.testing.assert_allclose(plain, preset, atol=1e-6)


def test_a_batch_run_refuses_pixel_max_for_a_stating_file_before_writing(stated, tmp_path):
    from dianna_distance.batch import Job, explain_many

    reference = tmp_path / "reference.npy"
    np.save(reference, np.linspace(0.1, 0.6, 6))
    with pytest.raises(ValueError, match="pixel_max does not apply"):
        explain_many([Job("bee", str(BEE), reference=str(reference))], stated, tmp_path / "out", pixel_max=255.0,
                     n_masks=30, progress=False)
    assert not (tmp_path / "out").exists()


def test_a_batch_run_with_a_local_file_named_like_the_preset_uses_that_file(stated, tmp_path, monkeypatch):
    from dianna_distance.batch import Job, explain_many, read_manifest

    monkeypatch.chdir(tmp_path)
    Path("resnet50").write_bytes(Path(stated).read_bytes())
    reference = tmp_path / "reference.npy"
    np.save(reference, np.linspace(0.1, 0.6, 6))
    explain_many([Job("bee", str(BEE), reference=str(reference))], "resnet50", tmp_path / "out", preset="resnet50",
                 n_masks=30, random_state=0, progress=False)
    header, _ = read_manifest(tmp_path / "out")
    assert str(tmp_path / "resnet50") in json.dumps(header)


@pytest.mark.parametrize("layout, preset, mask_on", [("NHWC", "keras-resnet50", "pixels"),
                                                     ("NCHW", "resnet50", "normalized"),
                                                     ("NCHW", "clip", "pixels")])
def test_every_stated_normalisation_layout_and_mask_on_gives_the_presets_map(tmp_path, layout, preset, mask_on):
    path = tmp_path / "stated.onnx"
    save_image_model(path, layout, head="softmax" if preset == "keras-resnet50" else "logits")
    state_preprocessing(path, preset, mask_on=mask_on, layout=layout)
    reference = tmp_path / "reference.npy"
    np.save(reference, np.linspace(0.1, 0.6, 6))
    common = ["explain", str(path), str(BEE), "--reference", str(reference), *FAST]
    assert main([*common, "--output", str(tmp_path / "plain")]) == 0
    assert main([*common, "--preset", preset, "--mask-on", mask_on, "--output", str(tmp_path / "preset")]) == 0
    plain, expected = np.load(tmp_path / "plain.npy"), np.load(tmp_path / "preset.npy")
    np.testing.assert_allclose(plain, expected, atol=1e-6)
    assert np.ptp(expected) > 0
