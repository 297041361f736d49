"""The Tables page: which features make a table row close to a reference (the wine example)."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from dianna_distance.dashboard import arrays, common
from dianna_distance.tabular import TABLE_P_KEEP

BACKGROUND = "tables_background_rows"  # the uploaded background rows of the session's next run


def make_explainer(parameters: dict, n_masks: int, run: bool = False) -> Any:
    """A :class:`~dianna_distance.TabularDistanceExplainer`; background rows only for a run (not for re-selection)."""
    from dianna_distance import TabularDistanceExplainer

    background = None
    if run and parameters.get("background") == "wine":
        background = _wine()[0]
    elif run and parameters.get("background") == "upload":
        background = st.session_state.get(BACKGROUND)
    return TabularDistanceExplainer(training_data=background, feature_names=parameters.get("feature_names"),
                                    n_masks=int(n_masks), p_keep=float(parameters["p_keep"]),
                                    distance=parameters["distance"], random_state=int(parameters["random_state"]),
                                    mask_pairs=parameters.get("mask_pairs", "auto"), progress=False)


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
        "feature_names": names, "background": "wine", "item_name": f"wine {row}"}


def figure(explainer: Any, row: np.ndarray, titles: list[str], overlay: bool, parameters: dict) -> Any:
    """The feature scores as bars with error bars, one panel per reference, titled ``titles``."""
    from dianna_distance.visualization import plot_tabular_distance

    errors = np.asarray(explainer.standard_error_)
    return plot_tabular_distance(explainer.map_, [common.figure_text(name) for name in explainer.feature_names_],
                                 title=titles,
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


def _read_table(upload: Any, what: str) -> tuple[list[str], np.ndarray]:
    """A ``.csv`` upload with a header of feature names, read by the package's table reader (messages name it)."""
    from dianna_distance.readers import read_table_csv

    try:
        return read_table_csv(upload.name, what, data=upload.getvalue())
    except ValueError as error:
        raise common.DashboardInputError(str(error)) from None


def own_inputs(spec: arrays.ArrayPage) -> tuple | None:
    """Your own table: a model, a ``.csv`` of rows with a header, a row picker (as ``--row``) and more.

    The reference is a ``.npy`` embedding or another row; optional background rows (as ``--training-data``) give
    the masked features their values.
    """
    model_upload = st.file_uploader("ONNX model (embeds a batch of rows)", type=["onnx"], key="tables_onnx")
    table_upload = st.file_uploader("rows (.csv with a header of feature names, one row per item)", type=["csv"],
                                    key="tables_table")
    kind = st.radio("reference", ["another row of the table", ".npy embedding"], horizontal=True,
                    key="tables_kind")
    npy_upload = None
    if kind == ".npy embedding":
        npy_upload = st.file_uploader("reference embedding (D,) or (K, D)", type=["npy"], key="tables_reference")
    background_upload = st.file_uploader(
        "background rows (optional .csv, the same columns): masked features take their column means, as with "
        "--training-data; without them masked features are 0", type=["csv"], key="tables_background")
    if model_upload is None or table_upload is None or (kind == ".npy embedding" and npy_upload is None):
        st.info("Upload the model, the rows" + (" and the reference embedding." if kind == ".npy embedding" else "."))
        return None
    with common.shown_errors("reading your data"):
        data = model_upload.getvalue()
        model = arrays.uploaded_model(common.file_digest(data), data, model_upload.name)
        names, table = _read_table(table_upload, "rows")
    left, right = st.columns(2)
    row = int(left.number_input(f"row to explain (0 to {len(table) - 1}, the first row after the header)", 0,
                                len(table) - 1, 0, key="tables_row_pick"))
    other = None
    if kind == "another row of the table":
        other = int(right.number_input("reference row", 0, len(table) - 1, min(1, len(table) - 1),
                                       key="tables_reference_pick"))
    with common.shown_errors("reading your data"):
        for name, values in (("rows", table[row:row + 1]), ("reference row", None if other is None
                                                           else table[other:other + 1])):
            if values is not None and not np.all(np.isfinite(values)):
                raise common.DashboardInputError(f"{table_upload.name}: the {name} picked holds an empty or NaN "
                                                 "cell")
        item = table[row]
        embedding = arrays.embed(model, item[None])
        if npy_upload is not None:
            reference = common.read_embedding(npy_upload.getvalue(), npy_upload.name)
            stem = npy_upload.name
            labels = [f"{stem}[{k}]" for k in range(len(reference))] if len(reference) > 1 else [stem]
        else:
            assert other is not None
            reference = arrays.embed(model, table[other:other + 1])
            labels = [f"row {other}"]
        common.check_reference_length(reference, embedding.shape[1], "the reference")
        extra: dict = {"feature_names": names, "item_name": f"{table_upload.name} row {row}"}
        st.session_state.pop(BACKGROUND, None)
        if background_upload is not None:
            from dianna_distance.readers import check_columns

            background_names, background = _read_table(background_upload, "background rows")
            try:  # columns are matched by name, as --training-data's are
                check_columns(background_names, names, f"background rows {background_upload.name!r}",
                              f"the rows {table_upload.name!r}")
            except ValueError as error:
                raise common.DashboardInputError(str(error)) from None
            st.session_state[BACKGROUND] = background
            extra["background"] = "upload"
            extra["background_rows"] = f"{background_upload.name} ({len(background)} rows)"
    return model, item, reference, labels, extra


PAGE = arrays.ArrayPage(
    name="Tables", key="tables",
    intro="Which features make a table row close to, or far from, a reference? Red bars bring it closer, blue "
          "bars push it away. Masked features take the column means of background rows (the wine data in the "
          "example; yours as an optional upload), or 0 without them.",
    item_noun="row", make_explainer=make_explainer, example=example,
    example_missing="The example needs scikit-learn (its wine data): use your own data.",
    figure=figure, read_item=read_row, own_inputs=own_inputs, p_keep=TABLE_P_KEEP)


def page() -> None:
    """Draw the Tables page."""
    arrays.draw_page(PAGE)
