"""The Python API checks an image's layout against an ONNX model's input before anything runs."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest_models import save_image_model

from dianna_distance import DistanceExplainer
from dianna_distance.model import OnnxModel


@pytest.fixture
def nchw_model(tmp_path):
    path = tmp_path / "nchw.onnx"
    save_image_model(path, "NCHW", size=64)
    return path


@pytest.mark.parametrize("as_object", [False, True])
def test_channels_last_image_for_a_channels_first_model_is_a_value_error_naming_both_shapes(
        nchw_model, capsys, as_object):
    model = OnnxModel(nchw_model) if as_object else str(nchw_model)
    image = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    explainer = DistanceExplainer(n_masks=10, random_state=0)  # progress bar on
    with pytest.raises(ValueError) as raised:
        explainer.attribute(model, image, np.ones(6))
    message = str(raised.value)
    assert "(64, 64, 3)" in message and "(3, 64, 64)" in message
    assert "channels last, the model takes them first" in message
    assert "load_image_for_model" in message and "ImageEncoder.prepare" in message
    assert "Explaining" not in capsys.readouterr().err  # refused before the progress bar started


@pytest.mark.parametrize("shape", [(3, 32, 32), (64, 64), (1, 64, 64)])
def test_an_image_of_another_size_or_rank_is_refused_naming_both_shapes(nchw_model, shape):
    image = np.random.default_rng(0).random(shape).astype(np.float32)
    with pytest.raises(ValueError, match=re.escape(str(shape))) as raised:
        DistanceExplainer(n_masks=10, random_state=0, progress=False).attribute(nchw_model, image, np.ones(6))
    assert "[" in str(raised.value) and "64, 64]" in str(raised.value)


def test_an_image_laid_out_as_the_model_takes_it_is_explained(nchw_model):
    image = np.random.default_rng(0).random((3, 64, 64)).astype(np.float32)
    saliency = DistanceExplainer(n_masks=10, random_state=0, progress=False).attribute(
        OnnxModel(nchw_model), image, np.ones(6))
    assert saliency.shape == (64, 64)


def test_a_preprocess_function_may_change_the_layout(nchw_model):
    image = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    explainer = DistanceExplainer(n_masks=10, random_state=0, progress=False, axis_labels={2: "channels"},
                                  preprocess_function=lambda batch: batch.transpose(0, 3, 1, 2))
    assert explainer.attribute(nchw_model, image, np.ones(6)).shape == (64, 64)
