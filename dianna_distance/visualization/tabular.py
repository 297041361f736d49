"""Table rows: feature scores as a bar chart (one panel per reference, error bars, significance); feature deletion."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dianna_distance.visualization.common import draw_deletion_curves, finish_figure, new_figure, symmetric_range

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CLOSER_COLOR, FARTHER_COLOR = "#d62728", "#1f77b4"  # red: brings the row closer; blue: pushes it away
FADED = 0.35  # opacity of a bar whose sign the run does not establish
ORDERS = ("magnitude", "features")
NOT_SIGNIFICANT = "hatched, faded: not significant (this run does not establish the sign)"


def plot_tabular_distance(
    scores: np.ndarray | Sequence[float],
    feature_names: Sequence[str] | None = None,
    output_filename: str | Path | None = None,
    show_plot: bool = False,
    title: str | Sequence[str] | None = None,
    *,
    standard_error: np.ndarray | Sequence[float] | None = None,
    significant: np.ndarray | Sequence[bool] | None = None,
    n_masks: int | None = None,
    order: str = "magnitude",
    values: np.ndarray | Sequence[float] | None = None,
) -> Figure:
    """Draw a row's feature scores as horizontal bars, one panel per reference, optionally saved as PNG.

    Red bars mark features whose values bring the row closer to the reference (positive scores), blue bars
    features that push it away. Error bars are ``± standard_error`` (the explainer's ``standard_error_``: how much
    a score would vary between runs); bars whose sign the run does not establish (``significant`` False) are faded
    and hatched. The legend says so, and ``n_masks`` is written under it.

    Args:
        scores: ``(F,)``, or ``(K, F)`` for K references (one panel each).
        feature_names: The F names (the explainer's ``feature_names_``); default ``"feature 0"``, ...
        output_filename: Image file to write (``.png``); written whole.
        show_plot: Show the figure (in a notebook it is displayed under the cell).
        title: A title per panel (a string for one panel), for example ``"vs wine 13"``.
        standard_error: ``(F,)`` or ``(K, F)``, drawn as error bars.
        significant: ``(F,)`` or ``(K, F)`` booleans; False bars are faded and hatched.
        n_masks: Number of masks used (the explainer's ``n_masks_used_``).
        order: ``"magnitude"`` (default: largest ``|score|`` on top, ordered per panel) or ``"features"`` (the
            table's column order, the same in every panel).
        values: The row's values ``(F,)``, written beside the names (``alcohol = 13.2``).

    Returns:
        The figure.
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    if scores.ndim != 2 or scores.shape[1] == 0:
        raise ValueError(f"scores must have shape (F,) or (K, F), got {np.shape(scores)}")
    count, n_features = scores.shape
    names = _names(feature_names, n_features)
    errors = _per_panel(standard_error, "standard_error", scores.shape, float)
    marks = _per_panel(significant, "significant", scores.shape, bool)
    titles = _titles(title, count)
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    if n_masks is not None and (isinstance(n_masks, bool) or not isinstance(n_masks, numbers.Integral)
                                or n_masks < 1):
        raise ValueError(f"n_masks must be a positive integer or None, got {n_masks!r}")
    if values is not None:
        values = np.asarray(values, dtype=float)
        if values.shape != (n_features,):
            raise ValueError(f"values must be the row (F,) = ({n_features},), got shape {values.shape}")
        names = [f"{name} = {value:.4g}" for name, value in zip(names, values)]
    low, high = symmetric_range(scores if errors is None else np.abs(scores) + np.nan_to_num(errors))

    import matplotlib
    from matplotlib.patches import Patch

    fig = new_figure((7.0, 0.6 + count * (0.8 + 0.28 * n_features) + 0.9))
    axes = fig.subplots(count, 1, squeeze=False)[:, 0]
    for k, ax in enumerate(axes):
        row = scores[k]
        rank = np.argsort(-np.nan_to_num(np.abs(row), nan=-1), kind="stable") if order == "magnitude" \
            else np.arange(n_features)
        positions = np.arange(n_features)[::-1]  # the first feature on top
        colors = [CLOSER_COLOR if value >= 0 else FARTHER_COLOR for value in row[rank]]
        bars = ax.barh(positions, np.nan_to_num(row[rank]), color=colors, height=0.7,
                       xerr=None if errors is None else errors[k][rank], ecolor="0.2", capsize=2)
        if marks is not None:
            with matplotlib.rc_context({"hatch.color": "0.3", "hatch.linewidth": 0.6}):
                for bar, sure in zip(bars, marks[k][rank]):
                    if not sure:
                        bar.set_alpha(FADED)
                        bar.set_hatch("//")
        ax.set_yticks(positions, [names[index] for index in rank], fontsize=8)
        ax.axvline(0, color="0.3", linewidth=0.8)
        ax.set_xlim(low * 1.05, high * 1.05)
        ax.set_xlabel("attribution (+ closer, − farther)", fontsize=8)
        if titles[k]:
            ax.set_title(titles[k], fontsize=10)
    handles = [Patch(facecolor=CLOSER_COLOR, label="red: brings the row closer to the reference"),
               Patch(facecolor=FARTHER_COLOR, label="blue: pushes it away")]
    if marks is not None:
        handles.append(Patch(facecolor="white", edgecolor="0.25", hatch="//", label=NOT_SIGNIFICANT))
    legend_title = None if n_masks is None else f"{int(n_masks)} masks; error bars ± standard error"
    fig.legend(handles=handles, loc="outside lower center", fontsize=8, frameon=False, title=legend_title,
               title_fontsize=8)
    return finish_figure(fig, output_filename, show_plot)


def plot_feature_deletion(result: Any, output_filename: str | Path | None = None, show_plot: bool = False,
                          title: str | None = None) -> Figure:
    """Draw feature deletion: the distance to the reference as features are replaced, LoDF, HiDF and random.

    Args:
        result: A :class:`~dianna_distance.evaluation.FeatureDeletionResult`.
        output_filename: Save the figure to this file (written whole).
        show_plot: Show the figure (in a notebook: display it under the cell).
        title: Figure title.

    Returns:
        The figure.
    """
    fig = new_figure((6, 3.5))
    ax = fig.subplots()
    draw_deletion_curves(ax, result, ("most positive first", "most negative first"), ".-", "features deleted (%)")
    if title is not None:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return finish_figure(fig, output_filename, show_plot)


def _names(feature_names: Sequence[str] | None, n_features: int) -> list[str]:
    if feature_names is None:
        return [f"feature {index}" for index in range(n_features)]
    names = [str(name) for name in feature_names]
    if len(names) != n_features:
        raise ValueError(f"feature_names has {len(names)} names, but the scores have {n_features} features")
    return names


def _per_panel(values: object, name: str, shape: tuple[int, int], kind: type) -> np.ndarray | None:
    if values is None:
        return None
    array: np.ndarray = np.asarray(values, dtype=kind)
    if array.shape == shape[1:]:
        array = np.broadcast_to(array, shape)
    if array.shape != shape:
        raise ValueError(f"{name} must have the shape of the scores {shape[1:]} or {shape}, got {array.shape}")
    return array


def _titles(title: str | Sequence[str] | None, count: int) -> list[str | None]:
    if title is None:
        return [None] * count
    titles: list[str | None] = [title] if isinstance(title, str) else [str(item) for item in title]
    if len(titles) != count:
        raise ValueError(f"title must give one title per panel ({count}), got {len(titles)}")
    return titles
