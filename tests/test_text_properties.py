"""Property: whatever the text explainer's parameters, text, tokenizer, mask token and model, the outcome is a score
per word of the right shape (finite, or NaN exactly for the words the model says it cannot see), or a ValueError /
TypeError / FileNotFoundError whose message names the parameter or input at fault; never another exception."""

from __future__ import annotations

import re
import warnings
import zlib

import numpy as np
import pytest
from conftest_text import save_sentence_model, save_wordpiece_tokenizer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dianna_distance import TextDistanceExplainer
from dianna_distance.distances import WEIGHTINGS
from dianna_distance.models.sentence import SentenceEncoder

EMBEDDING = 4
NAMES = ("n_masks", "p_keep", "mask_selection_range_min", "mask_selection_range_max",
         "mask_selection_negative_range_min", "mask_selection_negative_range_max", "weighting", "batch_size",
         "distance", "random_state", "tolerance", "max_masks", "masks", "progress", "tokenizer", "mask_token", "text",
         "embedded_reference", "model")
WORDS = ["the", "cat", "dog", "sat", "on", "a", "mat", "red", "car", "fish", "bird", "playing", "zebra", ",", "."]


def word_vector(word: str) -> np.ndarray:
    """A fixed vector per word (from its CRC32), the same in every process."""
    return np.random.default_rng(zlib.crc32(word.lower().encode())).normal(size=EMBEDDING)


def bag_model(texts: list[str]) -> np.ndarray:
    """The sum of the vectors of a text's whitespace words, plus a constant."""
    return np.stack([sum((word_vector(w) for w in text.split()), np.zeros(EMBEDDING)) + 0.5 for text in texts])


class FirstWordsModel:
    """A bag model that sees only a text's first ``limit`` whitespace words and says so, as a truncating encoder."""

    max_length_ = 5

    def __call__(self, texts: list[str]) -> np.ndarray:
        return bag_model([" ".join(text.split()[: self.max_length_]) for text in texts])

    def seen_characters(self, text: str) -> int:
        words = list(re.finditer(r"\S+", text))
        return len(text) if len(words) <= self.max_length_ else words[self.max_length_ - 1].end()


def constant_model(texts: list[str]) -> np.ndarray:
    return np.ones((len(texts), EMBEDDING))


def nan_model(texts: list[str]) -> np.ndarray:
    out = bag_model(texts)
    out[0, 0] = np.nan
    return out


def flat_model(texts: list[str]) -> np.ndarray:
    return bag_model(texts)[:, 0]


def short_model(texts: list[str]) -> np.ndarray:
    return bag_model(texts)[:-1]


def list_model(texts: list[str]) -> list:
    return bag_model(texts).tolist()


class WhitespaceTokenizer:
    """A DIANNA-style tokenizer: whitespace tokens, joined by spaces."""

    mask_token = "UNKWORDZ"

    def tokenize(self, text: str) -> list[str]:
        return text.split()

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return " ".join(tokens)


