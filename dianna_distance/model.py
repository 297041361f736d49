"""Running models: ONNX files through one ONNX Runtime session, or plain callables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dianna_distance.checks import warn
from dianna_distance.files import check_input_file

ModelLike = str | Path | Callable[[np.ndarray], np.ndarray]

ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
}


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

    Args:
        path: Path to the ``.onnx`` file.
        providers: ONNX Runtime execution providers, in order of preference (a single name may be given as a
            string). Default: :func:`default_providers`.
        io_binding: Bind inputs and outputs with ONNX Runtime's I/O binding. Default: only when the session's
            first provider is CUDA.

    Attributes:
        session: The :class:`onnxruntime.InferenceSession`.
        input_name: Name of the graph input that receives the images.
        input_shape: Declared input shape; strings or None for symbolic axes.
        input_dtype: NumPy dtype of that input.
        output_name: Name of the first graph output, which is returned.
        fixed_batch_size: The batch axis length when the graph fixes it, else None.
    """

    def __init__(
        self, path: str | Path, providers: Sequence[str] | None = None, io_binding: bool | None = None
    ) -> None:
        import onnxruntime as ort

        self.path = check_input_file(path, "model")
        self.providers = _check_providers(providers)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=options, providers=self.providers)
        except Exception as error:  # ONNX Runtime raises several exception types for unreadable files
            raise ValueError(f"model: {str(self.path)!r} is not a valid ONNX model ({error})") from error
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.input_shape = tuple(model_input.shape)
        if model_input.type not in ORT_TYPES:
            raise TypeError(f"model: input {self.input_name!r} of {str(self.path)!r} has unsupported type "
                            f"{model_input.type}")
        self.input_dtype = np.dtype(ORT_TYPES[model_input.type])
        self.output_name = self.session.get_outputs()[0].name
        batch_axis = self.input_shape[0] if self.input_shape else None
        self.fixed_batch_size = batch_axis if isinstance(batch_axis, int) and batch_axis > 0 else None
        if io_binding is None:
            io_binding = self.session.get_providers()[0] == "CUDAExecutionProvider"
        self.io_binding = io_binding
        self._warned_rounding = False

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run the model on a batch.

        Args:
            batch: Array ``(N, ...)`` laid out as the graph's input.

        Returns:
            The first output, ``(N, ...)``.
        """
        batch = self._cast(np.asarray(batch))
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
                             f"(largest {np.finfo(self.input_dtype).max:g}): scale the image down")
        return cast

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if not self.io_binding:
            return self.session.run([self.output_name], {self.input_name: batch})[0]
        binding = self.session.io_binding()
        binding.bind_cpu_input(self.input_name, batch)
        binding.bind_output(self.output_name)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]


def _check_providers(providers: object) -> list[str]:
    if providers is None:
        return default_providers()
    if isinstance(providers, str):
        return [providers]
    if not isinstance(providers, Sequence) or not all(isinstance(name, str) for name in providers) or not providers:
        raise TypeError(f"providers must be an ONNX Runtime provider name or a non-empty sequence of names, got "
                        f"{providers!r}")
    return list(providers)


def load_model(model_or_function: ModelLike, providers: Sequence[str] | None = None) -> Callable:
    """Turn an ONNX path or a callable into a callable model.

    Args:
        model_or_function: Path to an ONNX file (``str`` or :class:`pathlib.Path`) or a callable mapping a batch
            ``(N, ...)`` to embeddings ``(N, D)``.
        providers: ONNX Runtime execution providers for an ONNX file (ignored for callables).

    Returns:
        A callable ``(N, ...) -> (N, D)``.
    """
    if isinstance(model_or_function, (str, Path)):
        return OnnxModel(model_or_function, providers=providers)
    if callable(model_or_function):
        return model_or_function
    raise TypeError("model_or_function must be a path to an ONNX file (str or pathlib.Path) or a callable, "
                    f"got {type(model_or_function).__name__}")
