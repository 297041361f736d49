"""Model running: one ONNX Runtime session per explanation, the graph's dtype, fixed batch axes."""

import numpy as np
import onnxruntime
import pytest
from conftest import CHANNELS, HEIGHT, WIDTH, save_linear_onnx
from onnx import TensorProto

from dianna_distance import DistanceExplainer
from dianna_distance.model import OnnxModel, default_providers, load_model


def test_onnx_model_computes_the_graph(linear_onnx, image):
    path, weights, bias = linear_onnx
    batch = np.stack([image, image * 0.5])
    np.testing.assert_allclose(OnnxModel(path)(batch), batch.reshape(2, -1) @ weights + bias, rtol=1e-4)


def test_explanation_creates_one_session_for_all_batches(linear_onnx, image, monkeypatch):
    created = []
    original = onnxruntime.InferenceSession

    def counting_session(*args, **kwargs):
        created.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", counting_session)
    path, weights, bias = linear_onnx
    DistanceExplainer(n_masks=40, batch_size=4, random_state=0, progress=False, axis_labels={2: "channels"}
                      ).attribute(path, image, image.reshape(-1) @ weights + bias)
    assert created == [str(path)]


def test_input_is_cast_to_the_graph_dtype(tmp_path, image):
    path, weights, bias = save_linear_onnx(tmp_path / "double.onnx", (HEIGHT, WIDTH, CHANNELS),
                                           dtype=TensorProto.DOUBLE)
    model = OnnxModel(path)
    assert model.input_dtype == np.float64
    np.testing.assert_allclose(model(image[None]), image.reshape(1, -1) @ weights + bias, rtol=1e-5)


def test_graph_with_batch_axis_fixed_to_one_is_fed_item_by_item(tmp_path, image):
    path, weights, bias = save_linear_onnx(tmp_path / "fixed.onnx", (HEIGHT, WIDTH, CHANNELS), batch_axis=1)
    model = OnnxModel(path)
    assert model.fixed_batch_size == 1
    batch = np.stack([image, image * 0.1, image * 0.2])
    np.testing.assert_allclose(model(batch), batch.reshape(3, -1) @ weights + bias, rtol=1e-4)


def test_explainer_works_with_a_fixed_batch_onnx_model(tmp_path, image):
    path, weights, bias = save_linear_onnx(tmp_path / "fixed.onnx", (HEIGHT, WIDTH, CHANNELS), batch_axis=1)
    saliency = DistanceExplainer(n_masks=30, batch_size=8, random_state=0, progress=False,
                                 axis_labels={2: "channels"}).attribute(path, image, image.reshape(-1) @ weights)
    assert saliency.shape == (HEIGHT, WIDTH)


def test_io_binding_gives_the_same_outputs(linear_onnx, image):
    path, _, _ = linear_onnx
    batch = np.stack([image, image * 0.5])
    np.testing.assert_array_equal(OnnxModel(path, io_binding=True)(batch), OnnxModel(path, io_binding=False)(batch))


def test_chosen_providers_are_used(linear_onnx):
    model = OnnxModel(linear_onnx[0], providers=["CPUExecutionProvider"])
    assert model.session.get_providers() == ["CPUExecutionProvider"]


def test_default_providers_prefer_cuda_when_available():
    available = onnxruntime.get_available_providers()
    expected_first = "CUDAExecutionProvider" if "CUDAExecutionProvider" in available else "CPUExecutionProvider"
    assert default_providers()[0] == expected_first


def test_paths_as_str_or_pathlib_and_callables_are_accepted(linear_onnx):
    path = linear_onnx[0]
    assert isinstance(load_model(path), OnnxModel)
    assert isinstance(load_model(str(path)), OnnxModel)
    assert load_model(np.tanh) is np.tanh


def test_missing_file_error_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.onnx"):
        OnnxModel(tmp_path / "nowhere.onnx")
