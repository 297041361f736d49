"""SentencePiece-style (Metaspace) tokenizers and mask tokens: what the model sees is what the words say.

A Metaspace pre-tokenizer (XLM-R, T5, e5) writes a word's leading space as ``"▁"`` inside the word's first token,
and its offsets cover that space. A deleted word must leave nothing behind (no lone ``"▁"`` token), and word
offsets exclude the whitespace around a word. A ``mask_token`` must be one token of the tokenizer.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest_text import save_sentence_model, save_wordpiece_tokenizer
from test_text_explainer import BagOfWords

from dianna_distance import TextDistanceExplainer
from dianna_distance.evaluation import word_deletion
from dianna_distance.models.sentence import SentenceEncoder
from dianna_distance.text import check_mask_token, split_words

WORDS = ["the", "cat", "sat", "on", "mat", "dog"]


def metaspace_tokenizer(kind: str):
    """A small SentencePiece-style tokenizer: a WordLevel or Unigram model behind a Metaspace pre-tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    pieces = ["<unk>", "<mask>", "▁", *[f"▁{word}" for word in WORDS]]
    if kind == "wordlevel":
        tokenizer = Tokenizer(models.WordLevel({piece: i for i, piece in enumerate(pieces)}, unk_token="<unk>"))
    else:
        tokenizer = Tokenizer(models.Unigram([(piece, -1.0) for piece in pieces], unk_id=0))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.add_special_tokens(["<mask>"])
    return tokenizer


@pytest.fixture(params=["wordlevel", "unigram"])
def metaspace(request):
    return metaspace_tokenizer(request.param)


def test_metaspace_word_offsets_exclude_the_space_before_the_word(metaspace):
    words = split_words("the cat  sat", metaspace)
    assert words.words == ("the", "cat", "sat")
    np.testing.assert_array_equal(words.offsets, [[0, 3], [4, 7], [9, 12]])


def test_a_deleted_word_leaves_no_lone_metaspace_token_behind(metaspace):
    words = split_words("the cat sat on the mat", metaspace)
    for dropped in range(len(words)):
        keep = np.ones(len(words), dtype=bool)
        keep[dropped] = False
        masked = words.masked_text(keep)
        tokens = metaspace.encode(masked).tokens
        assert "▁" not in tokens, (masked, tokens)
        assert len(tokens) == len(words) - 1


def test_deleting_every_other_word_gives_the_kept_words_single_spaced(metaspace):
    words = split_words("the cat sat on the mat", metaspace)
    assert words.masked_text([1, 0, 1, 0, 1, 0]) == "the sat the"


def test_metaspace_mask_token_replaces_a_word_by_one_token(metaspace):
    words = split_words("the cat sat", metaspace)
    masked = words.masked_text([1, 0, 1], mask_token="<mask>")
    assert masked == "the <mask> sat"
    assert "<mask>" in metaspace.encode(masked).tokens


def test_mask_token_that_becomes_several_tokens_is_rejected_naming_it(tmp_path):
    tokenizer = save_wordpiece_tokenizer(tmp_path / "tokenizer.json")
    explainer = TextDistanceExplainer(n_masks=20, tokenizer=tokenizer, mask_token="<mask>", progress=False)
    with pytest.raises(ValueError, match="mask_token '<mask>'.*single token"):
        explainer.attribute(BagOfWords(WORDS), "the cat sat on the mat", np.ones(16))


def test_mask_token_outside_the_vocabulary_is_rejected(metaspace):
    with pytest.raises(ValueError, match="mask_token 'zebra' is not"):
        check_mask_token("zebra", metaspace)


def test_the_tokenizers_own_mask_token_is_accepted(tmp_path, metaspace):
    from tokenizers import Tokenizer

    bert = Tokenizer.from_file(str(save_wordpiece_tokenizer(tmp_path / "tokenizer.json")))
    bert.add_special_tokens(["[MASK]"])  # as BERT's tokenizer.json declares it
    check_mask_token("[MASK]", bert)
    check_mask_token("<mask>", metaspace)


