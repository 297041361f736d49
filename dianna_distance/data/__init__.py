"""Small files shipped with the package: the wine classifier of the tables example.

``WINE_MODEL``: a 13 -> 16 -> 8 -> 3 network trained on scikit-learn's wine data by
``benchmarks/train_tabular_model.py``; its first ONNX output ``embedding`` is the 8-unit hidden layer, its second
``probabilities`` the three cultivars' probabilities. It takes raw measurements ``(B, 13)`` float32 in the order of
``sklearn.datasets.load_wine().feature_names``.
"""

from pathlib import Path

WINE_MODEL = Path(__file__).resolve().parent / "wine_mlp.onnx"

__all__ = ["WINE_MODEL"]
