"""Texts longer than the model's maximum length: a score only for the words the model sees.

A sentence encoder truncates at its tokenizer's maximum length, CLIP's text tower at its context length. Masked
texts are shorter than the text, so without care a word past the limit enters the model's window in masked texts
and can get the top score, although the full text's embedding never depends on it. Such words get NaN, with one
warning per run naming the first of them and the limit.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest_models import save_text_model, save_tokenizer
from conftest_text import WORDPIECE_VOCAB, save_sentence_model, save_wordpiece_tokenizer

from dianna_distance import TextDistanceExplainer, TextHighlight, plot_text_distance
from dianna_distance.evaluation import word_deletion
from dianna_distance.model import TruncationWarning
from dianna_distance.models import TextEncoder
from dianna_distance.models.sentence import SentenceEncoder

# 14 words fit into 16 tokens with [CLS] and [SEP]; "fish" and "bird" come after them.
SEEN = "the cat sat on a mat the dog sat on a red car ."
LONG = SEEN + " a fish and a bird"
N_SEEN = len(SEEN.split())


@pytest.fixture
def encoder(tmp_path) -> tuple[SentenceEncoder, np.ndarray]:
    tokenizer = save_wordpiece_tokenizer(tmp_path / "tokenizer.json", fixed_length=16)
    table = save_sentence_model(tmp_path / "sentence.onnx", dim=32)
    return SentenceEncoder(tmp_path / "sentence.onnx", tokenizer), table


def explain(model, text, reference, **kwargs):
    explainer = TextDistanceExplainer(**{"n_masks": 100, "random_state": 0, "progress": False, "batch_size": 10,
                                         **kwargs})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = explainer.attribute(model, text, reference)
    return explainer, scores, caught


def test_sentence_encoder_says_how_many_characters_of_a_text_it_sees(encoder):
    model, _ = encoder
    assert model.seen_characters(SEEN) == len(SEEN)
    assert model.seen_characters(LONG) == len(SEEN)


def test_words_past_the_maximum_length_get_nan_and_the_seen_words_a_score(encoder):
    model, table = encoder
    explainer, scores, _ = explain(model, LONG, table[WORDPIECE_VOCAB.index("fish")])
    assert np.all(np.isfinite(scores[:N_SEEN]))
    assert np.all(np.isnan(scores[N_SEEN:]))
    assert explainer.seen_.tolist() == [True] * N_SEEN + [False] * (len(LONG.split()) - N_SEEN)


def test_unseen_words_get_no_error_bar_and_are_never_significant(encoder):
    model, table = encoder
    explainer, scores, _ = explain(model, LONG, table[WORDPIECE_VOCAB.index("fish")])
    assert np.all(np.isfinite(explainer.standard_error_[:N_SEEN]))
    assert np.all(np.isnan(explainer.standard_error_[N_SEEN:]))
    assert not explainer.significant_[N_SEEN:].any()
    explainer.reselect(weighting="linear")
    assert np.all(np.isnan(explainer.standard_error_[N_SEEN:])) and not explainer.significant_[N_SEEN:].any()


def test_a_word_the_model_never_sees_cannot_get_the_top_score(encoder):
    model, table = encoder
    explainer, scores, _ = explain(model, LONG, table[WORDPIECE_VOCAB.index("fish")])
    assert explainer.words_[int(np.nanargmax(scores))] != "fish"


def test_one_warning_per_run_names_the_first_unseen_word_and_the_limit(encoder):
    model, table = encoder
    _, _, caught = explain(model, LONG, table[WORDPIECE_VOCAB.index("fish")])
    limit_warnings = [w for w in caught if "maximum length" in str(w.message)]
    assert len(limit_warnings) == 1
    assert f"word {N_SEEN} ('a')" in str(limit_warnings[0].message)
    assert "16 tokens" in str(limit_warnings[0].message)
    assert not [w for w in caught if issubclass(w.category, TruncationWarning)]  # none per masked batch


def test_a_text_within_the_limit_is_scored_in_full_without_warnings(encoder):
    model, table = encoder
    explainer, scores, caught = explain(model, SEEN, table[WORDPIECE_VOCAB.index("car")])
    assert np.all(np.isfinite(scores)) and explainer.seen_.all()
    assert not [w for w in caught if "maximum length" in str(w.message) or "truncated" in str(w.message)]


def test_reselect_keeps_unseen_words_without_a_score(encoder):
    model, table = encoder
    explainer, _, _ = explain(model, LONG, table[WORDPIECE_VOCAB.index("fish")])
    rescored = explainer.reselect(table[WORDPIECE_VOCAB.index("car")])
    assert np.all(np.isnan(rescored[N_SEEN:])) and np.all(np.isfinite(rescored[:N_SEEN]))


def test_an_onnx_file_with_a_truncating_tokenizer_gets_nan_for_unseen_words(tmp_path, encoder):
    _, table = encoder
    explainer, scores, _ = explain(tmp_path / "sentence.onnx", LONG, table[WORDPIECE_VOCAB.index("fish")],
                                   tokenizer=tmp_path / "tokenizer.json")
    assert np.all(np.isnan(scores[N_SEEN:])) and np.all(np.isfinite(scores[:N_SEEN]))


def test_embeddings_computed_in_parts_give_the_same_unseen_words_when_the_model_is_named(encoder):
    model, table = encoder
    reference = table[WORDPIECE_VOCAB.index("fish")]
    explainer, scores, _ = explain(model, LONG, reference)
    parts = TextDistanceExplainer(n_masks=100, random_state=0, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        embeddings = np.concatenate([parts.embed_masked(model, LONG, 0, 50), parts.embed_masked(model, LONG, 50)])
        np.testing.assert_array_equal(parts.attribute_from_embeddings(LONG, embeddings, reference, model=model),
                                      scores)


def test_a_callable_that_does_not_say_its_limit_gets_every_word_scored(encoder):
    model, table = encoder
    _, scores, _ = explain(lambda texts: model(texts), LONG, table[WORDPIECE_VOCAB.index("fish")])
    assert np.all(np.isfinite(scores))


def test_clip_text_tower_scores_only_the_words_within_its_context_length(tmp_path):
    save_text_model(tmp_path / "clip-text.onnx", dim=4, attention_mask=True)
    model = TextEncoder(tmp_path / "clip-text.onnx", save_tokenizer(tmp_path / "tokenizer.json"), context_length=6)
    text = "a photo of a bee a fly"  # <start> + 4 words + <end> fit into 6 tokens
    reference = np.random.default_rng(0).normal(size=4)
    explainer, scores, caught = explain(model, text, reference)
    assert model.seen_characters(text) == len("a photo of a")
    assert np.all(np.isfinite(scores[:4])) and np.all(np.isnan(scores[4:]))
    assert len([w for w in caught if "maximum length of 6 tokens" in str(w.message)]) == 1
    assert not [w for w in caught if issubclass(w.category, TruncationWarning)]


def test_dianna_format_keeps_nan_for_unseen_words(encoder):
    model, table = encoder
    explainer, scores, _ = explain(model, LONG, table[WORDPIECE_VOCAB.index("fish")])
    explanation = explainer.explanation(scores)[0]
    assert [np.isnan(score) for _, _, score in explanation] == (~explainer.seen_).tolist()


def test_html_and_png_highlights_show_unseen_words_without_a_score(tmp_path, encoder):
    model, table = encoder
    explainer, scores, _ = explain(model, LONG, table[WORDPIECE_VOCAB.index("fish")])
    explanation = explainer.explanation(scores)
    html = TextHighlight(explanation, LONG, explainer.offsets_).to_html()
    assert html.count("not seen by the model") == len(LONG.split()) - N_SEEN
    assert "nan" not in html.lower()
    figure = plot_text_distance(explanation[0], tmp_path / "long.png")
    assert (tmp_path / "long.png").stat().st_size > 0
    legend = [text.get_text() for ax in figure.axes if ax.get_legend() for text in ax.get_legend().get_texts()]
    assert any(line.startswith("grey: past the model's maximum length") for line in legend)


def test_word_deletion_never_deletes_unseen_words_and_orders_only_scored_ones(encoder):
    model, table = encoder
    reference = table[WORDPIECE_VOCAB.index("car")]
    explainer, scores, _ = explain(model, LONG, reference)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        result = word_deletion(model, LONG, reference, scores, random_state=0, progress=False, n_random=3)
    unseen = set(np.flatnonzero(~explainer.seen_))
    for order in [result.order_lodf, result.order_hidf]:
        assert sorted(order) == list(range(N_SEEN)) and not unseen & set(order)
    assert len(result.lodf) == N_SEEN + 1 and result.fractions[-1] == 1
    assert result.texts_lodf[-1].split() == [explainer.words_[i] for i in sorted(unseen)]
    assert np.all(np.isfinite(result.lodf)) and np.isfinite(result.area_lodf)


def test_word_deletion_rejects_infinite_scores_and_scores_that_are_all_nan(encoder):
    model, table = encoder
    scores = np.zeros(len(SEEN.split()))
    with pytest.raises(ValueError, match="scores"):
        word_deletion(model, SEEN, table[0], np.where(np.arange(len(scores)) == 0, np.inf, scores), progress=False)
    with pytest.raises(ValueError, match="scores"):
        word_deletion(model, SEEN, table[0], np.full(len(scores), np.nan), progress=False)


def test_explain_text_json_writes_null_for_unseen_words_and_says_which_are_seen(tmp_path, encoder):
    from dianna_distance.cli import main

    _, table = encoder
    np.save(tmp_path / "fish.npy", table[WORDPIECE_VOCAB.index("fish")])
    code = main(["explain-text", str(tmp_path / "sentence.onnx"), LONG, "--tokenizer", str(tmp_path / "tokenizer.json"),
                 "--reference", str(tmp_path / "fish.npy"), "--output", str(tmp_path / "long"), "--n-masks", "40",
                 "--random-state", "0", "--no-progress"])
    assert code == 0
    text = (tmp_path / "long.json").read_text()
    assert "NaN" not in text  # not valid JSON
    record = json.loads(text)
    assert record["scores"][0][N_SEEN:] == [None] * (len(LONG.split()) - N_SEEN)
    assert record["seen"] == [True] * N_SEEN + [False] * (len(LONG.split()) - N_SEEN)
    assert np.all(np.isnan(np.load(tmp_path / "long.npy")[N_SEEN:]))


def test_seed_spread_of_a_long_text_is_measured_over_the_words_the_model_sees(encoder):
    from dianna_distance.evaluation import SeedSpread

    model, table = encoder
    spread = SeedSpread(explainer=TextDistanceExplainer(progress=False), n_masks=(20, 40), n_seeds=3, random_state=0,
                        progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = spread(model, LONG, table[WORDPIECE_VOCAB.index("car")])
    assert np.all(np.isfinite(result.spread)) and np.all(result.spread > 0)
    assert np.all(np.isnan(result.maps[..., N_SEEN:]))


def test_clip_text_towers_77_tokens_leave_words_76_on_without_a_score(tmp_path):
    save_text_model(tmp_path / "clip-text.onnx", dim=4, attention_mask=True)
    model = TextEncoder(tmp_path / "clip-text.onnx", save_tokenizer(tmp_path / "tokenizer.json"))
    text = " ".join(["a", "bee", "of", "a", "fly"] * 18)  # 90 words; 75 fit between the start and end tokens
    explainer, scores, caught = explain(model, text, np.random.default_rng(1).normal(size=4), n_masks=40)
    assert model.max_length_ == 77
    assert explainer.seen_.sum() == 75 and np.all(np.isnan(scores[75:])) and np.all(np.isfinite(scores[:75]))
    assert len([w for w in caught if "maximum length of 77 tokens" in str(w.message)]) == 1
