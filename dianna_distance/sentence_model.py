"""Sentence-embedding ONNX models: a list of texts in, through the model's ``tokenizer.json``, embeddings out.

:class:`SentenceEncoder` runs such a file in one ONNX Runtime session; :class:`TruncationWarning` says that a text
was longer than the model's maximum length. (:mod:`dianna_distance.model` re-exports these names, where they
were defined before.)
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dianna_distance.files import check_input_file
from dianna_distance.layers import EmbeddingCut, OutputCheck
from dianna_distance.runtime import default_providers

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

#: How a sentence model's token embeddings become one vector per text.
POOLINGS = ("mean", "first", "none")

#: The graph inputs a sentence-embedding model may take.
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")

_INTEGER_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}


class TruncationWarning(UserWarning):
    """A text was longer than a model's maximum length and was truncated: the model did not see all of it."""


def load_tokenizer(tokenizer: object) -> Tokenizer:
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


def seen_characters(tokenizer: Tokenizer, text: str) -> int:
    """How many characters of ``text`` a model sees through a truncating :class:`tokenizers.Tokenizer`.

    Args:
        tokenizer: The tokenizer as the model uses it (truncation enabled at the model's maximum length).
        text: The text.

    Returns:
        ``len(text)`` when the text is not truncated; else the end offset of the last token kept (special tokens
        left out): the characters from there on are never seen by the model.
    """
    encoding = tokenizer.encode(text)
    if not encoding.overflowing:
        return len(text)
    ends = [end for (start, end), special in zip(encoding.offsets, encoding.special_tokens_mask)
            if not special and end > start]
    return max(ends, default=0)


