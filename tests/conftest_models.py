"""Small ONNX stand-ins with the signatures of the real model files, and a small ``tokenizer.json``.

Image stand-ins: 32 x 32 average pooling (ViT-B/32's patch grid), a flatten and one linear layer, so their output
depends on where the pixels are; NCHW ``(N, 3, S, S)`` or NHWC ``(N, S, S, 3)`` input, ``logits``,
``probabilities`` (ending in a Softmax node) or ``image_embeds`` output. Text stand-ins: ``input_ids`` (and
optionally ``attention_mask``) to ``text_embeds``, the masked sum of an embedding table's rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PATCH = 32
VOCAB = ["<|startoftext|>", "<|endoftext|>", "[UNK]", "a", "bee", "fly", "flower", "photo", "of"]


def save_image_model(
    path: Path, layout: str = "NCHW", size: int = 224, dim: int = 6, head: str = "logits", seed: int = 0
) -> np.ndarray:
    """Write an image stand-in; return its weights ``(3 * (size // 32) ** 2, dim)``.

    ``head``: ``"logits"`` (output ``logits``), ``"softmax"`` (output ``probabilities``, from a Softmax node) or
    ``"embeds"`` (outputs ``last_hidden_state`` first, then ``image_embeds``, as Hugging Face CLIP exports).
    """
    grid = size // PATCH
    weights = np.random.default_rng(seed).normal(size=(3 * grid * grid, dim)).astype(np.float32)
    shape = ["N", 3, size, size] if layout == "NCHW" else ["N", size, size, 3]
    nodes = [] if layout == "NCHW" else [helper.make_node("Transpose", ["pixels"], ["nchw"], perm=[0, 3, 1, 2])]
    first = "pixels" if layout == "NCHW" else "nchw"
    nodes += [
        helper.make_node("AveragePool", [first], ["pooled"], kernel_shape=[PATCH, PATCH], strides=[PATCH, PATCH]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "weights"], ["scores"]),
    ]
    outputs = []
    if head == "logits":
        nodes.append(helper.make_node("Identity", ["scores"], ["logits"]))
        outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", dim]))
    elif head == "softmax":
        nodes.append(helper.make_node("Softmax", ["scores"], ["probabilities"], axis=-1))
        outputs.append(helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", dim]))
    else:
        nodes += [helper.make_node("Identity", ["pooled"], ["last_hidden_state"]),
                  helper.make_node("Identity", ["scores"], ["image_embeds"])]
        outputs += [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["N", 3, grid, grid]),
                    helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["N", dim])]
    graph = helper.make_graph(nodes, "image_stand_in",
                              [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, shape)], outputs,
                              [numpy_helper.from_array(weights, "weights")])
    _save(graph, path)
    return weights


def image_model_output(weights: np.ndarray, batch_nchw: np.ndarray) -> np.ndarray:
    """What an image stand-in computes, in NumPy: ``(N, 3, S, S) -> (N, dim)`` before any softmax."""
    n, channels, size, _ = batch_nchw.shape
    grid = size // PATCH
    pooled = batch_nchw.reshape(n, channels, grid, PATCH, grid, PATCH).mean(axis=(3, 5))
    return pooled.reshape(n, -1) @ weights


def save_text_model(
    path: Path, dim: int = 4, attention_mask: bool = True, length: int | str = "L", seed: int = 1
) -> np.ndarray:
    """Write a text stand-in (outputs ``last_hidden_state`` then ``text_embeds``); return its table ``(V, dim)``."""
    table = np.random.default_rng(seed).normal(size=(len(VOCAB), dim)).astype(np.float32)
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["N", length])]
    nodes = [helper.make_node("Gather", ["table", "input_ids"], ["hidden"], axis=0)]
    summed = "hidden"
    if attention_mask:
        inputs.append(helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["N", length]))
        nodes += [helper.make_node("Cast", ["attention_mask"], ["mask_float"], to=TensorProto.FLOAT),
                  helper.make_node("Unsqueeze", ["mask_float", "last_axis"], ["mask_3d"]),
                  helper.make_node("Mul", ["hidden", "mask_3d"], ["masked"])]
        summed = "masked"
    nodes += [helper.make_node("ReduceSum", [summed, "token_axis"], ["text_embeds"], keepdims=0),
              helper.make_node("Identity", ["hidden"], ["last_hidden_state"])]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["N", length, dim]),
               helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["N", dim])]
    initializers = [numpy_helper.from_array(table, "table"), numpy_helper.from_array(np.array([2]), "last_axis"),
                    numpy_helper.from_array(np.array([1]), "token_axis")]
    _save(helper.make_graph(nodes, "text_stand_in", inputs, outputs, initializers), path)
    return table


def save_tokenizer(path: Path) -> Path:
    """Write a word-level ``tokenizer.json`` over :data:`VOCAB` that wraps text in start/end tokens, as CLIP's."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    tokenizer = Tokenizer(models.WordLevel({word: i for i, word in enumerate(VOCAB)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>", special_tokens=[("<|startoftext|>", 0), ("<|endoftext|>", 1)])
    tokenizer.save(str(path))
    return path


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