def metaspace_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    pieces = ["<unk>", "<mask>", "▁", *[f"▁{word}" for word in WORDS]]
    tokenizer = Tokenizer(models.Unigram([(piece, -1.0) for piece in pieces], unk_id=0))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.add_special_tokens(["<mask>"])
    return tokenizer


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A WordPiece tokenizer.json (truncating at 16 tokens) and a sentence encoder over it, made once."""
    folder = tmp_path_factory.mktemp("text_properties")
    tokenizer = save_wordpiece_tokenizer(folder / "tokenizer.json", fixed_length=16)
    save_sentence_model(folder / "sentence.onnx", dim=EMBEDDING)
    from tokenizers import Tokenizer

    return {"path": tokenizer, "object": Tokenizer.from_file(str(tokenizer)), "metaspace": metaspace_tokenizer(),
            "encoder": SentenceEncoder(folder / "sentence.onnx", tokenizer, providers=["CPUExecutionProvider"]),
            "missing": folder / "missing.json"}


def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy) -> st.SearchStrategy:
    """Valid values nine times in ten, so that most examples reach scores and each bad value is met on its own."""
    return st.sampled_from(range(10)).flatmap(lambda k: invalid if k == 9 else valid)


bad_numbers = st.sampled_from([float("nan"), float("inf"), -0.5, 1.5, None, "0.1", True])
bad_ints = st.sampled_from([-1, 0, 2.5, True, None, "10"])

parameters = st.fixed_dictionaries({}, optional={
    "n_masks": mostly(st.integers(1, 30), bad_ints),
    "p_keep": mostly(st.floats(0.05, 1), st.sampled_from([0.0, float("nan"), 1.5, None])),
    "mask_selection_range_min": mostly(st.floats(0, 0.3), bad_numbers),
    "mask_selection_range_max": mostly(st.floats(0.3, 0.6), bad_numbers),
    "mask_selection_negative_range_min": mostly(st.floats(0.6, 0.9), bad_numbers),
    "mask_selection_negative_range_max": mostly(st.floats(0.9, 1), bad_numbers),
    "weighting": mostly(st.sampled_from(WEIGHTINGS), st.sampled_from(["rank", None])),
    "batch_size": mostly(st.one_of(st.none(), st.integers(1, 12)), bad_ints),
    "distance": mostly(st.sampled_from(["cosine", "euclidean"]), st.sampled_from(["manhattan", None])),
    "random_state": mostly(st.one_of(st.none(), st.integers(0, 2**40)), st.sampled_from([-3, 1.5, "seed"])),
    "tolerance": mostly(st.one_of(st.none(), st.floats(1e-2, 1.0)), st.sampled_from([float("nan"), 0.0, "0.1"])),
    "max_masks": mostly(st.integers(30, 40), st.sampled_from([-1, 0, None])),
})

separators = st.sampled_from([" "] * 6 + ["  ", "\t", "\n", "-", ""])


@st.composite
def texts(draw):
    words = draw(st.lists(st.sampled_from(WORDS), min_size=2, max_size=22))
    seps = draw(st.lists(separators, min_size=len(words) + 1, max_size=len(words) + 1))
    text = seps[0].strip() + "".join(word + sep for word, sep in zip(words, seps[1:]))
    return draw(mostly(st.just(text), st.sampled_from(["", "   ", "cat", 3, None, b"the cat"])))


tokenizer_names = mostly(st.sampled_from([None, "path", "object", "metaspace", "dianna"]),
                         st.sampled_from(["missing", "number", "object()"]))
mask_tokens = mostly(st.sampled_from([None, None, "UNKWORDZ", "[MASK]", "<mask>", "cat"]),
                     st.sampled_from(["", "two words", 3]))
model_names = st.sampled_from(["bag"] * 3 + ["first_words"] * 2 + ["encoder"] * 3 + ["constant", "nan", "flat",
                                             "short", "list", "not callable"])


@st.composite
def references(draw):
    shape = draw(mostly(st.sampled_from([(EMBEDDING,), (2, EMBEDDING)]),
                        st.sampled_from([(EMBEDDING - 1,), (0,), (2, 2, EMBEDDING)])))
    reference = np.random.default_rng(draw(st.integers(0, 100))).normal(size=shape)
    if reference.size and draw(st.sampled_from(range(10))) == 9:
        reference.flat[0] = np.nan
    return reference


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(parameters=parameters, text=texts(), tokenizer=tokenizer_names, mask_token=mask_tokens,
       model_name=model_names, reference=references())
def test_outcome_is_a_score_per_word_or_an_error_naming_the_parameter(files, parameters, text, tokenizer,
                                                                       mask_token, model_name, reference):
    tokenizer = {None: None, "dianna": WhitespaceTokenizer(), "number": 3, "object()": object(),
                 **files}[tokenizer]
    model = {"bag": bag_model, "first_words": FirstWordsModel(), "encoder": files["encoder"],
             "constant": constant_model, "nan": nan_model, "flat": flat_model, "short": short_model,
             "list": list_model, "not callable": 42}[model_name]
    explainer = TextDistanceExplainer(progress=False, tokenizer=tokenizer, mask_token=mask_token, **parameters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            scores = explainer.attribute(model, text, reference)
        except (ValueError, TypeError, FileNotFoundError) as error:
            message = str(error)
            assert any(re.search(rf"\b{name}\b", message) for name in NAMES), message
            return
    n_words = len(explainer.words_)
    assert n_words >= 2
    assert scores.shape == ((n_words,) if np.ndim(reference) == 1 else (len(reference), n_words))
    seen = explainer.seen_
    assert np.all(np.isfinite(scores[..., seen])) and np.all(np.isnan(scores[..., ~seen]))
    if not hasattr(model, "seen_characters"):
        assert seen.all()  # a model that does not say its limit gets every word scored


def test_a_model_that_sees_five_words_leaves_the_rest_without_a_score():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = TextDistanceExplainer(n_masks=30, random_state=0, progress=False)
        scores = explainer.attribute(FirstWordsModel(), "the cat sat on a red mat", word_vector("cat"))
    assert np.all(np.isfinite(scores[:5])) and np.all(np.isnan(scores[5:]))
