"""The text Distance Explainer on small models whose right answers are known: words as features, K references,
reselect, random_state, DIANNA registration, output format and every bad input."""

from __future__ import annotations

import dianna
import numpy as np
import pytest
from conftest_text import WORDPIECE_VOCAB, save_sentence_model, save_wordpiece_tokenizer

from dianna_distance import TextDistanceExplainer, explain_text_distance
from dianna_distance.models.sentence import SentenceEncoder

TEXT = "the red car sat on a mat"


class BagOfWords:
    """Embeds a text as the sum of fixed random vectors of its whitespace words, plus a constant component.

    A reference equal to one word's vector is closest to the masked texts that keep that word.
    """

    def __init__(self, vocabulary: list[str], dim: int = 16, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.vectors = {word: rng.normal(size=dim) for word in vocabulary}
        self.dim = dim
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = [sum((self.vectors.get(word.lower(), 0) for word in text.split()), np.zeros(self.dim)) for text in texts]
        return np.stack(rows) + 0.1

    def vector(self, word: str) -> np.ndarray:
        return self.vectors[word]


@pytest.fixture
def model() -> BagOfWords:
    return BagOfWords(TEXT.split() + ["fish", "bird"])


def explain(model, text=TEXT, reference=None, **kwargs):
    kwargs = {"n_masks": 200, "random_state": 0, "progress": False, **kwargs}
    explainer = TextDistanceExplainer(**kwargs)
    return explainer, explainer.attribute(model, text, model.vector("car") if reference is None else reference)


def test_the_word_that_matches_the_reference_gets_the_top_score(model):
    explainer, scores = explain(model)
    assert explainer.words_[int(np.argmax(scores))] == "car"
    assert scores.shape == (7,)


def test_words_and_character_offsets_are_kept_on_the_explainer(model):
    explainer, _ = explain(model)
    assert explainer.words_ == TEXT.split()
    assert [TEXT[start:end] for start, end in explainer.offsets_] == TEXT.split()


def test_the_model_gets_lists_of_masked_texts_made_of_the_texts_words(model):
    explain(model, batch_size=64)
    assert [len(batch) for batch in model.calls] == [64, 64, 64, 8]
    assert all(isinstance(text, str) and set(text.split()) <= set(TEXT.split()) for text in model.calls[0])


def test_masks_are_booleans_over_words_and_the_masked_texts_follow_them(model):
    explainer, _ = explain(model, batch_size=200)
    assert explainer.masks_.shape == (200, 7) and explainer.masks_.dtype == bool
    words = np.array(TEXT.split())
    assert model.calls[0][5] == " ".join(words[explainer.masks_[5]])


def test_k_references_in_one_pass_equal_k_separate_runs(model):
    references = np.stack([model.vector("car"), model.vector("mat"), model.vector("fish")])
    explainer, together = explain(model, reference=references)
    assert len(model.calls) == 1
    for k, reference in enumerate(references):
        np.testing.assert_allclose(together[k], explain(model, reference=reference)[1], atol=1e-12)
    assert together.shape == (3, 7)


def test_same_random_state_gives_the_same_scores_and_another_does_not(model):
    first, second, other = (explain(model, random_state=seed)[1] for seed in (3, 3, 4))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_reselect_recomputes_scores_for_a_new_reference_without_the_model(model):
    explainer, _ = explain(model)
    n_calls = len(model.calls)
    scores = explainer.reselect(model.vector("mat"))
    assert len(model.calls) == n_calls
    assert explainer.words_[int(np.argmax(scores))] == "mat"


def test_tie_aware_selection_shares_weights_among_identical_masked_texts():
    # Two words only: 200 masks give just 4 distinct texts, so most distances are tied.
    model = BagOfWords(["red", "car"])
    explainer, _ = explain(model, text="red car")
    weights, distances = explainer.weights_, explainer.distances_
    for value in np.unique(distances):
        assert np.ptp(weights[distances == value]) == 0


def test_a_mask_token_replaces_dropped_words_in_what_the_model_sees(model):
    explain(model, mask_token="[MASK]", batch_size=200)
    assert all(len(text.split()) == 7 for text in model.calls[0])
    assert any("[MASK]" in text for text in model.calls[0])


def test_a_mask_that_drops_every_word_gives_the_model_the_empty_text(model):
    masks = np.ones((4, 7))
    masks[2] = 0
    explain(model, masks=masks, n_masks=4, batch_size=4, mask_selection_range_max=0.25,
            mask_selection_negative_range_min=0.75)
    assert model.calls[0][2] == ""
    assert model.calls[0][0] == TEXT


def test_onnx_file_with_its_tokenizer_json_is_run_as_a_sentence_encoder(tmp_path):
    tokenizer = save_wordpiece_tokenizer(tmp_path / "tokenizer.json")
    path = tmp_path / "sentence.onnx"
    table = save_sentence_model(path, dim=64)
    reference = table[WORDPIECE_VOCAB.index("fish")]
    explainer = TextDistanceExplainer(n_masks=200, tokenizer=tokenizer, random_state=0, progress=False)
    scores = explainer.attribute(path, "the cat, the fish and a dog", reference)
    assert explainer.words_ == ["the", "cat", ",", "the", "fish", "and", "a", "dog"]
    assert explainer.words_[int(np.argmax(scores))] == "fish"
    encoder = SentenceEncoder(path, tokenizer)
    np.testing.assert_allclose(scores, explainer.attribute(encoder, "the cat, the fish and a dog", reference))


def test_explanation_is_dianna_text_format_per_reference(model):
    explainer, scores = explain(model, reference=np.stack([model.vector("car"), model.vector("mat")]))
    explanation = explainer.explanation(scores)
    assert len(explanation) == 2
    assert explanation[0][2] == ("car", 2, pytest.approx(scores[0, 2]))


def test_explain_text_distance_is_registered_with_dianna(model):
    explanation = dianna.explain_text_distance(model, TEXT, model.vector("car"), n_masks=100, random_state=0,
                                               progress=False)
    assert len(explanation) == 1
    assert max(explanation[0], key=lambda item: item[2])[0] == "car"
    assert explain_text_distance is dianna.explain_text_distance


def test_dianna_explain_text_with_method_distance_gives_the_same_explanation(model):
    direct = explain_text_distance(model, TEXT, model.vector("car"), n_masks=100, random_state=0, progress=False)
    via_dianna = dianna.explain_text(model, TEXT, None, "distance", None, embedded_reference=model.vector("car"),
                                     n_masks=100, random_state=0, progress=False)
    assert via_dianna == direct


def test_dianna_explain_text_uses_a_dianna_style_tokenizers_tokens_as_words(model):
    class CommaTokenizer:
        mask_token = "UNKWORDZ"

        def tokenize(self, text):
            return [part.strip() for part in text.split(",")]

        def convert_tokens_to_string(self, tokens):
            return " ".join(tokens)

    explanation = dianna.explain_text(model, "the red, car sat, on a mat", CommaTokenizer(), "distance", None,
                                      embedded_reference=model.vector("car"), n_masks=50, progress=False)
    assert [word for word, _, _ in explanation[0]] == ["the red", "car sat", "on a mat"]


def test_dianna_rejects_labels_and_a_missing_reference(model):
    with pytest.raises(ValueError, match="labels must be None"):
        dianna.explain_text(model, TEXT, None, "distance", [1], embedded_reference=model.vector("car"))
    with pytest.raises(TypeError, match="embedded_reference"):
        dianna.explain_text(model, TEXT, None, "distance", None)


def test_unknown_keyword_is_rejected_as_by_dianna(model):
    with pytest.raises(TypeError, match="unused kwargs.*feature_res"):
        explain_text_distance(model, TEXT, model.vector("car"), feature_res=8)


@pytest.mark.parametrize("text", ["", "   \t\n"])
def test_text_without_words_is_rejected(model, text):
    with pytest.raises(ValueError, match="no words"):
        explain(model, text=text)


def test_one_word_is_rejected(model):
    with pytest.raises(ValueError, match="at least two words"):
        explain(model, text="car")


def test_text_that_is_not_a_str_is_rejected(model):
    with pytest.raises(TypeError, match="text must be a str"):
        explain(model, text=["the", "car"])


def test_tokenizer_of_the_wrong_kind_is_rejected(model):
    with pytest.raises(TypeError, match="tokenizer must be None"):
        explain(model, tokenizer=3.5)


def test_reference_of_the_wrong_length_is_rejected(model):
    with pytest.raises(ValueError, match="embedded_reference has length 5.*length 16"):
        explain(model, reference=np.ones(5))


def test_model_returning_the_wrong_shape_is_rejected():
    def one_row(texts):
        return np.ones((1, 4))

    with pytest.raises(ValueError, match="returned 1 embeddings for a batch of"):
        TextDistanceExplainer(n_masks=10, progress=False).attribute(one_row, TEXT, np.ones(4))


def test_model_returning_a_vector_per_text_of_the_wrong_rank_is_rejected():
    with pytest.raises(ValueError, match="2-D array of embeddings"):
        TextDistanceExplainer(n_masks=10, progress=False).attribute(lambda t: np.ones(len(t)), TEXT, np.ones(4))


def test_onnx_file_without_a_tokenizer_json_is_rejected(tmp_path):
    path = tmp_path / "sentence.onnx"
    save_sentence_model(path)
    with pytest.raises(ValueError, match="needs its tokenizer"):
        TextDistanceExplainer(n_masks=10, progress=False).attribute(path, TEXT, np.ones(5))


def test_model_that_is_neither_callable_nor_a_path_is_rejected():
    with pytest.raises(TypeError, match="model must be a callable"):
        TextDistanceExplainer(n_masks=10, progress=False).attribute(42, TEXT, np.ones(4))


def test_given_masks_must_be_zeros_and_ones(model):
    with pytest.raises(ValueError, match="0 .drop the word. or 1"):
        explain(model, masks=np.full((4, 7), 0.5), n_masks=4, weighting="linear")


def test_mask_token_of_the_wrong_type_is_rejected(model):
    with pytest.raises(TypeError, match="mask_token must be None"):
        explain(model, mask_token=0)


def test_tolerance_adds_masks_until_the_scores_settle(model):
    explainer, scores = explain(model, n_masks=100, tolerance=0.05, max_masks=2000)
    assert explainer.n_masks_used_ % 100 == 0 and 100 < explainer.n_masks_used_ <= 2000
    assert explainer.words_[int(np.argmax(scores))] == "car"


def test_masked_embeddings_computed_in_parts_give_the_scores_of_one_run(model):
    explainer, whole = explain(model, n_masks=120)
    parts = [explainer.embed_masked(model, TEXT, start, start + 40) for start in (0, 40, 80)]
    np.testing.assert_allclose(explainer.attribute_from_embeddings(TEXT, np.concatenate(parts), model.vector("car")),
                               whole)


def test_tolerance_treats_max_masks_as_a_ceiling_for_words_too(model):
    # Drawing 10**9 word masks up front would need gigabytes (a MemoryError); they are drawn as they are used.
    explainer, scores = explain(model, n_masks=100, tolerance=0.05, max_masks=10**9)
    assert explainer.converged_ and explainer.n_masks_used_ < 10**4
    assert explainer.words_[int(np.argmax(scores))] == "car"
