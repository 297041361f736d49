"""Running models: ONNX files through one ONNX Runtime session, or plain callables.

Images go through :class:`OnnxModel` (a batch of arrays in, embeddings out); texts through
:class:`SentenceEncoder` (a list of strings in, through the model's ``tokenizer.json``, embeddings out).
"""

from __future__ import annotations

import json
import numbers
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dianna_distance.checks import warn
from dianna_distance.files import check_input_file
from dianna_distance.layers import EmbeddingCut, OutputCheck

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

ModelLike = str | Path | Callable[[np.ndarray], np.ndarray]

ORT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
             "tensor(uint8)": np.uint8, "tensor(int8)": np.int8, "tensor(int32)": np.int32, "tensor(int64)": np.int64}


#: Key of the ONNX ``metadata_props`` entry in which files exported by this package state their preprocessing: a
#: JSON object with ``preset``, ``normalization``, ``mean``, ``std``, ``scale``, ``channel_order`` (the input is
#: ``(pixels[channel_order] * scale - mean) / std`` per channel), ``resize``, ``crop``, ``resample``, ``output``,
#: ``mask_on`` and ``layout``.
PREPROCESSING_KEY = "dianna_distance.preprocessing"
_PREPROCESSING_FIELDS = ("preset", "normalization", "mean", "std", "scale", "channel_order", "resize", "crop",
                         "resample", "output", "mask_on", "layout")


