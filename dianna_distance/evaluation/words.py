"""Word deletion (faithfulness on text): does deleting the words a text explanation marks move the distance?

The text counterpart of :mod:`~dianna_distance.evaluation.deletion`. The seed spread of text explanations needs
nothing new: :class:`~dianna_distance.evaluation.SeedSpread` takes a
:class:`~dianna_distance.text.TextDistanceExplainer` as its ``explainer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dianna_distance.checks import check_numeric_array
from dianna_distance.distances import DistanceLike
from dianna_distance.evaluation.common import (
    DeletionCurves,
    RandomState,
    check_deletion_parameters,
    check_one_reference,
    deletion_keep,
    deletion_orders,
    deletion_steps,
    deletion_summary,
    distance_curve,
)
from dianna_distance.text import (
    TextDistanceExplainer,
    TextModelLike,
    TokenizerLike,
    check_mask_token,
    check_mask_token_for_model,
    split_words,
)


@dataclass
class WordDeletionResult(DeletionCurves):
    """What :class:`WordDeletion` returns: the deletion curves, over the F words of the text.

    Its curves, areas, orders and ``boundaries`` are :class:`~dianna_distance.evaluation.common.DeletionCurves`'.

    Attributes:
        words: The F words.
        texts_lodf: The S + 1 texts of the LoDF curve (what the model saw).
    """

    words: list[str]
    texts_lodf: list[str]


class WordDeletion:
    """Word deletion: delete the words of a text in order of their scores and follow the distance to the reference.

    The words are deleted cumulatively in ``n_steps`` steps in three orders: most positive score first ("LoDF":
    the distance should rise fast), most negative first ("HiDF"), and ``n_random`` random orders. After each
    step the distance of the text's embedding to the reference is measured. Words are split and deleted (or
    replaced by ``mask_token``) exactly as the :class:`~dianna_distance.text.TextDistanceExplainer` does.

    Words whose score is NaN (words past the model's maximum length, which it never sees) have no place in an
    order by score: they are never deleted, they stay in every text, and the orders, the steps and the fractions
    run over the scored words only (the random orders too, so all curves end with every scored word deleted).

    Args:
        n_steps: Number of deletion steps; default (None) one word per step.
        n_random: Number of random deletion orders (at least 1).
        tokenizer: How the text is split into words (as the explainer's ``tokenizer``); an ONNX model file needs
            its ``tokenizer.json`` here.
        mask_token: None to delete words; a string to replace them.
        distance: ``"cosine"``, ``"euclidean"``, or a callable ``(embeddings (N, D), reference (D,)) -> (N,)``.
        batch_size: Texts per model call; default 256.
        random_state: Seed or generator for the random orders.
        progress: Show a progress bar.
        providers: ONNX Runtime execution providers when the model is an ONNX file.
    """

    def __init__(
        self,
        n_steps: int | None = None,
        n_random: int = 10,
        tokenizer: TokenizerLike = None,
        mask_token: str | None = None,
        distance: DistanceLike = "cosine",
        batch_size: int | None = None,
        random_state: RandomState = None,
        progress: bool = True,
        providers: Sequence[str] | None = None,
    ) -> None:
        self.n_steps = n_steps
        self.n_random = n_random
        self.tokenizer = tokenizer
        self.mask_token = mask_token
        self.distance = distance
        self.batch_size = batch_size
        self.random_state = random_state
        self.progress = progress
        self.providers = providers

    def __call__(self, model: TextModelLike, text: str, reference: np.ndarray, scores: np.ndarray
                 ) -> WordDeletionResult:
        """Delete words in the LoDF, HiDF and random orders and measure the distance after each step.

        Args:
            model: A callable ``list[str] -> (B, D)``, or a sentence-embedding ONNX file (with ``tokenizer``).
            text: The explained text.
            reference: Reference embedding ``(D,)``.
            scores: The explanation to evaluate, ``(F,)``: one score per word; NaN for a word the model cannot
                see (never deleted, see the class).

        Returns:
            A :class:`WordDeletionResult`; its orders hold the indices (into the F words) of the scored words only.
        """
        check_deletion_parameters(self.n_steps, self.n_random, self.distance, self.random_state, self.batch_size,
                                  self.progress)
        check_mask_token(self.mask_token)
        words = split_words(text, self.tokenizer)
        check_mask_token(self.mask_token, self.tokenizer)
        scores = np.asarray(check_numeric_array(scores, "scores"), dtype=np.float64)
        if scores.shape != (len(words),):
            raise ValueError(f"scores must have one value per word, shape ({len(words)},), got {scores.shape}")
        if np.any(np.isinf(scores)):
            raise ValueError("scores must be finite, or NaN for a word the model cannot see; got infinite scores")
        scored = np.flatnonzero(~np.isnan(scores))
        if len(scored) == 0:
            raise ValueError("scores has no score to order by: every score is NaN")
        reference = check_one_reference(reference, self.distance)
        n_words, n_scored = len(words), len(scored)
        n_steps = deletion_steps(self.n_steps, n_scored, "words" if n_scored == n_words
                                 else "scored words (NaN scores are never deleted)")
        orders, boundaries = deletion_orders(scores[scored], n_steps, self.n_random, self.random_state)
        orders = [scored[order] for order in orders]  # indices into the F words
        keep = deletion_keep(orders, boundaries, n_words)

        run_model = TextDistanceExplainer(tokenizer=self.tokenizer, providers=self.providers).load_model(model)
        check_mask_token_for_model(self.mask_token, run_model)
        curves = distance_curve(lambda rows: run_model(words.masked_texts(rows, self.mask_token)),
                                keep.reshape(-1, n_words), reference[0], self.distance, self.batch_size or 256,
                                self.progress, "Deleting words", "text")
        curves = curves.reshape(len(orders), len(boundaries))
        return WordDeletionResult(
            **deletion_summary(curves, boundaries, n_scored),
            order_lodf=orders[0],
            order_hidf=orders[1],
            boundaries=boundaries,
            words=list(words.words),
            texts_lodf=words.masked_texts(keep[0], self.mask_token),
        )


def word_deletion(model: TextModelLike, text: str, reference: np.ndarray, scores: np.ndarray, **parameters: Any
                  ) -> WordDeletionResult:
    """Run :class:`WordDeletion` with ``parameters`` in one call; see there."""
    return WordDeletion(**parameters)(model, text, reference, scores)
