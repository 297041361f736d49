"""CLIP text encoder: captions to reference embeddings through a text-tower ONNX file and its ``tokenizer.json``.

Tokenisation is done by the `tokenizers <https://huggingface.co/docs/tokenizers>`_ library from the
``tokenizer.json`` that comes with the model; captions are padded and truncated to the model's context length
(CLIP's 77 tokens): a longer caption is truncated with a :class:`~dianna_distance.sentence_model.TruncationWarning`, and
:meth:`TextEncoder.seen_characters` tells how much of a text the model sees.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dianna_distance.files import check_input_file
from dianna_distance.runtime import ORT_TYPES, default_providers
from dianna_distance.sentence_model import TruncationWarning, seen_characters

#: CLIP's context length, used when neither the graph nor the caller fixes one.
CLIP_CONTEXT_LENGTH = 77


class TextEncoder:
    """A text-tower ONNX file plus its tokenizer: ``encode(captions) -> (K, D)``.

    Args:
        model: Path to the ONNX file. It takes ``input_ids`` ``(N, L)`` (int32 or int64) and, when the graph has
            that input, ``attention_mask`` ``(N, L)``.
        tokenizer: Path to the ``tokenizer.json`` of the model.
        context_length: Token sequence length L. Default: the graph's when it fixes one, else 77 (CLIP's).
        pad_token: Token used for padding. Default: the tokenizer's padding token when its file sets one, else
            ``"<|endoftext|>"`` (CLIP's) when the vocabulary has it.
        output_name: Graph output to return; default ``"text_embeds"`` when the graph has it, else the first.
        providers: ONNX Runtime execution providers.

    Attributes:
        session_: The ONNX Runtime session.
        tokenizer_: The :class:`tokenizers.Tokenizer`, set to pad and truncate to ``context_length_``.
        context_length_: L.
        max_length_: L, the number of tokens the model sees (special tokens included); the same as
            ``context_length_``, under the name :class:`~dianna_distance.sentence_model.SentenceEncoder` uses.
        output_name_: The graph output returned.
        input_names_: Graph inputs fed: ``input_ids`` and, if present, ``attention_mask``.
    """

    def __init__(
        self,
        model: str | Path,
        tokenizer: str | Path,
        context_length: int | None = None,
        pad_token: str | None = None,
        output_name: str | None = None,
        providers: Sequence[str] | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.context_length = context_length
        self.pad_token = pad_token
        self.output_name = output_name
        self.providers = providers
        self._validate()

    def _validate(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        for name in ("model", "tokenizer"):
            check_input_file(getattr(self, name), name)
        try:
            self.session_ = ort.InferenceSession(str(self.model),
                                                 providers=list(self.providers or default_providers()))
        except Exception as error:  # ONNX Runtime raises several exception types for unreadable files
            raise ValueError(f"model: {str(self.model)!r} is not a valid ONNX model ({error})") from error
        inputs = {i.name: i for i in self.session_.get_inputs()}
        if "input_ids" not in inputs:
            raise ValueError(f"model {str(self.model)!r} has no 'input_ids' input; its inputs are {list(inputs)}")
        self.input_names_ = [name for name in ("input_ids", "attention_mask") if name in inputs]
        unknown = set(inputs) - set(self.input_names_)
        if unknown:
            raise ValueError(f"model {str(self.model)!r} has inputs {sorted(unknown)} besides input_ids and "
                             "attention_mask; a CLIP text tower takes only those")
        for name in self.input_names_:
            if inputs[name].type not in ("tensor(int32)", "tensor(int64)"):
                raise TypeError(f"model {str(self.model)!r}: input {name!r} has type {inputs[name].type}; a CLIP "
                                "text tower takes int32 or int64 token ids")
        self._dtypes = {name: ORT_TYPES[inputs[name].type] for name in self.input_names_}
        outputs = [o.name for o in self.session_.get_outputs()]
        if self.output_name is not None and self.output_name not in outputs:
            raise ValueError(f"output_name {self.output_name!r} is not an output of {str(self.model)!r}; its "
                             f"outputs are {outputs}")
        self.output_name_ = self.output_name or ("text_embeds" if "text_embeds" in outputs else outputs[0])

        graph_length = inputs["input_ids"].shape[1] if len(inputs["input_ids"].shape) == 2 else None
        graph_length = graph_length if isinstance(graph_length, int) else None
        if self.context_length is not None:
            if not isinstance(self.context_length, int) or isinstance(self.context_length, bool) \
                    or self.context_length < 2:
                raise ValueError(f"context_length must be an int of at least 2, got {self.context_length!r}")
            if graph_length is not None and graph_length != self.context_length:
                raise ValueError(f"context_length={self.context_length} does not fit model {str(self.model)!r}, "
                                 f"whose input_ids have length {graph_length}")
        self.context_length_ = self.context_length or graph_length or CLIP_CONTEXT_LENGTH

        try:
            self.tokenizer_ = Tokenizer.from_file(str(self.tokenizer))
        except Exception as error:  # tokenizers raises a bare Exception for unreadable files
            raise ValueError(f"tokenizer: {str(self.tokenizer)!r} is not a tokenizer.json file ({error})") from error
        pad_token = self.pad_token or (self.tokenizer_.padding or {}).get("pad_token") or "<|endoftext|>"
        pad_id = self.tokenizer_.token_to_id(pad_token)
        if pad_id is None:
            raise ValueError(f"pad_token {pad_token!r} is not in the vocabulary of {str(self.tokenizer)!r}; pass "
                             "pad_token")
        self.tokenizer_.enable_truncation(self.context_length_)
        self.tokenizer_.enable_padding(length=self.context_length_, pad_id=pad_id, pad_token=pad_token)
        self.max_length_ = self.context_length_

    def seen_characters(self, text: str) -> int:
        """How many characters of ``text`` the model sees: ``len(text)``, or fewer past ``context_length_`` tokens.

        The characters from the returned offset on are truncated away and never reach the model.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return seen_characters(self.tokenizer_, text)

    def tokenize(self, captions: str | Sequence[str]) -> dict[str, np.ndarray]:
        """Tokenise captions into the graph's inputs, padded and truncated to the context length.

        Args:
            captions: One caption or a non-empty list of K captions.

        Returns:
            ``{"input_ids": (K, L)}`` plus ``"attention_mask": (K, L)`` when the graph takes it, in the graph's
            dtypes. A caption longer than L tokens is truncated, with a warning.
        """
        captions = _check_captions(captions)
        encodings = self.tokenizer_.encode_batch(captions)
        for caption, encoding in zip(captions, encodings, strict=True):
            if encoding.overflowing:
                warnings.warn(f"caption {caption!r} is longer than {self.context_length_} tokens; truncated",
                              TruncationWarning, stacklevel=2)
        arrays = {"input_ids": [e.ids for e in encodings], "attention_mask": [e.attention_mask for e in encodings]}
        return {name: np.asarray(arrays[name], dtype=self._dtypes[name]) for name in self.input_names_}

    def encode(self, captions: str | Sequence[str]) -> np.ndarray:
        """Embed captions: ``(D,)`` for one caption, ``(K, D)`` for a list, to explain an image against all K.

        Args:
            captions: One caption or a non-empty list of captions.

        Returns:
            ``(D,)`` or ``(K, D)`` float32.
        """
        embeddings = self.session_.run([self.output_name_], self.tokenize(captions))[0]
        embeddings = embeddings.reshape(len(embeddings), -1)
        return embeddings[0] if isinstance(captions, str) else embeddings

    __call__ = encode


def _check_captions(captions: str | Sequence[str]) -> list[str]:
    if isinstance(captions, str):
        return [captions]
    if not isinstance(captions, Sequence) or not all(isinstance(c, str) for c in captions):
        raise TypeError("captions must be a str or a list of str")
    if not captions:
        raise ValueError("captions must contain at least one caption")
    return list(captions)
