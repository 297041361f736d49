"""Text as words: the features of a text explanation, their character offsets, and masked texts.

The features of a text are **words**, never sub-word pieces:

- no tokenizer: words are the runs of non-whitespace characters;
- a :class:`tokenizers.Tokenizer` or the path of a ``tokenizer.json``: the words of the tokenizer's
  pre-tokenizer (for BERT's WordPiece: whitespace-separated words with every punctuation mark a word of its own),
  found by grouping its sub-word tokens by word; offsets into the original text come from the tokenizer;
- a DIANNA-style tokenizer (``tokenize(str) -> list[str]``, ``convert_tokens_to_string(list[str]) -> str`` and
  ``mask_token``, such as DIANNA's ``SpacyTokenizer``): its tokens are the features.

A masked text keeps the words whose mask value is 1 (True) and drops the others. A dropped word is **deleted** by
default (CLIP's tokenizer has no mask token, and deletion is what a text without that word looks like), or
**replaced by a mask token** when one is given (``mask_token="[MASK]"`` for BERT-family models, or DIANNA's
``tokenizer.mask_token``, which is what DIANNA's RISE does). Deletion shortens the text, so the model sees the kept
words side by side; a mask token keeps every position and the sentence's length, at the price of a token the model
may never have seen in that role. With deletion, the words on either side of a deleted word stay apart: the
separator that preceded the next kept word is kept, or a single space when there was none (so ``"a-b"`` without
``"-"`` is ``"a b"``, not the new word ``"ab"``). A mask that drops every word gives the empty text ``""`` with
deletion, and a text of mask tokens only with a mask token; the model embeds it like any other masked text.

Word offsets never include the whitespace around a word, also for SentencePiece-style tokenizers (a Metaspace
pre-tokenizer, as XLM-R, T5 and e5 use, gives tokens such as ``"▁cat"`` whose offsets cover the space before the
word): a deleted word leaves nothing behind, not even a lone ``"▁"`` token. A ``mask_token`` must be a single
token of the tokenizer (one word without whitespace when there is no tokenizer); anything else is a
:class:`ValueError` naming ``mask_token``, never a dropped word silently replaced by several tokens.

**Texts longer than the model's maximum length.** A model that truncates (a
:class:`~dianna_distance.sentence_model.SentenceEncoder` at its tokenizer's maximum length, CLIP's
:class:`~dianna_distance.models.TextEncoder` at 77 tokens) never sees the end of a long text. Masked texts are
shorter, so words past the limit would enter the model's window in some of them and could get high scores, while
the full text's embedding never depends on them. A model that says how much of a text it sees (a
``seen_characters(text) -> int`` method, as both classes above have) makes the explainer warn once per run, naming
the first word past the limit and the limit, and give the words the model cannot see **no score: NaN**. A plain
callable model says nothing about its limit; its words are all scored, as it returns.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeGuard

import numpy as np

from dianna_distance.checks import check_numeric_array, warn
from dianna_distance.core import MaskedDistanceExplainer
from dianna_distance.distances import DistanceLike
from dianna_distance.layers import list_embedding_outputs
from dianna_distance.masks import WordMasks
from dianna_distance.sentence_model import SentenceEncoder, TruncationWarning, load_tokenizer

if TYPE_CHECKING:
    from tokenizers import Tokenizer

TokenizerLike = object  # None, tokenizers.Tokenizer, a tokenizer.json path, or a DIANNA-style tokenizer
TextModelLike = str | Path | Callable[[list[str]], np.ndarray]

_WORD = re.compile(r"\S+")


class DiannaTokenizer(Protocol):
    """DIANNA's tokenizer interface (a ``mask_token`` attribute is optional)."""

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text``."""
        ...

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        """The text of ``tokens``."""
        ...

#: SentencePiece's space marker, which Metaspace tokenizers put in front of a word's first token.
METASPACE = "\u2581"


@dataclass(frozen=True)
class Words:
    """A text split into words (the features of a text explanation).

    Attributes:
        text: The text.
        words: The F words, in order.
        offsets: ``(F, 2)`` int array of character offsets ``[start, end)`` of each word in ``text``; ``-1`` for a
            DIANNA-style tokenizer's token that is not found in the text as it is (a normalised token).
        tokenizer: The DIANNA-style tokenizer that made the words, else None (texts are rebuilt from offsets).
    """

    text: str
    words: tuple[str, ...]
    offsets: np.ndarray
    tokenizer: DiannaTokenizer | None = None

    def __len__(self) -> int:
        return len(self.words)

    def masked_text(self, keep: Sequence[bool] | np.ndarray, mask_token: str | None = None) -> str:
        """The text with the words whose ``keep`` is False deleted, or replaced by ``mask_token``.

        Args:
            keep: ``(F,)`` booleans (or 0/1 values), True for the words to keep.
            mask_token: None to delete dropped words; else the string that replaces each dropped word.

        Returns:
            The masked text; all words kept gives the text itself.
        """
        keep = np.asarray(keep).astype(bool, copy=False)
        if keep.shape != (len(self.words),):
            raise ValueError(f"keep must have shape ({len(self.words)},), one value per word, got {keep.shape}")
        if self.tokenizer is not None:
            if mask_token is None:
                tokens = [word for word, kept in zip(self.words, keep) if kept]
            else:
                tokens = [word if kept else mask_token for word, kept in zip(self.words, keep)]
            return self.tokenizer.convert_tokens_to_string(tokens) if tokens else ""
        if keep.all():
            return self.text
        if mask_token is None and not keep.any():
            return ""
        text, offsets = self.text, self.offsets
        pieces, started = [text[: offsets[0, 0]]], False
        for index, ((start, end), kept) in enumerate(zip(offsets, keep)):
            piece = text[start:end] if kept else mask_token
            if piece is None:  # a deleted word
                continue
            if started:
                gap = text[offsets[index - 1, 1] : start]
                if mask_token is None and not gap and not keep[index - 1]:
                    gap = " "  # a deleted word sat between two words with no separator: keep them apart
                pieces.append(gap)
            pieces.append(piece)
            started = True
        pieces.append(text[offsets[-1, 1] :])
        return "".join(pieces)

    def masked_texts(self, keep: np.ndarray, mask_token: str | None = None) -> list[str]:
        """:meth:`masked_text` for each row of ``keep`` ``(B, F)``; returns B texts."""
        keep = np.asarray(keep)
        if keep.ndim != 2:
            raise ValueError(f"keep must have shape (B, {len(self.words)}), got {keep.shape}")
        return [self.masked_text(row, mask_token) for row in keep]


def split_words(text: str, tokenizer: TokenizerLike = None) -> Words:
    """Split a text into words: the features of a text explanation.

    Args:
        text: The text.
        tokenizer: None (words are runs of non-whitespace characters), a :class:`tokenizers.Tokenizer`, the path
            of a ``tokenizer.json`` (sub-word tokens grouped into the pre-tokenizer's words), or a DIANNA-style
            tokenizer with ``tokenize``, ``convert_tokens_to_string`` and ``mask_token`` (its tokens are the
            words).

    Returns:
        The :class:`Words`.

    Raises:
        TypeError: If ``text`` is not a str or ``tokenizer`` is none of the kinds above.
        ValueError: If the text has no words (empty or whitespace only).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"text has no words to explain: {text!r}")
    if tokenizer is None:
        matches = list(_WORD.finditer(text))
        return _words(text, [(m.start(), m.end()) for m in matches])
    if is_dianna_tokenizer(tokenizer):
        return _dianna_words(text, tokenizer)
    return _words(text, _tokenizer_word_offsets(text, load_tokenizer(tokenizer)))


