"""The Tables page: which features make a table row close to a reference (the wine example)."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from dianna_distance.dashboard import arrays, common
from dianna_distance.tabular import TABLE_P_KEEP


def make_explainer(parameters: dict, n_masks: int, run: bool = False) -> Any:
    """A :class:`~dianna_distance.TabularDistanceExplainer`; background rows only for a run (not for re-selection)."""
    from dianna_distance import TabularDistanceExplainer

    background = _wine()[0] if run and parameters.get("background") == "wine" else None
    return TabularDistanceExplainer(training_data=background, feature_names=parameters.get("feature_names"),
                                    n_masks=int(n_masks), p_keep=float(parameters["p_keep"]),
                                    distance=parameters["distance"], random_state=int(parameters["random_state"]),
                                    progress=False)


@st.cache_resource(show_spinner="Loading the wine data…")
def _wine() -> tuple[np.ndarray, list[str], Any]:
    from sklearn.datasets import load_wine

    from dianna_distance.data import WINE_MODEL
    from dianna_distance.model import load_model

    wine = load_wine()
    return wine.data.astype(np.float32), list(wine.feature_names), load_model(str(WINE_MODEL))


def example() -> tuple | None:
    """The wine example: wine 0 against wine 13 in the wine classifier's hidden layer."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return None
    rows, names, model = _wine()
    row = st.number_input("wine to explain (row of scikit-learn's wine data)", 0, len(rows) - 1, 0,
                          key="tables_row")
    other = st.number_input("reference wine", 0, len(rows) - 1, 13, key="tables_reference_row")
    reference = np.atleast_2d(np.asarray(model(rows[other:other + 1]), dtype=np.float64))
    return model, rows[row].astype(np.float64), reference, [f"wine {other}"], {
        "feature_names": names, "background": "wine"}


def figure(explainer: Any, row: np.ndarray, labels: list[str], overlay: bool, parameters: dict) -> Any:
    """The feature scores as bars with error bars, one panel per reference."""
    from dianna_distance.visualization import plot_tabular_distance

    errors = np.asarray(explainer.standard_error_)
    return plot_tabular_distance(explainer.map_, [common.figure_text(name) for name in explainer.feature_names_],
                                 title=[f"vs {common.figure_text(label)}" for label in labels],
                                 standard_error=None if np.isinf(errors).any() else errors,
                                 significant=explainer.significant_ if overlay else None,
                                 n_masks=len(explainer.embeddings_), values=row)


def read_row(data: bytes, name: str) -> np.ndarray:
    """One row ``(F,)`` from ``.npy`` or ``.csv`` (one line of numbers, an optional header)."""
    row = arrays.read_numbers(data, name)
    if row.ndim == 2 and len(row) == 1:
        row = row[0]
    if row.ndim != 1 or len(row) < 2:
        from dianna_distance.dashboard.common import DashboardInputError

        raise DashboardInputError(f"{name} must hold one row of at least 2 features, got shape {row.shape}")
    return row


PAGE = arrays.ArrayPage(
    name="Tables", key="tables",
    intro="Which features make a table row close to, or far from, a reference? Red bars bring it closer, blue "
          "bars push it away. (Your own rows are masked with 0: the example fills masked values with the wine "
          "data's column means.)",
    item_noun="row", make_explainer=make_explainer, example=example,
    example_missing="The example needs scikit-learn (its wine data): use your own data.",
    figure=figure, read_item=read_row, p_keep=TABLE_P_KEEP)


def page() -> None:
    """Draw the Tables page."""
    arrays.draw_page(PAGE)
