"""Models that could lie: a graph whose output mixes the items of a batch, and a series model that reads its input
channels first, are refused (with the fix) rather than explained into maps that depend on batch_size or on a
transposed series.

The models are built here with ``onnx.helper``: a row model whose BatchNormalization runs in training mode
(batch statistics), the same with running statistics (inference mode), and a Conv1d series model ``(N, C, T)`` as
PyTorch exports it, next to the same model fed ``(N, T, C)`` through a Transpose.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from dianna_distance import TabularDistanceExplainer, TimeSeriesDistanceExplainer
from dianna_distance.cli import main
from dianna_distance.model import OnnxModel

FEATURES, STEPS, CHANNELS = 4, 12, 2


def save_batchnorm_model(path: Path, training: bool) -> Path:
    """Rows ``(N, 4)`` -> MatMul -> BatchNormalization (batch statistics when ``training``) -> ``(N, 3)``."""
    weights = np.random.default_rng(0).normal(size=(FEATURES, 3)).astype(np.float32)
    initializers = [numpy_helper.from_array(weights, "w")] + [
        numpy_helper.from_array(value.astype(np.float32), name) for name, value in
        (("scale", np.ones(3)), ("bias", np.zeros(3)), ("mean", np.zeros(3)), ("var", np.ones(3)))]
    outputs = ["embedding", "running_mean", "running_var"] if training else ["embedding"]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["hidden"]),
             helper.make_node("BatchNormalization", ["hidden", "scale", "bias", "mean", "var"], outputs,
                              training_mode=1 if training else 0)]
    graph = helper.make_graph(nodes, "rows", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", FEATURES])],
                              [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 3])], initializers)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]), str(path))
    return path


def save_conv1d_model(path: Path, channels_last_input: bool = False, steps: int | str = "T") -> Path:
    """Series -> Conv1d (2 -> 3 channels) -> GlobalAveragePool -> Flatten -> ``(N, 3)``.

    The input is ``(N, C, T)`` as PyTorch exports it, or ``(N, T, C)`` with a Transpose before the Conv.
    """
    weights = np.random.default_rng(0).normal(size=(3, CHANNELS, 3)).astype(np.float32)
    initializers = [numpy_helper.from_array(weights, "w")]
    nodes = [helper.make_node("Conv", ["xc" if channels_last_input else "x", "w"], ["conv"], pads=[1, 1]),
             helper.make_node("GlobalAveragePool", ["conv"], ["pool"]),
             helper.make_node("Flatten", ["pool"], ["embedding"])]
    shape = ["N", steps, CHANNELS] if channels_last_input else ["N", CHANNELS, steps]
    if channels_last_input:
        nodes.insert(0, helper.make_node("Transpose", ["x"], ["xc"], perm=[0, 2, 1]))
    graph = helper.make_graph(nodes, "series", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 3])], initializers)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]), str(path))
    return path


@pytest.fixture
def rows() -> np.ndarray:
    return np.random.default_rng(1).normal(size=(6, FEATURES))


def test_a_model_whose_output_mixes_the_items_of_a_batch_is_refused_before_a_map(tmp_path, rows):
    model = save_batchnorm_model(tmp_path / "training_bn.onnx", training=True)
    explainer = TabularDistanceExplainer(training_data=rows, n_masks=40, random_state=0, progress=False)

    with pytest.raises(ValueError, match=r"mixes the items of a batch.*batch_size.*BatchNormalization.*eval\(\)"):
        explainer.attribute(str(model), rows[0], np.ones(3))


def test_the_check_of_the_graph_output_runs_once_per_model_and_passes_a_model_that_keeps_items_apart(tmp_path,
                                                                                                     rows):
    model = OnnxModel(save_batchnorm_model(tmp_path / "inference_bn.onnx", training=False))
    calls = []
    forward = model._forward
    model._forward = lambda batch: calls.append(len(batch)) or forward(batch)  # count the session's runs

    model(rows.astype(np.float32))
    model(rows.astype(np.float32))

    assert calls == [2, 1, 1, 6, 6]  # the check (2 items together, then each alone), once; then the two calls


def test_a_channels_first_series_model_is_refused_with_the_transpose_to_use(tmp_path):
    model = save_conv1d_model(tmp_path / "conv1d.onnx")
    series = np.random.default_rng(2).normal(size=(STEPS, CHANNELS))
    explainer = TimeSeriesDistanceExplainer(n_masks=30, random_state=0, progress=False)

    with pytest.raises(ValueError, match=r"reads its input channels first.*Conv1d.*transpose\(0, 2, 1\)"):
        explainer.attribute(str(model), series, np.ones(3))


def test_a_transposed_series_is_never_explained_as_its_time_steps_being_channels(tmp_path):
    model = save_conv1d_model(tmp_path / "conv1d.onnx", steps="T")
    transposed = np.random.default_rng(2).normal(size=(CHANNELS, STEPS))  # (C, T): fits (N, C, T) shape-wise

    with pytest.raises(ValueError, match="reads its input channels first"):
        TimeSeriesDistanceExplainer(n_masks=30, progress=False).attribute(str(model), transposed, np.ones(3))


def test_the_transpose_the_message_names_explains_a_channels_first_model_as_its_channels_last_twin(tmp_path):
    series = np.random.default_rng(2).normal(size=(STEPS, CHANNELS))
    first = save_conv1d_model(tmp_path / "first.onnx")
    last = save_conv1d_model(tmp_path / "last.onnx", channels_last_input=True)
    reference = np.ones(3)
    parameters = {"n_masks": 30, "random_state": 0, "progress": False}

    transposed = TimeSeriesDistanceExplainer(preprocess_function=lambda batch: batch.transpose(0, 2, 1),
                                             **parameters).attribute(str(first), series, reference)
    plain = TimeSeriesDistanceExplainer(**parameters).attribute(str(last), series, reference)

    np.testing.assert_allclose(transposed, plain, atol=1e-6)


def test_explain_timeseries_channels_first_option_runs_a_pytorch_conv1d_export(tmp_path, capsys):
    model = save_conv1d_model(tmp_path / "conv1d.onnx")
    np.save(tmp_path / "series.npy", np.random.default_rng(2).normal(size=(STEPS, CHANNELS)))
    np.save(tmp_path / "other.npy", np.random.default_rng(3).normal(size=(STEPS, CHANNELS)))
    arguments = ["explain-timeseries", str(model), str(tmp_path / "series.npy"), "--reference-series",
                 str(tmp_path / "other.npy"), "--n-masks", "30", "--output", str(tmp_path / "out")]

    assert main(arguments) == 2 and "--channels-first" in capsys.readouterr().err
    assert main([*arguments, "--channels-first"]) == 0
    assert np.load(tmp_path / "out.npy").shape == (STEPS, CHANNELS)


def test_a_shape_message_never_names_the_models_axes_it_does_not_know(tmp_path):
    from conftest import save_linear_onnx

    model = save_linear_onnx(tmp_path / "fixed.onnx", (5, 3), embedding_length=3)[0]  # (N, 5, 3), no Conv

    with pytest.raises(ValueError) as refused:
        TimeSeriesDistanceExplainer(n_masks=10, progress=False).attribute(str(model), np.zeros((3, 5)), np.ones(3))

    message = str(refused.value)
    assert "one item of which is (5, 3);" in message and "(5, 3) (time steps, channels)" not in message
    assert "the series transposed, (5, 3), would fit" in message and "pass series.T" in message


def test_the_dashboard_refuses_an_uploaded_channels_first_series_model_with_the_transpose(tmp_path):
    import io

    from streamlit.testing.v1 import AppTest

    from dianna_distance.dashboard import app as dashboard_app

    model = save_conv1d_model(tmp_path / "conv1d.onnx")
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(2).normal(size=(STEPS, CHANNELS)))
    app = AppTest.from_file(dashboard_app.__file__, default_timeout=60)
    app.run()
    app.sidebar.radio(key="page").set_value("Time series").run()
    app.radio(key="timeseries_source").set_value("use your own data").run()
    app.file_uploader(key="timeseries_onnx").upload("model.onnx", model.read_bytes())
    app.file_uploader(key="timeseries_item").upload("series.npy", buffer.getvalue())
    app.file_uploader(key="timeseries_reference").upload("reference.npy", buffer.getvalue())
    app.run()

    assert not app.exception
    assert any("reads its input channels first" in error.value for error in app.error)


def test_a_sentence_model_whose_output_mixes_the_texts_of_a_batch_is_refused(tmp_path):
    from conftest_text import save_wordpiece_tokenizer
    from test_embedding_output import save_sentence_graph

    from dianna_distance.model import SentenceEncoder

    save_sentence_graph(tmp_path / "sentence.onnx")
    model = onnx.load(str(tmp_path / "sentence.onnx"))  # its output: each text minus the batch's mean
    model.graph.node[-1].output[0] = "hidden"
    model.graph.node.extend([helper.make_node("ReduceMean", ["hidden"], ["batch_mean"], axes=[0], keepdims=1),
                             helper.make_node("Sub", ["hidden", "batch_mean"], ["last_hidden_state"])])
    onnx.save(model, str(tmp_path / "mixing.onnx"))
    tokenizer = save_wordpiece_tokenizer(tmp_path / "tokenizer.json", fixed_length=None)

    with pytest.raises(ValueError, match="mixes the items of a batch"):
        SentenceEncoder(tmp_path / "mixing.onnx", tokenizer)(["the cat sat", "a dog"])
    SentenceEncoder(tmp_path / "sentence.onnx", tokenizer)(["the cat sat", "a dog"])  # the same graph, not mixing
