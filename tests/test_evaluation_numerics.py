"""Evaluation never turns bad numbers into NaN scores: NaN or infinite parameters, maps and embeddings are errors
that name what was wrong."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from dianna_distance import DistanceExplainer
from dianna_distance import evaluation as ev

SIZE = 12


def box_model(batch):
    batch = np.asarray(batch, dtype=np.float64)
    return np.stack([batch[:, 2:6, 3:8].sum(axis=(1, 2)), batch[:, 6:10, 1:5].sum(axis=(1, 2)),
                     np.ones(len(batch))], axis=1)


@pytest.fixture
def image():
    return np.random.default_rng(0).uniform(0.2, 0.8, size=(SIZE, SIZE)).astype(np.float32)


@pytest.fixture
def reference(image):
    return box_model(image[None])[0]


@pytest.fixture
def attribution():
    return np.random.default_rng(1).normal(size=(SIZE, SIZE))


def explainer():
    return DistanceExplainer(n_masks=20, random_state=0, progress=False)


@pytest.mark.parametrize(("parameters", "name"), [
    ({"baseline": float("nan")}, "baseline"),
    ({"baseline": np.inf}, "baseline"),
    ({"baseline": np.full((SIZE, SIZE), np.nan)}, "baseline"),
    ({"value_range": (0.0, float("nan"))}, "value_range"),
    ({"value_range": (-np.inf, 1.0)}, "value_range"),
    ({"baseline": "blur", "blur_sigma": float("nan")}, "blur_sigma"),
    ({"baseline": "blur", "blur_sigma": np.inf}, "blur_sigma"),
])
def test_non_finite_deletion_parameter_is_an_error_naming_it(image, reference, attribution, parameters, name):
    with pytest.raises(ValueError, match=name):
        ev.incremental_deletion(box_model, image, reference, attribution, n_steps=4, progress=False, **parameters)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_deletion_of_an_attribution_with_nan_is_an_error_naming_attribution(image, reference, attribution, bad):
    attribution[3, 3] = bad
    with pytest.raises(ValueError, match="attribution"):
        ev.incremental_deletion(box_model, image, reference, attribution, n_steps=4, progress=False)


def test_deletion_with_a_model_returning_nan_is_an_error_not_a_nan_curve(image, reference, attribution):
    def nan_model(batch):
        out = box_model(batch)
        out[-1, 0] = np.nan
        return out

    with pytest.raises(ValueError, match="NaN"):
        ev.incremental_deletion(nan_model, image, reference, attribution, n_steps=4, progress=False)


@pytest.mark.parametrize(("parameters", "name"), [
    ({"perturb_std": float("nan")}, "perturb_std"),
    ({"perturb_std": np.inf}, "perturb_std"),
    ({"value_range": (float("nan"), 1.0)}, "value_range"),
    ({"value_range": (0.0, np.inf)}, "value_range"),
])
def test_non_finite_sensitivity_parameter_is_an_error_naming_it(image, reference, parameters, name):
    with pytest.raises(ValueError, match=name):
        ev.average_sensitivity(box_model, image, reference, nr_samples=2, explainer=explainer(), progress=False,
                               **parameters)


@pytest.mark.parametrize(("returned", "error", "message"), [
    (lambda shape: np.full(shape, np.nan), ValueError, "NaN"),
    (lambda shape: np.zeros((shape[0], shape[1] + 1)), ValueError, "shape"),
    (lambda shape: np.float64(0.5), ValueError, "shape"),
    (lambda shape: np.zeros(shape[1]), ValueError, "shape"),
    (lambda shape: np.array(["a"] * shape[0]), TypeError, "numeric"),
])
def test_explain_func_map_that_is_not_a_finite_map_of_the_right_shape_is_an_error(image, reference, returned, error,
                                                                                    message):
    calls = []

    def explain(model, item, ref):
        calls.append(1)
        good = np.ones(item.shape[:2])
        return good if len(calls) == 1 else returned(good.shape)

    with pytest.raises(error, match=message) as raised:
        ev.average_sensitivity(box_model, image, reference, nr_samples=2, explain_func=explain, progress=False)
    assert "explain_func" in str(raised.value)


def test_explain_func_whose_first_map_has_nan_is_an_error(image, reference):
    with pytest.raises(ValueError, match="explain_func.*NaN"):
        ev.average_sensitivity(box_model, image, reference, nr_samples=2, progress=False,
                               explain_func=lambda model, item, ref: np.full(item.shape, np.nan))


def test_sensitivity_values_refuse_nan_maps():
    with pytest.raises(ValueError, match="perturbed_attributions"):
        ev.sensitivity_values(np.ones((3, 3)), np.full((2, 3, 3), np.nan), np.ones((3, 3)))


def small_onnx(path):
    weights = np.random.default_rng(0).normal(size=(SIZE * SIZE, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["flat"], axis=1), helper.make_node("MatMul", ["flat", "w"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", SIZE, SIZE])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [numpy_helper.from_array(weights, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_randomisation_explain_func_returning_a_wrong_shape_is_an_error(tmp_path, image):
    path = small_onnx(tmp_path / "m.onnx")
    calls = []

    def explain(model, item, ref):
        calls.append(1)
        return np.ones(item.shape) if len(calls) == 1 else np.ones((2, 2))

    with pytest.raises(ValueError, match="explain_func.*shape"):
        ev.model_parameter_randomisation(path, image, np.ones(3), explain_func=explain, progress=False)


def test_randomisation_of_a_corrupt_onnx_file_names_it(tmp_path, image):
    (tmp_path / "bad.onnx").write_bytes(b"\x0a\xff\xff\xff garbage")
    with pytest.raises(ValueError, match="bad.onnx.*not a valid ONNX model"):
        ev.model_parameter_randomisation(tmp_path / "bad.onnx", image, np.ones(3), progress=False)
