"""The Time series page: which stretches of a series make it close to a reference (the El Niño example)."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from dianna_distance.dashboard import arrays, common

WINDOW = 28


def make_explainer(parameters: dict, n_masks: int, run: bool = False) -> Any:
    """A :class:`~dianna_distance.TimeSeriesDistanceExplainer` with the page's parameters and ``n_masks`` masks."""
    from dianna_distance import TimeSeriesDistanceExplainer

    return TimeSeriesDistanceExplainer(n_masks=int(n_masks), feature_res=int(parameters["feature_res"]),
                                       p_keep=float(parameters["p_keep"]), distance=parameters["distance"],
                                       random_state=int(parameters["random_state"]),
                                       mask_pairs=parameters.get("mask_pairs", "auto"), progress=False)


@st.cache_resource(show_spinner="Loading the season model…")
def _season_model() -> Any:
    from dianna_distance.data import SEASON_MODEL
    from dianna_distance.model import load_model

    return load_model(str(SEASON_MODEL))


def elnino_windows() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The 28 months from 1997-01 and from 1982-01 of statsmodels' El Niño data set, and the first one's labels."""
    from statsmodels.datasets import elnino

    table = elnino.load_pandas().data
    temperatures = table.iloc[:, 1:].to_numpy(dtype=float).ravel()
    labels = [f"{int(year)}-{month:02d}" for year in table["YEAR"] for month in range(1, 13)]
    first, other = labels.index("1997-01"), labels.index("1982-01")
    return (temperatures[first:first + WINDOW, None], temperatures[other:other + WINDOW, None],
            labels[first:first + WINDOW])


def example() -> tuple | None:
    """The El Niño example: 1997–99 against 1982–84 in the season model's pooled layer (Euclidean distance)."""
    try:
        import statsmodels  # noqa: F401
    except ImportError:
        return None
    st.caption("Sea-surface temperature, 28 months from January 1997 (the 1997–98 El Niño) against the 28 months "
               "from January 1982 (the 1982–83 one), in the pooled layer of DIANNA's season model.")
    model = _season_model()
    series, other, months = elnino_windows()
    reference = np.atleast_2d(np.asarray(model(other[None].astype(np.float32)), dtype=np.float64))
    return model, series, reference, ["1982-01 … 1984-04"], {"distance": "euclidean", "time_labels": months,
                                                              "item_name": "1997-01 … 1999-04"}


def figure(explainer: Any, series: np.ndarray, titles: list[str], overlay: bool, parameters: dict) -> Any:
    """The series over its map, one panel per reference and channel, titled ``titles``."""
    from dianna_distance.visualization import plot_timeseries_distance

    errors = np.asarray(explainer.standard_error_)
    time_labels = parameters.get("time_labels")
    time_labels = None if time_labels is None else [common.figure_text(label) for label in time_labels]
    return plot_timeseries_distance(series, explainer.map_, titles=titles,
                                    standard_error=None if np.isinf(errors).any() else errors,
                                    significant=explainer.significant_ if overlay else None,
                                    n_masks=len(explainer.embeddings_), time_labels=time_labels)


def read_series(data: bytes, name: str) -> np.ndarray:
    """A series ``(T, C)`` from ``.npy`` (``(T, C)`` or ``(T,)``) or ``.csv`` (a row per time step)."""
    series = arrays.read_numbers(data, name)
    series = series[:, None] if series.ndim == 1 else series
    if series.ndim != 2 or len(series) < 2:
        from dianna_distance.dashboard.common import DashboardInputError

        raise DashboardInputError(f"{name} must hold a series (time steps, channels) with at least 2 time steps, "
                                  f"got shape {series.shape}")
    return series


def check_model(model: Any, series: np.ndarray) -> None:
    """Refuse an uploaded ONNX model that reads series channels first, or cannot take this series, naming the fix."""
    from dianna_distance.model import OnnxModel
    from dianna_distance.timeseries import check_series_fits_model

    if isinstance(model, OnnxModel):
        check_series_fits_model(series.shape, model)


PAGE = arrays.ArrayPage(
    name="Time series", key="timeseries",
    intro="Which stretches of a series make it close to, or far from, a reference? Red steps bring it closer, blue "
          "steps push it away.",
    item_noun="series", make_explainer=make_explainer, example=example,
    example_missing="The example needs statsmodels (its El Niño data): pip install \"dianna-distance[dashboard]\", "
                    "or use your own data.",
    figure=figure, read_item=read_series, feature_res=True, check_model=check_model)


def page() -> None:
    """Draw the Time series page."""
    arrays.draw_page(PAGE)
