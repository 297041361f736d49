"""Running models: ONNX files through one ONNX Runtime session, or plain callables.

Images (and series, table rows) go through :class:`OnnxModel` (a batch of arrays in, embeddings out); texts
through :class:`~dianna_distance.sentence_model.SentenceEncoder`, in :mod:`dianna_distance.sentence_model` (its
names are re-exported here, where they were defined before).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dianna_distance.checks import warn
from dianna_distance.files import check_input_file
from dianna_distance.layers import EmbeddingCut, OutputCheck
from dianna_distance.runtime import ORT_TYPES, default_providers
from dianna_distance.sentence_model import (  # noqa: F401 (re-exported: the sentence encoder was defined here)
    INPUT_NAMES,
    POOLINGS,
    SentenceEncoder,
    TruncationWarning,
    load_tokenizer,
    seen_characters,
)

ModelLike = str | Path | Callable[[np.ndarray], np.ndarray]

#: Key of the ONNX ``metadata_props`` entry in which files exported by this package state their preprocessing: a
#: JSON object with ``preset``, ``normalization``, ``mean``, ``std``, ``scale``, ``channel_order`` (the input is
#: ``(pixels[channel_order] * scale - mean) / std`` per channel), ``resize``, ``crop``, ``resample``, ``output``,
#: ``mask_on`` and ``layout``.
PREPROCESSING_KEY = "dianna_distance.preprocessing"
_PREPROCESSING_FIELDS = ("preset", "normalization", "mean", "std", "scale", "channel_order", "resize", "crop",
                         "resample", "output", "mask_on", "layout")


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
