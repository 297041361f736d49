"""Small files shipped with the package: the examples of the dashboard's pages.

``WINE_MODEL``: a 13 -> 16 -> 8 -> 3 network trained on scikit-learn's wine data by
``benchmarks/train_tabular_model.py``; its first ONNX output ``embedding`` is the 8-unit hidden layer, its second
``probabilities`` the three cultivars' probabilities. It takes raw measurements ``(B, 13)`` float32 in the order of
``sklearn.datasets.load_wine().feature_names``.

``SEASON_MODEL``: DIANNA's weather-season model cut at its pooled layer, ``(N, 28, 1) -> (N, 4)``, a copy of the
repository's ``examples/season_embedding.onnx`` (written by ``examples/season_embedding.py``).

:data:`EXAMPLE_IMAGES`: five of the paper's photographs (copies of the repository's ``data/images/``, from
`dianna-ai/explainable_embedding <https://github.com/dianna-ai/explainable_embedding>`_, Apache License 2.0; the
credit is in ``NOTICE``), read with :func:`example_image`.

Every file is read through :mod:`importlib.resources`, from inside the installed package, never from a checkout.
"""

from importlib import resources
from pathlib import Path

_FILES = resources.files(__name__)

WINE_MODEL = Path(str(_FILES / "wine_mlp.onnx"))
SEASON_MODEL = Path(str(_FILES / "season_embedding.onnx"))

#: The example photographs shipped with the package.
EXAMPLE_IMAGES = ("bee.jpg", "fly.jpg", "labradoodle1.jpg", "labradoodle2.jpg", "car2.png")


def example_image(name: str) -> Path:
    """The path of an example photograph shipped with the package.

    Args:
        name: One of :data:`EXAMPLE_IMAGES`.

    Raises:
        ValueError: ``name`` is not one of them.
        FileNotFoundError: The installed package lacks the file (a broken install).
    """
    if name not in EXAMPLE_IMAGES:
        raise ValueError(f"name must be one of {EXAMPLE_IMAGES}, got {name!r}")
    path = Path(str(_FILES / "images" / name))
    if not path.is_file():
        raise FileNotFoundError(f"the example image {name} is missing from the installed package at {path}: "
                            f"reinstall dianna-distance")
    return path


__all__ = ["EXAMPLE_IMAGES", "SEASON_MODEL", "WINE_MODEL", "example_image"]
