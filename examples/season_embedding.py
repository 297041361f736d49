"""The real time-series example: DIANNA's weather-season model, cut at its pooled layer, on El Niño sea temperatures.

DIANNA ships ``season_prediction_model_temp_max_binary.onnx``, a tf2onnx graph that classifies 28 days of daily
maximum temperature ``(N, 28, 1)`` into two seasons. Its inner layer ``global_max_pooling1d`` (4 values: the
largest response of each of the last convolution's 4 filters over the 28 steps) is a natural embedding. This script
cuts the graph there with :class:`onnx.utils.Extractor` and writes ``examples/season_embedding.onnx`` (6 KB,
committed beside it), so that the example runs with any version of this package. (Where ``load_model`` offers
``embedding_output=``, passing :data:`POOLED` with the original file gives the same embedding.)

The series are real: statsmodels' ``elnino`` data set (monthly mean sea-surface temperature of the Niño 1+2 region
in °C, 1950-2010, shipped as a CSV inside the statsmodels wheel, no download). Windows of 28 consecutive months are
fed to the model as it takes 28 days: the question is what this model's pooled layer sees in them.

Run ``python examples/season_embedding.py`` to rewrite the ``.onnx`` file and print the example's numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: The pooled tensor of the season model (its ``global_max_pooling1d`` layer, squeezed to ``(N, 4)``).
POOLED = "model_2/global_max_pooling1d_2/Max_Squeeze__59:0"
INPUT = "input_3:0"
WINDOW = 28  # time steps the model takes
EMBEDDING_FILE = Path(__file__).with_name("season_embedding.onnx")


def season_model_path() -> Path:
    """DIANNA's season classifier ``(N, 28, 1) -> (N, 2)``, as installed with DIANNA."""
    import dianna

    return Path(dianna.__file__).parent / "models" / "season_prediction_model_temp_max_binary.onnx"


def cut_at_pooled_layer(source: Path | None = None, target: Path = EMBEDDING_FILE) -> Path:
    """Write the season model cut at :data:`POOLED`: ``(N, 28, 1) -> (N, 4)``."""
    import onnx
    from onnx.utils import Extractor

    model = onnx.shape_inference.infer_shapes(onnx.load(str(source or season_model_path())))
    onnx.save(Extractor(model).extract_model([INPUT], [POOLED]), str(target))
    return target


def elnino_months() -> tuple[np.ndarray, list[str]]:
    """The El Niño sea-surface temperatures month by month (732 values, °C) and their ``"YYYY-MM"`` labels."""
    from statsmodels.datasets import elnino

    table = elnino.load_pandas().data
    temperatures = table.iloc[:, 1:].to_numpy(dtype=float).ravel()
    labels = [f"{int(year)}-{month:02d}" for year in table["YEAR"] for month in range(1, 13)]
    return temperatures, labels


def window(temperatures: np.ndarray, labels: list[str], start: str) -> tuple[np.ndarray, list[str]]:
    """The 28 months from ``start`` (``"YYYY-MM"``) as a series ``(28, 1)``, with its month labels."""
    first = labels.index(start)
    return temperatures[first : first + WINDOW, None], labels[first : first + WINDOW]


if __name__ == "__main__":
    from dianna_distance import TimeSeriesDistanceExplainer

    path = cut_at_pooled_layer()
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    temperatures, labels = elnino_months()
    explained, months = window(temperatures, labels, "1997-01")
    other, _ = window(temperatures, labels, "1982-01")
    explainer = TimeSeriesDistanceExplainer(n_masks=1000, distance="euclidean", random_state=0, progress=False)
    model = explainer.load_model(str(path))
    reference = model(other[None].astype(np.float32))[0]
    scores = explainer.attribute(model, explained, reference)
    print("pooled embedding of 1997-01..", model(explained[None].astype(np.float32))[0].round(3))
    print("pooled embedding of 1982-01..", reference.round(3))
    for month, value, score, significant in zip(months, explained[:, 0], scores[:, 0], explainer.significant_[:, 0]):
        print(f"{month}  {value:5.1f} °C  {score:+.2f}{'' if significant else '  (not significant)'}")