def default_providers() -> list[str]:
    """Execution providers used when none are given: CUDA when ONNX Runtime offers it, else CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    preferred = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    return preferred or available


class OnnxModel:
    """An ONNX file wrapped as a callable ``(N, ...) -> (N, D)`` with a single ONNX Runtime session.

    The session is created once and reused for every batch. Inputs are cast to the dtype the graph's first
    input declares. A cast to an integer input type never wraps or truncates silently: values outside the
    type's range are an error, and non-integer values are rounded to the nearest integer with a warning (once
    per model). A graph whose batch axis is fixed (for example to 1 or 3) is fed in chunks of that size; a last
    chunk that falls short is padded with copies of its last item, whose outputs are dropped. With the CUDA
    provider, inputs and outputs are bound with I/O binding.

    A file exported by this package states its preprocessing in its metadata (:data:`PREPROCESSING_KEY`). Such
    a model takes RGB pixels in [0, 1], laid out as the graph's input (with ``mask_on="pixels"``, the default of
    the exports), normalises them as the file says and, for ``output="probabilities"``, applies a softmax to
    outputs that are not probabilities already: so masking happens on pixels, as with the file's preset.
    :func:`dianna_distance.models.image.load_image_for_model` resizes and crops images as the file says.

    Args:
        path: Path to the ``.onnx`` file.
        providers: ONNX Runtime execution providers, in order of preference (a single name may be given as a
            string). Default: :func:`default_providers`.
        io_binding: Bind inputs and outputs with ONNX Runtime's I/O binding. Default: only when the session's
            first provider is CUDA.
        apply_preprocessing: Apply the preprocessing the file states (see above). False feeds batches to the
            graph as they are (:class:`~dianna_distance.models.ImageEncoder` preprocesses itself).
        embedding_output: Name of an inner tensor of the graph to return instead of the first output (see
            :mod:`dianna_distance.layers`); no softmax is applied to it. The first batch of two or more items is
            checked once, for the graph's output too: its first two items run together must give what they give
            one by one (a graph that mixes items, e.g. BatchNorm in training mode, is refused).
        embedding_pooling: How ``embedding_output`` becomes one vector per item: ``"auto"`` (spatial tensors
            averaged over their spatial axes, others flattened), ``"flatten"``, ``"mean"`` or ``"max"``.

    Attributes:
        session: The :class:`onnxruntime.InferenceSession`.
        input_name: Name of the graph input that receives the images.
        input_shape: Declared input shape; strings or None for symbolic axes.
        input_dtype: NumPy dtype of that input.
        output_name: Name of the graph output returned (``embedding_output`` when given).
        embedding_: The :class:`~dianna_distance.layers.EmbeddingCut` of ``embedding_output``, or None.
        fixed_batch_size: The batch axis length when the graph fixes it, else None.
        metadata: The file's ``metadata_props`` as a dict.
        preprocessing: The preprocessing the file states (the JSON object of :data:`PREPROCESSING_KEY`), or None.
        applies_preprocessing: Whether calls normalise their input as ``preprocessing`` says.
    """

    def __init__(
        self, path: str | Path, providers: Sequence[str] | None = None, io_binding: bool | None = None,
        apply_preprocessing: bool = True, embedding_output: str | None = None, embedding_pooling: str = "auto",
    ) -> None:
        import onnxruntime as ort

        self.path = check_input_file(path, "model")
        self.providers = _check_providers(providers)
        self.embedding_ = None if embedding_output is None else EmbeddingCut(self.path, embedding_output,
                                                                              embedding_pooling)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            graph = str(self.path) if self.embedding_ is None else self.embedding_.model_bytes
            self.session = ort.InferenceSession(graph, sess_options=options, providers=self.providers)
        except Exception as error:  # ONNX Runtime raises several exception types for unreadable files
            raise ValueError(f"model: {str(self.path)!r} is not a valid ONNX model ({error})") from error
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.input_shape = tuple(model_input.shape)
        if model_input.type not in ORT_TYPES:
            raise TypeError(f"model: input {self.input_name!r} of {str(self.path)!r} has unsupported type "
                            f"{model_input.type}")
        self.input_dtype: np.dtype = np.dtype(ORT_TYPES[model_input.type])
        self.output_name = self.session.get_outputs()[0].name
        self.output_check_ = OutputCheck(self.path, self.output_name)
        batch_axis = self.input_shape[0] if self.input_shape else None
        self.fixed_batch_size = batch_axis if isinstance(batch_axis, int) and batch_axis > 0 else None
        if io_binding is None:
            io_binding = self.session.get_providers()[0] == "CUDAExecutionProvider"
        self.io_binding = io_binding
        self._warned_rounding = False
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.preprocessing = _read_preprocessing(self.metadata, self.path)
        if not isinstance(apply_preprocessing, (bool, np.bool_)):
            raise TypeError(f"apply_preprocessing must be True or False, got {apply_preprocessing!r}")
        self.applies_preprocessing = bool(apply_preprocessing) and self.preprocessing is not None

    def normalize(self, batch: np.ndarray) -> np.ndarray:
        """Normalise RGB pixels in [0, 1], laid out as the graph's input, as the file's metadata says.

        Args:
            batch: ``(N, 3, H, W)`` or ``(N, H, W, 3)``, as the graph takes it.

        Returns:
            Float32 ``(pixels[channel_order] * scale - mean) / std`` along the channels axis.
        """
        if self.preprocessing is None:
            raise ValueError(f"model: {str(self.path)!r} states no preprocessing in its metadata")
        spec = self.preprocessing
        axis = 1 if spec["layout"] == "NCHW" else -1
        batch = np.asarray(batch, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[axis] != 3:
            raise ValueError(f"model: {str(self.path)!r} takes RGB pixels laid out {spec['layout']}; got a batch "
                             f"of shape {batch.shape}")
        shape = (1, 3, 1, 1) if axis == 1 else (1, 1, 1, 3)
        if spec["channel_order"] == "BGR":
            batch = np.flip(batch, axis=axis)
        mean = np.float32(spec["mean"]).reshape(shape)
        std = np.float32(spec["std"]).reshape(shape)
        return ((batch * np.float32(spec["scale"]) - mean) / std).astype(np.float32)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run the model on a batch.

        Args:
            batch: Array ``(N, ...)`` laid out as the graph's input.

        Returns:
            The first output, ``(N, ...)``.
        """
        batch = np.asarray(batch)
        spec = self.preprocessing if self.applies_preprocessing else None  # None: the batch is fed as it is
        if spec is not None and spec["mask_on"] == "pixels":
            batch = self.normalize(batch)
        batch = self._cast(batch)
        (self.embedding_ or self.output_check_).check_items(self._forward, batch)  # once: items are not mixed
        output = self._forward(batch)
        if self.embedding_ is None and spec is not None and spec["output"] == "probabilities":
            output = output.reshape(len(output), -1)
            if not is_probabilities(output):
                output = softmax(output)
        return output

    def _cast(self, batch: np.ndarray) -> np.ndarray:
        """The batch in the graph's input dtype; integer inputs are never wrapped or truncated silently."""
        if np.issubdtype(batch.dtype, np.complexfloating):
            raise TypeError(f"model: input to {str(self.path)!r} must hold real numbers, got {batch.dtype}")
        if np.issubdtype(self.input_dtype, np.integer) and not np.issubdtype(batch.dtype, np.integer):
            info = np.iinfo(self.input_dtype)
            if not np.all(np.isfinite(batch)) or batch.min() < info.min or batch.max() > info.max:
                raise ValueError(f"model: {str(self.path)!r} takes {self.input_dtype} input, but the (masked) input "
                                 f"holds values outside [{info.min}, {info.max}]: scale the image to that range")
            rounded = np.rint(batch)
            if not self._warned_rounding and np.any(rounded != batch):
                warn(f"model: {str(self.path)!r} takes {self.input_dtype} input; masked images hold fractional "
                     "values, which are rounded to the nearest integer", stacklevel=4)
                self._warned_rounding = True
            batch = rounded
        elif np.issubdtype(self.input_dtype, np.integer) and not np.can_cast(batch.dtype, self.input_dtype):
            info = np.iinfo(self.input_dtype)
            if batch.size and (batch.min() < info.min or batch.max() > info.max):
                raise ValueError(f"model: {str(self.path)!r} takes {self.input_dtype} input, but the input holds "
                                 f"values outside [{info.min}, {info.max}]")
        with np.errstate(over="ignore"):  # overflow is reported below, naming the model
            cast = np.ascontiguousarray(batch, dtype=self.input_dtype)
        if np.issubdtype(self.input_dtype, np.floating) and not np.all(np.isfinite(cast)):
            raise ValueError(f"model: the input overflows {str(self.path)!r}'s input type {self.input_dtype} "
                             f"(largest {np.finfo(self.input_dtype).max:g}) at index "
                             f"{tuple(np.argwhere(~np.isfinite(cast))[0].tolist())} of the batch: scale the input down")
        return cast

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        step = self.fixed_batch_size
        if step is None or len(batch) == step:
            return self._run(batch)
        outputs = []
        for start in range(0, len(batch), step):
            chunk = batch[start : start + step]
            if len(chunk) < step:  # pad with copies of the last item; their outputs are dropped
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], step - len(chunk), axis=0)])
            outputs.append(self._run(chunk)[: len(batch) - start])
        return np.concatenate(outputs)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if not self.io_binding:
            output = self.session.run([self.output_name], {self.input_name: batch})[0]
        else:
            binding = self.session.io_binding()
            binding.bind_cpu_input(self.input_name, batch)
            binding.bind_output(self.output_name)
            self.session.run_with_iobinding(binding)
            output = binding.copy_outputs_to_cpu()[0]
        return output if self.embedding_ is None else self.embedding_.pool(output, len(batch))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, ``(N, D) -> (N, D)``, computed stably."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def is_probabilities(output: np.ndarray) -> bool:
    """Whether every row of ``(N, D)`` is non-negative and sums to 1 (to float32 precision): already a softmax."""
    output = np.asarray(output, dtype=np.float64)
    return bool(output.size) and bool(np.all(output >= 0)) and bool(
        np.allclose(output.sum(axis=-1), 1.0, rtol=0, atol=1e-4 + 1e-6 * output.shape[-1]))