class SentenceEncoder:
    """An ONNX sentence-embedding model and its tokenizer as a callable ``list[str] -> (B, D)``.

    One ONNX Runtime session is created and reused for every call. A graph that takes ``attention_mask`` gets
    each batch padded to its longest text. A graph **without** ``attention_mask`` is never padded (padding would
    change its embeddings, and with them every result that depends on how texts are batched): its texts are
    grouped by token length and each group is run on its own, so an embedding never depends on ``batch_size`` or
    on the other texts of a call. A graph with a fixed sequence length is fed exactly that length.

    Texts longer than ``max_length_`` tokens are truncated with a :class:`TruncationWarning`;
    :meth:`seen_characters` tells how much of a text the model sees.

    Args:
        model: Path to the ONNX file. Its inputs are a subset of ``input_ids``, ``attention_mask`` and
            ``token_type_ids``, integer ``(B, L)`` with a free sequence axis.
        tokenizer: Path to the model's ``tokenizer.json``, or a :class:`tokenizers.Tokenizer` (copied, the object
            given is not changed).
        pooling: ``"mean"`` (mean of the token embeddings ``(B, L, D)`` over the attention mask), ``"first"``
            (the first token's embedding) or ``"none"`` (the output is already ``(B, D)``).
        normalize: Divide each embedding by its L2 norm.
        max_length: Truncate token sequences to this length (special tokens included). Default: the
            ``tokenizer.json``'s truncation length when it sets one, else no truncation. A graph that fixes the
            sequence length is fed exactly that length (padded and truncated to it).
        output_name: Graph output to use; default the first.
        batch_size: Texts per model call; default all texts of a call at once.
        providers: ONNX Runtime execution providers; default CUDA when available, else CPU.
        embedding_output: An inner tensor of the graph to use instead of ``output_name`` (see
            :mod:`dianna_distance.layers`): token-level ``(B, L, D)`` is pooled as ``pooling`` says, ``(B, D)``
            needs ``pooling="none"``. For a graph that pads (it takes ``attention_mask``), the first call with two
            or more texts checks, once, that its first two texts run together give what they give one by one (for
            the graph's output too: a graph that mixes the texts of a batch is refused).

    Attributes:
        session_: The ONNX Runtime session.
        tokenizer_: The :class:`tokenizers.Tokenizer`, truncating at ``max_length_`` (padding is done per batch).
        input_names_: The graph inputs fed, in the graph's order.
        output_name_: The graph output used.
        max_length_: Truncation length in tokens, or None.
        pads_: Whether batches are padded (False for a graph without ``attention_mask`` and a free length).

    Raises:
        FileNotFoundError: The model or tokenizer file does not exist.
        ValueError: The model file is not a valid ONNX model (naming the file), or its inputs or outputs do not
            fit a sentence-embedding model.

    Example:
        >>> encoder = SentenceEncoder("model.onnx", "tokenizer.json")  # doctest: +SKIP
        >>> encoder(["a query", "a passage"]).shape  # doctest: +SKIP
        (2, 384)
    """

    def __init__(
        self,
        model: str | Path,
        tokenizer: str | Path | object,
        pooling: str = "mean",
        normalize: bool = True,
        max_length: int | None = None,
        output_name: str | None = None,
        batch_size: int | None = None,
        providers: Sequence[str] | None = None,
        embedding_output: str | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.normalize = normalize
        self.max_length = max_length
        self.output_name = output_name
        self.batch_size = batch_size
        self.providers = providers
        self.embedding_output = embedding_output
        self._validate()

    def _validate(self) -> None:
        import onnxruntime as ort

        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if not isinstance(self.normalize, (bool, np.bool_)):
            raise TypeError(f"normalize must be True or False, got {self.normalize!r}")
        for name in ("max_length", "batch_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, numbers.Integral) or isinstance(value, bool)
                                      or value < 1):
                raise ValueError(f"{name} must be None or a positive int, got {value!r}")
        if not isinstance(self.model, (str, Path)):
            raise TypeError(f"model must be the path of an ONNX file, got {type(self.model).__name__}")
        check_input_file(self.model, "model")
        if self.embedding_output is not None and self.output_name is not None:
            raise ValueError("give output_name or embedding_output, not both")
        cut = None if self.embedding_output is None else EmbeddingCut(self.model, self.embedding_output, "flatten")
        try:
            self.session_ = ort.InferenceSession(str(self.model) if cut is None else cut.model_bytes,
                                                 providers=list(self.providers or default_providers()))
        except Exception as error:  # ONNX Runtime raises several exception types for unreadable files
            raise ValueError(f"model: {str(self.model)!r} is not a valid ONNX model ({error})") from error
        inputs = {i.name: i for i in self.session_.get_inputs()}
        unknown = sorted(set(inputs) - set(INPUT_NAMES))
        if "input_ids" not in inputs or unknown:
            raise ValueError(f"model {str(self.model)!r} must take input_ids and optionally attention_mask and "
                             f"token_type_ids; its inputs are {list(inputs)}")
        self.input_names_ = list(inputs)
        for name, node in inputs.items():
            if node.type not in _INTEGER_TYPES or len(node.shape) != 2:
                raise ValueError(f"model input {name!r} must be an int32 or int64 (batch, sequence) tensor, got "
                                 f"{node.type} {node.shape}")
        self._dtypes = {name: _INTEGER_TYPES[node.type] for name, node in inputs.items()}

        outputs = {o.name: o for o in self.session_.get_outputs()}
        if self.output_name is not None and self.output_name not in outputs:
            raise ValueError(f"output_name {self.output_name!r} is not an output of {str(self.model)!r}; its "
                             f"outputs are {list(outputs)}")
        self.output_name_ = self.embedding_output or self.output_name or next(iter(outputs))
        shape = outputs[self.output_name_].shape if cut is None else cut.tensor.shape
        rank = None if shape is None else len(shape)
        expected_rank = 2 if self.pooling == "none" else 3
        if rank not in (None, expected_rank):
            hint = "pooling='none'" if rank == 2 else "pooling='mean' or 'first'"
            raise ValueError(f"output {self.output_name_!r} of {str(self.model)!r} has rank {rank}, but "
                             f"pooling={self.pooling!r} needs rank {expected_rank}; use {hint}")

        self.tokenizer_ = load_tokenizer(self.tokenizer)
        truncation = self.tokenizer_.truncation
        graph_length = inputs["input_ids"].shape[1]
        self._fixed_length = graph_length if isinstance(graph_length, int) else None
        self.max_length_ = self._fixed_length or self.max_length or (truncation or {}).get("max_length")
        if self._fixed_length is not None and self.max_length not in (None, self._fixed_length):
            raise ValueError(f"max_length={self.max_length} does not fit model {str(self.model)!r}, whose inputs "
                             f"have the fixed length {self._fixed_length}")
        padding = self.tokenizer_.padding or {}
        self._pad_id = padding.get("pad_id", 0)
        self.tokenizer_.no_padding()  # batches are padded here, to their longest text (or the graph's length)
        self.pads_ = "attention_mask" in inputs or self._fixed_length is not None
        self._cut = cut
        self._output_check = OutputCheck(self.model, self.output_name_)
        if self.max_length_ is None:
            self.tokenizer_.no_truncation()
        else:
            self.tokenizer_.enable_truncation(self.max_length_)

    def seen_characters(self, text: str) -> int:
        """How many characters of ``text`` the model sees: ``len(text)``, or fewer when the text is truncated.

        The characters from the returned offset on are past ``max_length_`` tokens and never reach the model.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return seen_characters(self.tokenizer_, text)

    def tokenize(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The graph's inputs for a batch of texts, padded to the longest (or to the graph's fixed length).

        Args:
            texts: B texts.

        Returns:
            ``{input name: (B, L)}`` in the graph's integer dtypes; L is the longest token sequence of the batch.
        """
        arrays = self._arrays(self._encodings(_check_texts(texts)))
        return {name: arrays[name].astype(self._dtypes[name], copy=False) for name in self.input_names_}

    def _encodings(self, texts: list[str]) -> list[Encoding]:
        encodings = self.tokenizer_.encode_batch(texts)
        if any(encoding.overflowing for encoding in encodings):
            warnings.warn(f"some texts are longer than {self.max_length_} tokens and were truncated: the model does "
                          "not see their end", TruncationWarning, stacklevel=4)
        return encodings

    def _arrays(self, encodings: list[Encoding]) -> dict[str, np.ndarray]:
        """Token ids, attention mask and token types ``(B, L)``, padded on the right to the longest encoding."""
        length = self._fixed_length or max((len(e.ids) for e in encodings), default=0)
        arrays = {name: np.zeros((len(encodings), length), dtype=np.int64) for name in INPUT_NAMES}
        arrays["input_ids"][:] = self._pad_id
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            arrays["input_ids"][row, :n] = encoding.ids
            arrays["attention_mask"][row, :n] = encoding.attention_mask
            arrays["token_type_ids"][row, :n] = encoding.type_ids
        return arrays

    def encode(self, texts: str | Sequence[str]) -> np.ndarray:
        """Embed texts.

        Args:
            texts: One text, or a list of B texts.

        Returns:
            ``(D,)`` for one text, ``(B, D)`` float32 for a list.
        """
        batch = _check_texts(texts)
        encodings = self._encodings(batch)
        if self.pads_:  # once: the layer (or the graph's output) does not mix the texts of a batch
            (self._cut or self._output_check).check_items(self._encode_batch, encodings)
        step = self.batch_size or max(len(batch), 1)
        if self.pads_:
            groups = [list(range(len(batch)))]
        else:  # never pad a graph that cannot tell padding from text: run texts of equal token length together
            by_length: dict[int, list[int]] = {}
            for index, encoding in enumerate(encodings):
                by_length.setdefault(len(encoding.ids), []).append(index)
            groups = list(by_length.values())
        embeddings = None
        for group in groups:
            for start in range(0, len(group), step):
                rows = group[start : start + step]
                output = self._encode_batch([encodings[row] for row in rows])
                if embeddings is None:
                    embeddings = np.empty((len(batch), output.shape[1]), dtype=np.float32)
                embeddings[rows] = output
        embeddings = np.zeros((0, 0), dtype=np.float32) if embeddings is None else embeddings
        return embeddings[0] if isinstance(texts, str) else embeddings

    __call__ = encode

    def _encode_batch(self, encodings: list[Encoding]) -> np.ndarray:
        arrays = self._arrays(encodings)
        feed = {name: arrays[name].astype(self._dtypes[name], copy=False) for name in self.input_names_}
        output = np.asarray(self.session_.run([self.output_name_], feed)[0], dtype=np.float32)
        if output.ndim != (2 if self.pooling == "none" else 3) or len(output) != len(encodings):
            raise ValueError(f"output {self.output_name_!r} has shape {output.shape} for {len(encodings)} texts")
        if self.pooling == "mean":
            mask = arrays["attention_mask"][..., None].astype(np.float32)
            output = (output * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        elif self.pooling == "first":
            output = output[:, 0]
        if self.normalize:
            output = output / np.maximum(np.linalg.norm(output, axis=1, keepdims=True), 1e-12)
        return output


def _check_texts(texts: str | Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, np.ndarray):
        texts = texts.tolist()
    if not isinstance(texts, Sequence) or not all(isinstance(text, str) for text in texts):
        raise TypeError("texts must be a str or a list of str")
    return list(texts)
