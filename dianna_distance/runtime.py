"""What every ONNX Runtime session of the package shares: the element types of tensors, the default providers."""

from __future__ import annotations

import numpy as np

#: NumPy dtype of each ONNX tensor element type a model's inputs may have.
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
