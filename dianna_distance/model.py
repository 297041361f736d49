"""Running models: ONNX files through one ONNX Runtime session, or plain callables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dianna_distance.files import check_input_file

ModelLike = str | Path | Callable[[np.ndarray], np.ndarray]

_ORT_TYPES = {
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
    input declares; a graph whose batch axis is fixed (for example to 1) is fed in chunks of that size. With the
    CUDA provider, inputs and outputs are bound with I/O binding.

    Args:
        path: Path to the ``.onnx`` file.
        providers: ONNX Runtime execution providers, in order of preference. Default: :func:`default_providers`.
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
        self.providers = list(providers) if providers is not None else default_providers()
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
        if model_input.type not in _ORT_TYPES:
            raise TypeError(f"model: input {self.input_name!r} of {str(self.path)!r} has unsupported type "
                            f"{model_input.type}")
        self.input_dtype = np.dtype(_ORT_TYPES[model_input.type])
        self.output_name = self.session.get_outputs()[0].name
        batch_axis = self.input_shape[0] if self.input_shape else None
        self.fixed_batch_size = batch_axis if isinstance(batch_axis, int) and batch_axis > 0 else None
        if io_binding is None:
            io_binding = self.session.get_providers()[0] == "CUDAExecutionProvider"
        self.io_binding = io_binding

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run the model on a batch.

        Args:
            batch: Array ``(N, ...)`` laid out as the graph's input.

        Returns:
            The first output, ``(N, ...)``.
        """
        batch = np.ascontiguousarray(batch, dtype=self.input_dtype)
        step = self.fixed_batch_size
        if step is None or len(batch) == step:
            return self._run(batch)
        if len(batch) % step:
            raise ValueError(f"model: {str(self.path)!r} takes batches of exactly {step}; "
                             f"got {len(batch)} items, which is not a multiple of {step}")
        return np.concatenate([self._run(batch[i : i + step]) for i in range(0, len(batch), step)])

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if not self.io_binding:
            return self.session.run([self.output_name], {self.input_name: batch})[0]
        binding = self.session.io_binding()
        binding.bind_cpu_input(self.input_name, batch)
        binding.bind_output(self.output_name)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]


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
