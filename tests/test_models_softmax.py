"""A graph that already gives probabilities is never softmaxed a second time, however its Softmax is hidden."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from conftest_models import image_model_output, save_image_model
from onnx import TensorProto, helper, numpy_helper

from dianna_distance.models import ImageEncoder
from dianna_distance.models.image import ends_in_softmax

IMAGENET_MEAN, IMAGENET_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def square_image() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, size=(256, 256, 3), dtype=np.uint8)


def expected_probabilities(weights: np.ndarray, image: np.ndarray) -> np.ndarray:
    crop = image[16:240, 16:240] / 255
    logits = image_model_output(weights, ((crop - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)[None])[0]
    return np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()


def append_nodes(path, tail: list[str]) -> None:
    """Rename the stand-in's Softmax output and put the ``tail`` nodes (op types) between it and ``probabilities``."""
    model = onnx.load(str(path))
    graph = model.graph
    softmax = next(node for node in graph.node if node.op_type == "Softmax")
    softmax.output[0] = "t0"
    for i, op in enumerate(tail):
        source, target = f"t{i}", ("probabilities" if i == len(tail) - 1 else f"t{i + 1}")
        if op == "Reshape":
            graph.initializer.append(numpy_helper.from_array(np.array([0, -1], np.int64), f"shape{i}"))
            node = helper.make_node("Reshape", [source, f"shape{i}"], [target])
        elif op == "Flatten":
            node = helper.make_node("Flatten", [source], [target], axis=1)
        elif op == "Cast":
            node = helper.make_node("Cast", [source], [target], to=TensorProto.FLOAT)
        elif op == "Unsqueeze":
            graph.initializer.append(numpy_helper.from_array(np.array([2], np.int64), f"axes{i}"))
            node = helper.make_node("Unsqueeze", [source, f"axes{i}"], [target])
        elif op == "Squeeze":
            graph.initializer.append(numpy_helper.from_array(np.array([2], np.int64), f"axes{i}"))
            node = helper.make_node("Squeeze", [source, f"axes{i}"], [target])
        else:
            node = helper.make_node(op, [source], [target])
        graph.node.append(node)
    graph.output[0].type.tensor_type.shape.Clear()
    onnx.save(model, str(path))


@pytest.mark.parametrize("tail", [["Identity"], ["Reshape"], ["Flatten"], ["Cast"], ["Unsqueeze", "Squeeze"],
                                  ["Cast", "Unsqueeze", "Reshape", "Identity", "Flatten"]])
def test_a_softmax_followed_by_shape_only_nodes_is_found_and_not_applied_again(tmp_path, tail):
    path = tmp_path / "soft.onnx"
    weights = save_image_model(path, "NCHW", head="softmax")
    append_nodes(path, tail)
    assert ends_in_softmax(path, "probabilities")
    encoder = ImageEncoder(path, "resnet50")
    assert not encoder.softmax_
    np.testing.assert_allclose(encoder.embed(square_image()), expected_probabilities(weights, square_image()),
                               rtol=1e-4)


def test_a_node_that_changes_values_after_the_softmax_is_not_a_softmax_output(tmp_path):
    path = tmp_path / "log.onnx"
    save_image_model(path, "NCHW", head="softmax")
    append_nodes(path, ["Log"])
    assert not ends_in_softmax(path, "probabilities")


def test_outputs_that_already_sum_to_one_are_never_softmaxed_again(tmp_path):
    """A softmax written out as Exp / ReduceSum / Div has no Softmax node: the run-time check catches it."""
    path = tmp_path / "manual.onnx"
    weights = save_image_model(path, "NCHW", head="logits")
    model = onnx.load(str(path))
    graph = model.graph
    graph.node[-1].output[0] = "scores_out"
    graph.initializer.append(numpy_helper.from_array(np.array([1], np.int64), "class_axis"))
    graph.node.extend([helper.make_node("Exp", ["scores_out"], ["exp"]),
                       helper.make_node("ReduceSum", ["exp", "class_axis"], ["total"], keepdims=1),
                       helper.make_node("Div", ["exp", "total"], ["logits"])])
    onnx.save(model, str(path))
    encoder = ImageEncoder(path, "resnet50")
    assert encoder.softmax_  # the graph does not say so ...
    with pytest.warns(UserWarning, match="already gives probabilities"):
        probabilities = encoder.embed(square_image())  # ... but its outputs do
    np.testing.assert_allclose(probabilities, expected_probabilities(weights, square_image()), rtol=1e-4)
    assert not encoder.softmax_
