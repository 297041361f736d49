"""Train the small wine classifier of the tables example and export it to ONNX (``dianna_distance/data``).

The data: scikit-learn's copy of the UCI wine data (178 wines from three cultivars, 13 chemical measurements),
which its wheel ships, so nothing is downloaded. The model: 13 -> 16 -> 8 -> 3, tanh hidden layers, trained with
scikit-learn's ``MLPClassifier`` (fixed seed), the standardisation of the inputs written into the graph, so the
model takes raw measurements. The ONNX graph has two named outputs: ``embedding`` (the 8 units of the second
hidden layer, the first output, so that :func:`dianna_distance.model.load_model` returns it) and
``probabilities`` (the softmax over the three cultivars).

Run: ``python benchmarks/train_tabular_model.py`` (writes ``dianna_distance/data/wine_mlp.onnx`` and prints the
test accuracy).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

OUTPUT = Path(__file__).resolve().parent.parent / "dianna_distance" / "data" / "wine_mlp.onnx"


def train(seed: int = 0) -> tuple[MLPClassifier, np.ndarray, np.ndarray, float]:
    """Train on 75% of the wines; returns the classifier, the input mean and scale, and the test accuracy."""
    data = load_wine()
    train_x, test_x, train_y, test_y = train_test_split(data.data, data.target, test_size=0.25, random_state=seed,
                                                        stratify=data.target)
    mean, scale = train_x.mean(axis=0), train_x.std(axis=0)
    classifier = MLPClassifier(hidden_layer_sizes=(16, 8), activation="tanh", max_iter=3000, random_state=seed)
    classifier.fit((train_x - mean) / scale, train_y)
    accuracy = classifier.score((test_x - mean) / scale, test_y)
    return classifier, mean, scale, float(accuracy)


def to_onnx(classifier: MLPClassifier, mean: np.ndarray, scale: np.ndarray, feature_names: list[str]
            ) -> onnx.ModelProto:
    """The classifier as an ONNX graph: raw features -> standardised -> tanh -> tanh (embedding) -> softmax."""
    weights = [np.asarray(w, dtype=np.float32) for w in classifier.coefs_]
    biases = [np.asarray(b, dtype=np.float32) for b in classifier.intercepts_]
    initializers = [numpy_helper.from_array(mean.astype(np.float32), "mean"),
                    numpy_helper.from_array(scale.astype(np.float32), "scale")]
    for index, (weight, bias) in enumerate(zip(weights, biases)):
        initializers += [numpy_helper.from_array(weight, f"W{index}"), numpy_helper.from_array(bias, f"b{index}")]
    nodes = [
        helper.make_node("Sub", ["features", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "scale"], ["standardised"]),
        helper.make_node("MatMul", ["standardised", "W0"], ["z0"]),
        helper.make_node("Add", ["z0", "b0"], ["a0"]),
        helper.make_node("Tanh", ["a0"], ["hidden1"]),
        helper.make_node("MatMul", ["hidden1", "W1"], ["z1"]),
        helper.make_node("Add", ["z1", "b1"], ["a1"]),
        helper.make_node("Tanh", ["a1"], ["embedding"]),
        helper.make_node("MatMul", ["embedding", "W2"], ["z2"]),
        helper.make_node("Add", ["z2", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "wine_mlp",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", len(mean)])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", weights[1].shape[1]]),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", weights[2].shape[1]])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="dianna-distance")
    model.ir_version = 8
    helper.set_model_props(model, {"feature_names": ",".join(feature_names),
                                   "data": "scikit-learn load_wine (UCI wine), 75% train split, seed 0"})
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    classifier, mean, scale, accuracy = train(args.seed)
    model = to_onnx(classifier, mean, scale, list(load_wine().feature_names))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, args.output)
    print(f"test accuracy {accuracy:.3f}; wrote {args.output} ({args.output.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