def _read_preprocessing(metadata: dict[str, str], path: Path) -> dict[str, Any] | None:
    """The preprocessing a file states in :data:`PREPROCESSING_KEY`, checked; None when it states none."""
    if PREPROCESSING_KEY not in metadata:
        return None
    damaged = f"model: {str(path)!r} has a damaged {PREPROCESSING_KEY!r} metadata entry"
    try:
        spec = json.loads(metadata[PREPROCESSING_KEY])
    except ValueError as error:
        raise ValueError(f"{damaged} (not JSON: {error})") from error
    if not isinstance(spec, dict) or set(_PREPROCESSING_FIELDS) - set(spec):
        raise ValueError(f"{damaged}: it must be a JSON object with the fields {list(_PREPROCESSING_FIELDS)}")
    numbers_ok = all(isinstance(spec[name], list) and len(spec[name]) == 3
                     and all(isinstance(v, (int, float)) and np.isfinite(v) for v in spec[name])
                     for name in ("mean", "std"))
    if (not numbers_ok or not all(v != 0 for v in spec["std"]) or not isinstance(spec["scale"], (int, float))
            or spec["channel_order"] not in ("RGB", "BGR") or spec["layout"] not in ("NCHW", "NHWC")
            or spec["mask_on"] not in ("pixels", "normalized") or spec["output"] not in ("embedding", "probabilities")):
        raise ValueError(f"{damaged}: {metadata[PREPROCESSING_KEY]}")
    return spec


