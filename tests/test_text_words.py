"""Words as features: splitting (whitespace, tokenizers, DIANNA-style), character offsets and masked texts."""

from __future__ import annotations

import numpy as np
import pytest
from conftest_text import save_wordpiece_tokenizer

from dianna_distance.text import split_words


class WordListTokenizer:
    """A DIANNA-style tokenizer: whitespace tokens, joined by spaces, with a mask token."""

    mask_token = "UNKWORDZ"

    def tokenize(self, text: str) -> list[str]:
        return text.split()

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return " ".join(tokens)


@pytest.fixture
def tokenizer_json(tmp_path):
    return save_wordpiece_tokenizer(tmp_path / "tokenizer.json")


def test_without_tokenizer_words_are_runs_of_non_whitespace_with_their_offsets():
    words = split_words("  the cat\tsat.\n")
    assert words.words == ("the", "cat", "sat.")
    np.testing.assert_array_equal(words.offsets, [[2, 5], [6, 9], [10, 14]])


def test_sub_word_tokens_are_grouped_into_one_word(tokenizer_json):
    words = split_words("The cat playing", tokenizer_json)  # playing -> play ##ing
    assert words.words == ("The", "cat", "playing")
    np.testing.assert_array_equal(words.offsets, [[0, 3], [4, 7], [8, 15]])


def test_tokenizer_json_words_split_off_punctuation(tokenizer_json):
    assert split_words("a cat, a dog.", tokenizer_json).words == ("a", "cat", ",", "a", "dog", ".")


def test_tokenizers_object_and_its_file_give_the_same_words(tokenizer_json):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    from_object, from_file = split_words("the dog played", tokenizer), split_words("the dog played", tokenizer_json)
    assert from_object.words == from_file.words == ("the", "dog", "played")
    np.testing.assert_array_equal(from_object.offsets, from_file.offsets)
    assert tokenizer.padding is not None  # the caller's tokenizer is not changed


def test_offsets_point_into_the_original_text_despite_lower_casing(tokenizer_json):
    text = "THE Cat SAT"
    words = split_words(text, tokenizer_json)
    assert [text[start:end] for start, end in words.offsets] == ["THE", "Cat", "SAT"]
    assert words.words == ("THE", "Cat", "SAT")


def test_dianna_style_tokenizer_tokens_are_the_words():
    words = split_words("the cat  sat", WordListTokenizer())
    assert words.words == ("the", "cat", "sat")
    np.testing.assert_array_equal(words.offsets, [[0, 3], [4, 7], [9, 12]])


def test_deleting_a_word_keeps_the_text_around_it():
    words = split_words("the cat sat on the mat")
    assert words.masked_text([1, 0, 1, 1, 1, 1]) == "the sat on the mat"
    assert words.masked_text([0, 1, 1, 1, 1, 0]) == "cat sat on the"


def test_keeping_every_word_gives_the_text_itself(tokenizer_json):
    text = "  The cat, playing-fish. "
    words = split_words(text, tokenizer_json)
    assert words.masked_text(np.ones(len(words), bool)) == text


def test_deleting_a_word_that_touched_its_neighbours_keeps_them_apart(tokenizer_json):
    words = split_words("red-car", tokenizer_json)  # red, -, car
    assert words.masked_text([1, 0, 1]) == "red car"


def test_deleting_punctuation_after_a_word_keeps_the_following_space(tokenizer_json):
    words = split_words("the cat, the dog", tokenizer_json)
    assert words.masked_text([1, 1, 0, 1, 1]) == "the cat the dog"


def test_mask_token_replaces_each_dropped_word_keeping_every_separator(tokenizer_json):
    words = split_words("the cat, playing", tokenizer_json)
    assert words.masked_text([1, 0, 1, 0], mask_token="[MASK]") == "the [MASK], [MASK]"


def test_dropping_every_word_gives_the_empty_text_or_only_mask_tokens():
    words = split_words("the cat sat")
    assert words.masked_text([0, 0, 0]) == ""
    assert words.masked_text([0, 0, 0], mask_token="[MASK]") == "[MASK] [MASK] [MASK]"


def test_dianna_style_tokenizer_rebuilds_masked_texts_with_its_own_joining():
    words = split_words("the cat  sat", WordListTokenizer())
    assert words.masked_text([1, 0, 1]) == "the sat"
    assert words.masked_text([1, 0, 1], mask_token=WordListTokenizer.mask_token) == "the UNKWORDZ sat"


def test_masked_texts_gives_one_text_per_mask_row():
    words = split_words("a b c")
    assert words.masked_texts(np.array([[1, 1, 0], [0, 1, 1]])) == ["a b", "b c"]


def test_keep_of_the_wrong_length_is_rejected():
    with pytest.raises(ValueError, match=r"keep must have shape \(3,\)"):
        split_words("a b c").masked_text([1, 0])


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_text_without_words_is_rejected(text):
    with pytest.raises(ValueError, match="no words"):
        split_words(text)


def test_text_of_the_wrong_type_is_rejected():
    with pytest.raises(TypeError, match="text must be a str"):
        split_words(["the", "cat"])


def test_tokenizer_of_the_wrong_kind_is_rejected():
    with pytest.raises(TypeError, match="tokenizer must be None, a tokenizers.Tokenizer"):
        split_words("the cat", tokenizer=42)


def test_tokenizer_path_that_does_not_exist_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="tokenizer"):
        split_words("the cat", tmp_path / "missing.json")