def test_a_bracketed_mask_token_that_the_tokenizer_splits_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="mask_token '\\[MASK\\]' is not a single token"):
        check_mask_token("[MASK]", save_wordpiece_tokenizer(tmp_path / "tokenizer.json"))


@pytest.mark.parametrize("mask_token", ["", "  ", "two words"])
def test_mask_token_that_is_not_one_word_is_rejected_without_a_tokenizer(mask_token):
    explainer = TextDistanceExplainer(n_masks=20, mask_token=mask_token, progress=False)
    with pytest.raises(ValueError, match="mask_token"):
        explainer.attribute(BagOfWords(WORDS), "the cat sat", np.ones(16))


def test_mask_token_is_checked_against_the_models_own_tokenizer(tmp_path):
    tokenizer = save_wordpiece_tokenizer(tmp_path / "tokenizer.json")
    save_sentence_model(tmp_path / "sentence.onnx")
    model = SentenceEncoder(tmp_path / "sentence.onnx", tokenizer)
    explainer = TextDistanceExplainer(n_masks=20, mask_token="<mask>", progress=False)  # whitespace words
    with pytest.raises(ValueError, match="mask_token '<mask>'"):
        explainer.attribute(model, "the cat sat", np.ones(5))


def test_word_deletion_rejects_a_mask_token_of_several_tokens(tmp_path):
    tokenizer = save_wordpiece_tokenizer(tmp_path / "tokenizer.json")
    with pytest.raises(ValueError, match="mask_token"):
        word_deletion(BagOfWords(WORDS), "the cat sat", np.ones(16), np.arange(3.0), tokenizer=tokenizer,
                      mask_token="<mask>", progress=False)


def unsplit_metaspace_tokenizers():
    """SentencePiece tokenizers that do not split words before the model: one word id for the whole text."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    pieces = [("<unk>", -1.0), ("▁", -1.0), ("cat", -1.0), *[(f"▁{word}", -1.0) for word in WORDS]]
    unsplit = Tokenizer(models.Unigram(pieces, unk_id=0))
    unsplit.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first", split=False)
    normalised = Tokenizer(models.Unigram(pieces, unk_id=0))  # as Llama's: spaces written as "▁" by the normaliser
    normalised.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    return [unsplit, normalised]


@pytest.mark.parametrize("tokenizer", unsplit_metaspace_tokenizers())
def test_a_metaspace_tokenizer_that_does_not_split_words_still_gives_one_feature_per_word(tokenizer):
    words = split_words("the cat  sat on mat", tokenizer)
    assert words.words == ("the", "cat", "sat", "on", "mat")
    assert words.masked_text([1, 0, 1, 1, 0]) == "the  sat on"


def test_a_lone_space_marker_before_a_word_joins_that_word_not_the_one_before():
    from tokenizers import Tokenizer, models, pre_tokenizers

    pieces = [("<unk>", -1.0), ("▁", -1.0), ("▁the", -1.0), ("cat", -1.0)]  # no "▁cat": " cat" is "▁", "cat"
    tokenizer = Tokenizer(models.Unigram(pieces, unk_id=0))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first", split=False)
    assert tokenizer.encode("the cat").tokens == ["▁the", "▁", "cat"]
    assert split_words("the cat", tokenizer).words == ("the", "cat")


def test_word_deletion_checks_the_mask_token_against_the_models_own_tokenizer(tmp_path):
    save_sentence_model(tmp_path / "sentence.onnx")
    model = SentenceEncoder(tmp_path / "sentence.onnx", save_wordpiece_tokenizer(tmp_path / "tokenizer.json"))
    with pytest.raises(ValueError, match="mask_token '<mask>'"):
        word_deletion(model, "the cat sat", np.ones(5), np.arange(3.0), mask_token="<mask>", progress=False)
