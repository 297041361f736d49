"""Small text stand-ins: a BERT-style WordPiece ``tokenizer.json`` and sentence-embedding ONNX graphs over it.

The encoder graph takes ``input_ids``, ``attention_mask`` and ``token_type_ids`` ``(N, L)`` int64 and returns
``last_hidden_state`` ``(N, L, D)``: the rows of an embedding table, plus a token-type row, as BERT's first layer.
Mean pooling over the attention mask then gives the mean of the text's token rows (special tokens included).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WORDPIECE_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "dog", "sat", "on", "mat", "a",
                   "play", "##ing", "##ed", "search", ",", ".", "-", "fish", "bird", "red", "car"]


def save_wordpiece_tokenizer(path: Path, fixed_length: int | None = 16) -> Path:
    """A lower-casing WordPiece ``tokenizer.json`` over :data:`WORDPIECE_VOCAB` adding [CLS] ... [SEP].

    As shipped with MiniLM, it pads and truncates to ``fixed_length`` (None: no padding or truncation).
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = {token: index for index, token in enumerate(WORDPIECE_VOCAB)}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    if fixed_length is not None:
        tokenizer.enable_padding(length=fixed_length, pad_id=0, pad_token="[PAD]")
        tokenizer.enable_truncation(fixed_length)
    tokenizer.save(str(path))
    return path


def save_sentence_model(
    path: Path, dim: int = 5, inputs: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids"),
    pooled: bool = False, length: int | str = "L", seed: int = 3,
) -> np.ndarray:
    """Write an encoder stand-in; return its embedding table ``(V, dim)``.

    Args:
        path: Where to write it.
        dim: Embedding length D.
        inputs: Graph inputs; ``attention_mask`` and ``token_type_ids`` may be left out.
        pooled: Output ``sentence_embedding`` ``(N, D)`` (the sum over tokens) instead of ``last_hidden_state``.
        length: Sequence axis, free (a name) or fixed (an int).
        seed: Seed of the table.
    """
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(len(WORDPIECE_VOCAB), dim)).astype(np.float32)
    type_table = np.zeros((2, dim), dtype=np.float32)
    nodes = [helper.make_node("Gather", ["table", "input_ids"], ["rows"], axis=0)]
    hidden = "rows"
    if "token_type_ids" in inputs:
        nodes += [helper.make_node("Gather", ["type_table", "token_type_ids"], ["type_rows"], axis=0),
                  helper.make_node("Add", ["rows", "type_rows"], ["hidden"])]
        hidden = "hidden"
    if pooled:
        nodes.append(helper.make_node("ReduceSum", [hidden, "token_axis"], ["sentence_embedding"], keepdims=0))
        outputs = [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["N", dim])]
    else:
        nodes.append(helper.make_node("Identity", [hidden], ["last_hidden_state"]))
        outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["N", length, dim])]
    graph_inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["N", length]) for name in inputs]
    initializers = [numpy_helper.from_array(table, "table")]
    initializers += [numpy_helper.from_array(type_table, "type_table")] if "token_type_ids" in inputs else []
    initializers += [numpy_helper.from_array(np.array([1]), "token_axis")] if pooled else []
    graph = helper.make_graph(nodes, "sentence_stand_in", graph_inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return table


def token_rows_mean(table: np.ndarray, words: list[str]) -> np.ndarray:
    """What mean pooling of the stand-in gives for a text of vocabulary words: mean of [CLS], words, [SEP] rows."""
    ids = [WORDPIECE_VOCAB.index(token) for token in ["[CLS]", *words, "[SEP]"]]
    return table[ids].mean(axis=0)