def is_dianna_tokenizer(tokenizer: object) -> TypeGuard[DiannaTokenizer]:
    """Whether an object has DIANNA's tokenizer interface (``tokenize``, ``convert_tokens_to_string``)."""
    return callable(getattr(tokenizer, "tokenize", None)) and callable(
        getattr(tokenizer, "convert_tokens_to_string", None))


def _tokenizer_word_offsets(text: str, tokenizer: Tokenizer) -> list[tuple[int, int]]:
    """``[start, end)`` of each word of a tokenizers.Tokenizer's pre-tokenizer, from its tokens' word ids.

    A SentencePiece-style token that starts with ``"▁"`` (the Metaspace space marker) also starts a new word, for
    tokenizers that do not split the text into words before the model (``Metaspace(split=False)``, or a normaliser
    that writes the spaces as ``"▁"``), which give one word id to the whole text. Offsets exclude whitespace.
    """
    tokenizer.no_truncation()
    tokenizer.no_padding()
    encoding = tokenizer.encode(text, add_special_tokens=False)
    spans: dict[tuple[int, int], list[int]] = {}
    part = 0
    for word_id, token, (start, end) in zip(encoding.word_ids, encoding.tokens, encoding.offsets):
        if word_id is None:
            continue
        if token.startswith(METASPACE) and (word_id, part) in spans:
            part += 1  # a space marker inside one pre-tokenizer word: a new word
        while start < end and text[start].isspace():  # a Metaspace token "▁cat" covers the space before "cat"
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end <= start:
            continue
        span = spans.setdefault((word_id, part), [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)
    offsets = sorted((start, end) for start, end in spans.values())
    if not offsets:
        raise ValueError(f"text has no words the tokenizer recognises: {text!r}")
    return offsets


def _dianna_words(text: str, tokenizer: DiannaTokenizer) -> Words:
    tokens = [str(token) for token in tokenizer.tokenize(text)]
    if not tokens:
        raise ValueError(f"text has no words to explain: the tokenizer returned no tokens for {text!r}")
    offsets, position = [], 0
    for token in tokens:
        start = text.find(token, position) if token else -1
        offsets.append((start, start + len(token)) if start >= 0 else (-1, -1))
        position = start + len(token) if start >= 0 else position
    return Words(text, tuple(tokens), np.asarray(offsets, dtype=np.int64).reshape(-1, 2), tokenizer)


def _words(text: str, offsets: list[tuple[int, int]]) -> Words:
    array = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    return Words(text, tuple(text[start:end] for start, end in array), array)


def check_mask_token(mask_token: object, tokenizer: TokenizerLike = None) -> None:
    """Check that ``mask_token`` replaces a dropped word by exactly one token.

    Args:
        mask_token: None (dropped words are deleted) or the replacement string.
        tokenizer: None (then ``mask_token`` must be one word: non-empty, without whitespace), a
            :class:`tokenizers.Tokenizer` or ``tokenizer.json`` path (it must encode ``mask_token`` as one token
            that is not its unknown token), or a DIANNA-style tokenizer (its ``tokenize`` must give one token).

    Raises:
        TypeError: ``mask_token`` is neither None nor a str.
        ValueError: ``mask_token`` is not a single token, naming ``mask_token`` and the tokens it becomes.
    """
    if mask_token is None:
        return
    if not isinstance(mask_token, str):
        raise TypeError(f"mask_token must be None (delete dropped words) or a str, got {mask_token!r}")
    if not mask_token.strip() or _WORD.fullmatch(mask_token) is None:
        raise ValueError(f"mask_token must be a single word without whitespace (None deletes dropped words), got "
                         f"{mask_token!r}")
    if tokenizer is None:
        return
    if is_dianna_tokenizer(tokenizer):
        tokens = [str(token) for token in tokenizer.tokenize(mask_token)]
        unknown = False
    else:
        tokens, unknown = _tokens_of(load_tokenizer(tokenizer), mask_token)
    if len(tokens) != 1:
        raise ValueError(f"mask_token {mask_token!r} is not a single token of the tokenizer: it becomes {tokens}; "
                         "use a token of its vocabulary (for example its own mask token) or None to delete words")
    if unknown:
        raise ValueError(f"mask_token {mask_token!r} is not in the tokenizer's vocabulary: it becomes the unknown "
                         f"token {tokens[0]!r}; use a token of its vocabulary (for example its own mask token)")


def check_mask_token_for_model(mask_token: str | None, model: object) -> None:
    """:func:`check_mask_token` against the model's own tokenizer, for a model that has one (``tokenizer_``)."""
    model_tokenizer = getattr(model, "tokenizer_", None)
    if mask_token is not None and type(model_tokenizer).__module__.startswith("tokenizers"):
        check_mask_token(mask_token, model_tokenizer)


def _tokens_of(tokenizer: Tokenizer, text: str) -> tuple[list[str], bool]:
    """The tokens of ``text`` (no special tokens, no padding), and whether one of them is the unknown token."""
    import json

    encoding = tokenizer.encode(text, add_special_tokens=False)
    kept = [index for index, attention in enumerate(encoding.attention_mask) if attention]
    model = json.loads(tokenizer.to_str()).get("model", {})
    unknown_id = model.get("unk_id")
    if model.get("unk_token") is not None:
        unknown_id = tokenizer.token_to_id(model["unk_token"])
    tokens = [encoding.tokens[index] for index in kept]
    return tokens, unknown_id is not None and any(encoding.ids[index] == unknown_id for index in kept)


def seen_words(words: Words, model: object) -> np.ndarray | None:
    """Which words of a text the model sees, for a model with a ``seen_characters(text) -> int`` method.

    A word is seen when it starts before the character offset where the model's truncation cuts the text (a word
    cut in two is seen: its first tokens reach the model). A DIANNA-style tokenizer's token whose offset is
    unknown (-1) counts as the word before it.

    Args:
        words: The text's words.
        model: The model; without ``seen_characters`` nothing is known.

    Returns:
        ``(F,)`` booleans, True for the words the model sees in the full text; None when the model does not say.
    """
    measure = getattr(model, "seen_characters", None)
    if not callable(measure):
        return None
    seen_characters = measure(words.text)
    if not isinstance(seen_characters, (int, np.integer)) or isinstance(seen_characters, bool):
        raise TypeError(f"model.seen_characters must return an int, got {seen_characters!r}")
    seen, last = np.ones(len(words), dtype=bool), True
    for index, start in enumerate(words.offsets[:, 0]):
        last = bool(start < seen_characters) if start >= 0 else last
        seen[index] = last
    return seen


class TextDistanceExplainer(MaskedDistanceExplainer):
    """Explain which words make a text's embedding close to, or far from, a reference embedding.

    The text is split into F words (see :func:`split_words`); each of ``n_masks`` masks keeps every word with
    probability ``p_keep`` and drops the others (deleted, or replaced by ``mask_token``). Every masked text is
    embedded by the model and its distance to each reference computed; the masks are ranked by distance and the
    score of a word is the weighted sum of the masks (see :class:`~dianna_distance.core.MaskedDistanceExplainer`).
    A positive score marks a word whose presence brings the text closer to the reference; a negative score, a
    word that pushes it away. A word past the model's maximum length, which the model never sees in the full
    text, gets NaN, with one warning per run (for models that say how much they see: see the module docstring).

    Parameters are stored as given and checked when :meth:`attribute` runs.

    Args:
        n_masks: Number of masked texts (model evaluations).
        p_keep: Probability that a word is kept, in (0, 1].
        mask_selection_range_min: Lower end of the positive selection, a fraction of the ranking in [0, 1].
        mask_selection_range_max: Upper end of the positive selection.
        mask_selection_negative_range_min: Lower end of the negative selection.
        mask_selection_negative_range_max: Upper end of the negative selection.
        weighting: ``"ranges"`` (the paper's selection), ``"linear"`` or ``"normal"`` rank weights.
        batch_size: Masked texts per model call; default up to 256.
        tokenizer: How the text is split into words: None (whitespace), a :class:`tokenizers.Tokenizer` or a
            ``tokenizer.json`` path (sub-word tokens grouped into words), or a DIANNA-style tokenizer (its tokens
            are the words). An ONNX model file needs a ``tokenizer.json`` or a ``tokenizers.Tokenizer`` here.
        mask_token: None (default) deletes dropped words; a string (``"[MASK]"``, DIANNA's
            ``tokenizer.mask_token``) replaces each dropped word instead. It must be a single token of the
            tokenizer (and of the model's own ``tokenizer_`` when it has one); else a ValueError.
        distance: ``"cosine"`` (``(1 - cos) / 2``), ``"euclidean"``, or a callable
            ``(embeddings (N, D), reference (D,)) -> (N,)``.
        random_state: Seed (int) or :class:`numpy.random.Generator` for the masks; the global RNG is never used.
        masks: Masks to use instead of drawn ones, ``(n_masks, F)`` of 0 (drop) and 1 (keep).
        progress: Show a progress bar.
        providers: ONNX Runtime execution providers when the model is an ONNX file.
        tolerance: Choose the number of masks automatically (see the core class); None: exactly ``n_masks``.
        max_masks: Upper limit on the number of masks when ``tolerance`` is set.
        mask_pairs: ``"auto"`` (default: None, independent masks), None, ``"complement"`` or ``"flip"``: masks in
            pairs, the second the first's complement or the first with one word flipped; see the core class.
        embedding_output: For an ONNX file: an inner tensor of its graph to use as the embedding (see
            :mod:`dianna_distance.layers`); a token-level ``(B, L, D)`` tensor is mean-pooled over the attention
            mask, as the graph's output is; a ``(B, D)`` tensor is used as it is. None: the graph's first output.

    Attributes:
        words_: The F words of the last text explained.
        offsets_: ``(F, 2)`` character offsets ``[start, end)`` of the words in the text (-1 where a DIANNA-style
            tokenizer's token is not found as it is).
        masks_: ``(n_masks, F)`` boolean masks of the last run (True: the word is kept).
        seen_: ``(F,)`` booleans, True for the words the model sees in the full text. False only for a model
            that says how much of a text it sees (``seen_characters``, see the module docstring) and a text longer
            than its maximum length: those words get the score NaN (a warning names the first one).
        embeddings_: As for :class:`~dianna_distance.DistanceExplainer`, and so are ``distances_``, ``weights_``,
            ``positive_indices_``, ``negative_indices_``, ``embedded_reference_``, ``n_masks_used_`` and
            ``converged_``.

    Example:
        >>> explainer = TextDistanceExplainer(n_masks=500, random_state=0)
        >>> scores = explainer.attribute(model, "the passage", query_embedding)  # doctest: +SKIP
        >>> list(zip(explainer.words_, scores))  # doctest: +SKIP
    """

    words_: list[str]
    offsets_: np.ndarray
    seen_: np.ndarray

    def __init__(
        self,
        n_masks: int = 1000,
        p_keep: float = 0.5,
        mask_selection_range_min: float = 0.0,
        mask_selection_range_max: float = 0.1,
        mask_selection_negative_range_min: float = 0.9,
        mask_selection_negative_range_max: float = 1.0,
        weighting: str = "ranges",
        batch_size: int | None = None,
        tokenizer: TokenizerLike = None,
        mask_token: str | None = None,
        distance: DistanceLike = "cosine",
        random_state: int | np.random.Generator | None = None,
        masks: np.ndarray | None = None,
        progress: bool = True,
        providers: Sequence[str] | None = None,
        tolerance: float | None = None,
        max_masks: int = 10_000,
        mask_pairs: str | None = "auto",
        embedding_output: str | None = None,
    ) -> None:
        self._store_shared_parameters(locals())
        self.tokenizer = tokenizer
        self.mask_token = mask_token
        self.providers = providers
        self.embedding_output = embedding_output

    def attribute(self, model: TextModelLike, text: str, embedded_reference: np.ndarray) -> np.ndarray:
        """Score every word of ``text`` by how much it brings the text's embedding closer to the reference.

        Args:
            model: A callable ``list[str] -> (B, D)`` (for example a
                :class:`~dianna_distance.models.sentence.SentenceEncoder` or CLIP's
                :class:`~dianna_distance.models.TextEncoder`), or the path of a sentence-embedding ONNX file (then
                ``tokenizer`` must be its ``tokenizer.json``; mean pooling and L2 normalisation are used).
            text: The text to explain; it must have at least two words.
            embedded_reference: ``(D,)``, or ``(K, D)`` for K references explained in one pass of the model.

        Returns:
            Scores ``(F,)`` for a ``(D,)`` reference, ``(K, F)`` for ``(K, D)``; ``words_`` holds the words. Words
            past the model's maximum length get NaN (see ``seen_``).
        """
        run_model, knows_limit = self._load_for(model, text)
        with _quiet_truncation(knows_limit):
            return super().attribute(run_model, text, embedded_reference)

    def embed_masked(self, model: TextModelLike, text: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Embed the text masked by masks ``start:stop``; see the core class. Sets ``seen_`` as :meth:`attribute`."""
        run_model, knows_limit = self._load_for(model, text)
        with _quiet_truncation(knows_limit):
            return super().embed_masked(run_model, text, start, stop)

    def attribute_from_embeddings(self, text: str, embeddings: np.ndarray, embedded_reference: np.ndarray,
                                  model: TextModelLike | None = None) -> np.ndarray:
        """The scores from embeddings computed elsewhere (:meth:`embed_masked`), without running the model.

        Args:
            text: The text explained.
            embeddings: ``(n_masks, D)`` embeddings of the masked texts, in order.
            embedded_reference: ``(D,)`` or ``(K, D)``.
            model: The model, only to learn which words it sees (words past its maximum length get NaN); None:
                every word is scored.

        Returns:
            Scores ``(F,)`` or ``(K, F)``.
        """
        if model is None:
            self._validate_parameters()
            self.seen_ = np.ones(len(self._prepare_input(text)), dtype=bool)
        else:
            self._load_for(model, text)
        return super().attribute_from_embeddings(text, embeddings, embedded_reference)

    def explanation(self, scores: np.ndarray | None = None) -> list[list[tuple[str, int, float]]]:
        """Scores in DIANNA's text format: per reference a list of ``(word, word index, score)``.

        Args:
            scores: ``(F,)`` or ``(K, F)``; default the scores of the last run (recomputed from the stored run).

        Returns:
            K lists (one for a ``(D,)`` reference) of F tuples; the score is NaN for a word the model cannot see.
        """
        if not hasattr(self, "words_"):
            raise RuntimeError("explanation needs a run: call attribute() first")
        if scores is None:
            scores = self.reselect()
        return to_explanation(self.words_, scores)

    # -- the text modality ----------------------------------------------------------------------------------------

    def _load_for(self, model: TextModelLike, text: str) -> tuple[Callable[[list[str]], np.ndarray], bool]:
        """Check the parameters and the text, load the model, learn which words it sees; warn once if not all.

        Returns:
            The model as a callable, and whether it said how much of the text it sees.
        """
        self._validate_parameters()
        words = self._prepare_input(text)
        run_model = self.load_model(model)
        check_mask_token_for_model(self.mask_token, run_model)
        seen = seen_words(words, run_model)
        self.seen_ = np.ones(len(words), dtype=bool) if seen is None else seen
        if not self.seen_.all():
            first = int(np.flatnonzero(~self.seen_)[0])
            limit = getattr(run_model, "max_length_", None)
            limit = f" of {limit} tokens" if limit is not None else ""
            warn(f"the text is longer than the model's maximum length{limit}: the model never sees it from word "
                 f"{first} ({words.words[first]!r}) on; the {int((~self.seen_).sum())} words it cannot see get no "
                 "score (NaN)", stacklevel=3)
        return run_model, seen is not None

    def _unscored_features(self) -> np.ndarray | None:
        """Words the model never sees in the full text (past its maximum length): no score, no error bar."""
        seen = getattr(self, "seen_", None)
        if seen is None or len(seen) != len(getattr(self, "words_", ())):
            return None
        return ~seen

    def _prepare_input(self, text: str) -> Words:
        words = split_words(text, self.tokenizer)
        check_mask_token(self.mask_token, self.tokenizer)
        if len(words) < 2:
            raise ValueError(f"text must have at least two words to explain (a single word is always kept or "
                             f"always dropped together with the whole text), got {list(words.words)}")
        self.words_, self.offsets_ = list(words.words), words.offsets
        return words

    def _draw_masks(self, prepared: Words, n_masks: int) -> WordMasks:
        return WordMasks(len(prepared), n_masks, self.p_keep, self.random_state, self._pairing())

    def _masked_batch(self, prepared: Words, masks: np.ndarray) -> list[str]:
        return prepared.masked_texts(masks > 0.5, self.mask_token)

    def _feature_shape(self, prepared: Words) -> tuple[int]:
        return (len(prepared),)

    def _input_size(self, prepared: Words) -> int:
        return max(len(prepared.text), 1)

    def load_model(self, model: TextModelLike) -> Callable[[list[str]], np.ndarray]:
        """The model as a callable ``list[str] -> (B, D)``; an ONNX file becomes a ``SentenceEncoder``."""
        if isinstance(model, (str, Path)):
            if self.tokenizer is None or is_dianna_tokenizer(self.tokenizer):
                raise ValueError("model: an ONNX file needs its tokenizer: pass tokenizer= the path of its "
                                 "tokenizer.json (or a tokenizers.Tokenizer), or pass a callable model")
            pooling = "mean"
            if self.embedding_output is not None:
                shape = next((t.shape for t in list_embedding_outputs(model) if t.name == self.embedding_output), None)
                pooling = "none" if shape is not None and len(shape) == 2 else "mean"
            return SentenceEncoder(model, self.tokenizer, pooling=pooling, providers=self.providers,
                                   embedding_output=self.embedding_output)
        if self.embedding_output is not None and getattr(model, "embedding_output", None) != self.embedding_output:
            raise TypeError(f"embedding_output={self.embedding_output!r} needs an ONNX file as the model, got a "
                            f"{type(model).__name__}")
        if not callable(model):
            raise TypeError(f"model must be a callable list[str] -> (B, D) or the path of an ONNX file, got "
                            f"{type(model).__name__}")
        return model

    def _validate_modality(self) -> None:
        check_mask_token(self.mask_token)  # its type and form; the tokenizer's check comes with the text
        if self.embedding_output is not None and (not isinstance(self.embedding_output, str)
                                                  or not self.embedding_output):
            raise TypeError(f"embedding_output must be None or a tensor name (str), got {self.embedding_output!r}")
        tokenizer = self.tokenizer
        if not (tokenizer is None or isinstance(tokenizer, (str, Path)) or is_dianna_tokenizer(tokenizer)
                or type(tokenizer).__module__.startswith("tokenizers")):
            raise TypeError(f"tokenizer must be None, a tokenizers.Tokenizer, a tokenizer.json path or a "
                            f"DIANNA-style tokenizer (tokenize, convert_tokens_to_string, mask_token), got "
                            f"{type(tokenizer).__name__}")
        if self.masks is not None:
            masks = check_numeric_array(self.masks, "masks")
            if not np.all((masks == 0) | (masks == 1)):
                raise ValueError("masks must hold 0 (drop the word) or 1 (keep it) for a text")


@contextlib.contextmanager
def _quiet_truncation(quiet: bool) -> Iterator[None]:
    """Silence the model's own truncation warnings (one per masked text or batch) when the run has warned once."""
    if not quiet:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        yield


def to_explanation(words: Sequence[str], scores: np.ndarray) -> list[list[tuple[str, int, float]]]:
    """Scores ``(F,)`` or ``(K, F)`` in DIANNA's text format: per reference a list of ``(word, index, score)``.

    A word the model cannot see (past its maximum length) keeps its score NaN.
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if scores.shape[1] != len(words):
        raise ValueError(f"scores must have one value per word ({len(words)}), got shape {scores.shape}")
    return [[(word, index, float(score)) for index, (word, score) in enumerate(zip(words, row))] for row in scores]
