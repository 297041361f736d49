"""CLIP text encoder: tokenisation with tokenizers, padding, attention mask, (K, D) references, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest_models import VOCAB, save_image_model, save_text_model, save_tokenizer

from dianna_distance.models import ImageEncoder, TextEncoder, check_reference, embed_text

START, END = VOCAB.index("<|startoftext|>"), VOCAB.index("<|endoftext|>")
A, BEE, FLY = VOCAB.index("a"), VOCAB.index("bee"), VOCAB.index("fly")


@pytest.fixture
def tokenizer(tmp_path):
    return save_tokenizer(tmp_path / "tokenizer.json")


@pytest.fixture
def masked_model(tmp_path):
    path = tmp_path / "text.onnx"
    return path, save_text_model(path, attention_mask=True)


def test_caption_is_wrapped_in_start_end_tokens_and_padded_with_end_token(masked_model, tokenizer):
    tokens = TextEncoder(masked_model[0], tokenizer, context_length=6).tokenize("A bee")
    np.testing.assert_array_equal(tokens["input_ids"], [[START, A, BEE, END, END, END]])
    np.testing.assert_array_equal(tokens["attention_mask"], [[1, 1, 1, 1, 0, 0]])
    assert tokens["input_ids"].dtype == np.int64


def test_context_length_comes_from_a_graph_that_fixes_it(tmp_path, tokenizer):
    save_text_model(tmp_path / "fixed.onnx", length=5)
    assert TextEncoder(tmp_path / "fixed.onnx", tokenizer).context_length_ == 5


def test_context_length_defaults_to_clips_77_for_a_dynamic_graph(masked_model, tokenizer):
    assert TextEncoder(masked_model[0], tokenizer).tokenize("a fly")["input_ids"].shape == (1, 77)


def test_context_length_that_contradicts_the_graph_is_rejected(tmp_path, tokenizer):
    save_text_model(tmp_path / "fixed.onnx", length=5)
    with pytest.raises(ValueError, match="context_length=8"):
        TextEncoder(tmp_path / "fixed.onnx", tokenizer, context_length=8)


def test_long_caption_is_truncated_keeping_the_end_token_with_a_warning(masked_model, tokenizer):
    encoder = TextEncoder(masked_model[0], tokenizer, context_length=4)
    with pytest.warns(UserWarning, match="truncated"):
        tokens = encoder.tokenize("a photo of a bee")
    np.testing.assert_array_equal(tokens["input_ids"], [[START, A, VOCAB.index("photo"), END]])


def test_embedding_is_sum_over_unmasked_tokens_when_graph_takes_attention_mask(masked_model, tokenizer):
    path, table = masked_model
    embedding = TextEncoder(path, tokenizer, context_length=8).encode("a bee")
    np.testing.assert_allclose(embedding, table[[START, A, BEE, END]].sum(axis=0), rtol=1e-5)


def test_graph_without_attention_mask_gets_input_ids_only(tmp_path, tokenizer):
    table = save_text_model(tmp_path / "ids.onnx", attention_mask=False)
    encoder = TextEncoder(tmp_path / "ids.onnx", tokenizer, context_length=6)
    assert encoder.input_names_ == ["input_ids"]
    np.testing.assert_allclose(encoder.encode("a fly"), table[[START, A, FLY, END, END, END]].sum(axis=0), rtol=1e-5)


def test_text_embeds_output_is_chosen_over_the_first_output(masked_model, tokenizer):
    assert TextEncoder(masked_model[0], tokenizer).output_name_ == "text_embeds"


def test_several_captions_give_one_row_each(masked_model, tokenizer):
    path, table = masked_model
    references = embed_text(TextEncoder(path, tokenizer), ["a bee", "a fly", "a flower"])
    assert references.shape == (3, table.shape[1])
    np.testing.assert_allclose(references[1], table[[START, A, FLY, END]].sum(axis=0), rtol=1e-5)


def test_caption_references_are_checked_against_the_image_encoders_dimension(tmp_path, masked_model, tokenizer):
    save_image_model(tmp_path / "image.onnx", head="embeds", dim=6)
    references = TextEncoder(masked_model[0], tokenizer).encode(["a bee", "a fly"])  # dimension 4
    with pytest.raises(ValueError, match="dimension 4.*dimension 6"):
        check_reference(references, ImageEncoder(tmp_path / "image.onnx", "clip"))


def test_empty_caption_list_is_rejected(masked_model, tokenizer):
    with pytest.raises(ValueError, match="at least one caption"):
        TextEncoder(masked_model[0], tokenizer).encode([])


def test_missing_tokenizer_file_is_a_file_not_found_error(masked_model, tmp_path):
    with pytest.raises(FileNotFoundError, match="tokenizer"):
        TextEncoder(masked_model[0], tmp_path / "missing" / "tokenizer.json")


def test_tokenizer_file_that_is_not_a_tokenizer_is_a_value_error(masked_model, tmp_path):
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ValueError, match="not a tokenizer.json"):
        TextEncoder(masked_model[0], tmp_path / "tokenizer.json")


def test_image_graph_is_rejected_as_text_model(tmp_path, tokenizer):
    save_image_model(tmp_path / "image.onnx")
    with pytest.raises(ValueError, match="input_ids"):
        TextEncoder(tmp_path / "image.onnx", tokenizer)
