"""explain_many: each job's map is that of a direct explanation; the model is made once per process."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import save_linear_onnx
from conftest_batch import PARAMETERS, SIZE, direct_map, jobs_for, make_workspace
from conftest_models import save_image_model, save_text_model, save_tokenizer

from dianna_distance import DistanceExplainer
from dianna_distance.batch import (
    STANDARD_ERROR_DIR,
    Job,
    ModelSpec,
    cached_model,
    explain_many,
    load_map,
    read_manifest,
)
from dianna_distance.model import OnnxModel
from dianna_distance.models.image import load_image_for_model


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder with a small ONNX model, images and references (see :func:`conftest_batch.make_workspace`)."""
    return make_workspace(tmp_path)


# -- results ------------------------------------------------------------------------------------------------------

def test_each_item_gets_the_map_of_a_direct_explanation(workspace):
    run = explain_many(jobs_for(workspace, ["img0", "img1"]), workspace / "model.onnx", workspace / "out",
                       progress=False, **PARAMETERS)

    assert run.explained == ["img0", "img1"] and run.failed == {} and run.skipped == []
    reference = np.load(workspace / "ref.npy")
    for name in ("img0", "img1"):
        np.testing.assert_array_equal(load_map(workspace / "out", name), direct_map(workspace, name, reference))


def test_each_map_is_stored_with_its_standard_error(workspace):
    explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)

    saliency, standard_error = load_map(workspace / "out", "img0", standard_error=True)
    model = OnnxModel(workspace / "model.onnx")
    explainer = DistanceExplainer(axis_labels={2: "channels"}, progress=False, **PARAMETERS)
    explainer.attribute(model, load_image_for_model(workspace / "img0.png", model), np.load(workspace / "ref.npy"))
    assert standard_error.shape == saliency.shape
    np.testing.assert_allclose(standard_error, explainer.standard_error_)
    assert np.all(standard_error > 0)


def test_a_map_without_its_standard_error_file_is_named_when_the_error_is_asked_for(workspace):
    explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)
    (workspace / "out" / STANDARD_ERROR_DIR / read_manifest(workspace / "out")[1]["img0"]["file"]).unlink()

    assert load_map(workspace / "out", "img0").shape == (SIZE, SIZE)
    with pytest.raises(ValueError, match="standard error file"):
        load_map(workspace / "out", "img0", standard_error=True)


def test_load_map_refuses_a_standard_error_flag_that_is_not_a_bool(workspace):
    explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)
    with pytest.raises(TypeError, match="standard_error"):
        load_map(workspace / "out", "img0", standard_error="yes")


def test_manifest_records_file_distances_and_seconds_per_item(workspace):
    explain_many(jobs_for(workspace, ["img0"]), workspace / "model.onnx", workspace / "out", progress=False,
                 **PARAMETERS)

    header, records = read_manifest(workspace / "out")
    record = records["img0"]
    assert record["file"] == "img0.npy" and (workspace / "out" / "img0.npy").is_file()
    assert record["error"] is None and record["seconds"] > 0
    assert record["distances"]["min"] <= record["distances"]["median"] <= record["distances"]["max"]
    assert record["distances"]["n_masks"] == 40
    assert header["parameters"].items() >= PARAMETERS.items()
    assert len(header["model_sha256"]["model"]) == 64 and len(record["key"]) == 64


def test_a_reference_image_is_embedded_by_the_model(workspace):
    explain_many(jobs_for(workspace, ["img0"], reference="ref.png"), workspace / "model.onnx", workspace / "out",
                 progress=False, **PARAMETERS)

    model = OnnxModel(workspace / "model.onnx")
    reference = model(load_image_for_model(workspace / "ref.png", model)[None])[0]
    np.testing.assert_allclose(load_map(workspace / "out", "img0"), direct_map(workspace, "img0", reference))


def test_several_references_give_one_map_each(workspace):
    job = Job("img0", workspace / "img0.png", reference=(workspace / "ref.npy", workspace / "ref.png"))
    explain_many([job], workspace / "model.onnx", workspace / "out", progress=False, **PARAMETERS)

    saliency = load_map(workspace / "out", "img0")
    assert saliency.shape == (2, SIZE, SIZE)
    np.testing.assert_array_equal(saliency[0], direct_map(workspace, "img0", np.load(workspace / "ref.npy")))
    assert len(read_manifest(workspace / "out")[1]["img0"]["distances"]["min"]) == 2


def test_array_items_and_references_are_accepted(workspace):
    image = np.random.default_rng(3).random((SIZE, SIZE, 3)).astype(np.float32)
    reference = np.random.default_rng(4).normal(size=6)
    explain_many([Job("array", image, reference=reference)], workspace / "model.onnx", workspace / "out",
                  progress=False, **PARAMETERS)

    expected = DistanceExplainer(axis_labels={2: "channels"}, progress=False, **PARAMETERS).attribute(
        str(workspace / "model.onnx"), image, reference)
    np.testing.assert_array_equal(load_map(workspace / "out", "array"), expected)



def test_a_clip_preset_explains_items_against_captions(workspace):
    from dianna_distance.models import embed_text, load_clip

    save_image_model(workspace / "image.onnx", head="embeds", dim=4)
    save_text_model(workspace / "text.onnx", dim=4)
    save_tokenizer(workspace / "tokenizer.json")
    job = Job("bee", workspace / "img0.png", caption=("a bee", "a fly"))
    explain_many([job], workspace / "image.onnx", workspace / "out", preset="clip", text_model=workspace / "text.onnx",
                 tokenizer=workspace / "tokenizer.json", progress=False, **PARAMETERS)

    image_encoder, text_encoder = load_clip(workspace / "image.onnx", workspace / "text.onnx",
                                            workspace / "tokenizer.json")
    image, kwargs = image_encoder.prepare(workspace / "img0.png")
    expected = DistanceExplainer(**kwargs, progress=False, **PARAMETERS).attribute(
        image_encoder, image, embed_text(text_encoder, ["a bee", "a fly"]))
    np.testing.assert_array_equal(load_map(workspace / "out", "bee"), expected)
    assert expected.shape == (2, 224, 224)


# -- model cache --------------------------------------------------------------------------------------------------

def test_the_model_is_made_once_per_process_and_again_when_its_file_changes(workspace):
    spec = ModelSpec(str(workspace / "model.onnx"))
    first = cached_model(spec)
    assert cached_model(spec) is first

    save_linear_onnx(workspace / "model.onnx", (SIZE, SIZE, 3), seed=9)
    os.utime(workspace / "model.onnx", ns=(0, 10**18))
    assert cached_model(spec) is not first