def _check_providers(providers: object) -> list[str]:
    if providers is None:
        return default_providers()
    if isinstance(providers, str):
        return [providers]
    if not isinstance(providers, Sequence) or not all(isinstance(name, str) for name in providers) or not providers:
        raise TypeError(f"providers must be an ONNX Runtime provider name or a non-empty sequence of names, got "
                        f"{providers!r}")
    return list(providers)


def load_model(model_or_function: ModelLike, providers: Sequence[str] | None = None,
               embedding_output: str | None = None, embedding_pooling: str = "auto") -> Callable:
    """Turn an ONNX path or a callable into a callable model.

    Args:
        model_or_function: Path to an ONNX file (``str`` or :class:`pathlib.Path`) or a callable mapping a batch
            ``(N, ...)`` to embeddings ``(N, D)``.
        providers: ONNX Runtime execution providers for an ONNX file (ignored for callables).
        embedding_output: Inner tensor of the ONNX graph to use as the embedding (see :class:`OnnxModel`);
            refused for a callable other than an :class:`OnnxModel` already cut there.
        embedding_pooling: See :class:`OnnxModel`.

    Returns:
        A callable ``(N, ...) -> (N, D)``.
    """
    if isinstance(model_or_function, (str, Path)):
        return OnnxModel(model_or_function, providers=providers, embedding_output=embedding_output,
                         embedding_pooling=embedding_pooling)
    cut = getattr(model_or_function, "embedding_", None) if isinstance(model_or_function, OnnxModel) else None
    if embedding_output is not None and (cut is None or (cut.name, cut.pooling) != (embedding_output,
                                                                                     embedding_pooling)):
        raise TypeError(f"embedding_output={embedding_output!r} needs an ONNX file as the model, got a "
                        f"{type(model_or_function).__name__}")
    if callable(model_or_function):
        return model_or_function
    raise TypeError("model_or_function must be a path to an ONNX file (str or pathlib.Path) or a callable, "
                    f"got {type(model_or_function).__name__}")

# -- texts: sentence-embedding ONNX models ---------------------------------------------------------------------

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
            needs ``pooling="none"``. The first call with two or more texts checks, once, that its first two
            texts run together give what they give one by one.

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
        if self._cut is not None and self.pads_:  # once: the layer does not mix the texts of a batch
            self._cut.check_items(self._encode_batch, encodings)
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
