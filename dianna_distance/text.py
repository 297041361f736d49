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
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TokenizerLike = object  # None, tokenizers.Tokenizer, a tokenizer.json path, or a DIANNA-style tokenizer

_WORD = re.compile(r"\S+")


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
    tokenizer: object | None = None

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
            if mask_token is None and not kept:
                continue
            if started:
                gap = text[offsets[index - 1, 1] : start]
                if mask_token is None and not gap and not keep[index - 1]:
                    gap = " "  # a deleted word sat between two words with no separator: keep them apart
                pieces.append(gap)
            pieces.append(text[start:end] if kept else mask_token)
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


def is_dianna_tokenizer(tokenizer: object) -> bool:
    """Whether an object has DIANNA's tokenizer interface (``tokenize``, ``convert_tokens_to_string``)."""
    return callable(getattr(tokenizer, "tokenize", None)) and callable(
        getattr(tokenizer, "convert_tokens_to_string", None))


def load_tokenizer(tokenizer: object):
    """A copy of a :class:`tokenizers.Tokenizer`, or one read from a ``tokenizer.json`` path.

    Raises:
        TypeError: For any other kind of object.
        FileNotFoundError: For a path that does not exist.
        ValueError: For a file that is not a ``tokenizer.json``.
    """
    from tokenizers import Tokenizer

    if isinstance(tokenizer, Tokenizer):
        return Tokenizer.from_str(tokenizer.to_str())
    if not isinstance(tokenizer, (str, Path)):
        raise TypeError(f"tokenizer must be None, a tokenizers.Tokenizer, a tokenizer.json path or a DIANNA-style "
                        f"tokenizer (tokenize, convert_tokens_to_string, mask_token), got {type(tokenizer).__name__}")
    if not Path(tokenizer).is_file():
        raise FileNotFoundError(f"tokenizer: file {str(tokenizer)!r} does not exist")
    try:
        return Tokenizer.from_file(str(tokenizer))
    except Exception as error:  # tokenizers raises a bare Exception for unreadable files
        raise ValueError(f"tokenizer: {str(tokenizer)!r} is not a tokenizer.json file ({error})") from error


def _tokenizer_word_offsets(text: str, tokenizer) -> list[tuple[int, int]]:
    """``[start, end)`` of each word of a tokenizers.Tokenizer's pre-tokenizer, from its tokens' word ids."""
    tokenizer.no_truncation()
    tokenizer.no_padding()
    encoding = tokenizer.encode(text, add_special_tokens=False)
    spans: dict[int, list[int]] = {}
    for word_id, (start, end) in zip(encoding.word_ids, encoding.offsets):
        if word_id is None or end <= start:
            continue
        span = spans.setdefault(word_id, [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)
    offsets = sorted((start, end) for start, end in spans.values())
    if not offsets:
        raise ValueError(f"text has no words the tokenizer recognises: {text!r}")
    return offsets


def _dianna_words(text: str, tokenizer) -> Words:
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
