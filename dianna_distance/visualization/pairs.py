"""Figures of pair explanations (:class:`~dianna_distance.PairDistanceExplainer`): what binds to what.

* :func:`plot_image_caption`: an image and its caption; one panel per word with the image regions that word binds
  (its column of the interactions, over the image's cells), each panel titled so that it reads alone;
* :func:`plot_interaction_matrix`: the interactions of two texts (a query and a passage) or of any two sides'
  features as a matrix, with each side's first-order scores along its edge;
* :func:`plot_image_correspondence`: two images side by side with lines between the cells that bind most.

Interactions that are not significant (Benjamini–Hochberg, ``interactions_significant_``) are faded and hatched,
as in the other figures.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dianna_distance.pairs import PairDistanceExplainer
from dianna_distance.visualization.common import finish_figure, new_figure, symmetric_range
from dianna_distance.visualization.images import FADED, HATCH_COLOR, NOT_SIGNIFICANT, draw_map

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INTERACTION_LABEL = "interaction (+ binds: the pair is closer with both)"


def _check_run(explainer: object) -> PairDistanceExplainer:
    if not isinstance(explainer, PairDistanceExplainer):
        raise TypeError(f"explainer must be a PairDistanceExplainer, got {type(explainer).__name__}")
    if not hasattr(explainer, "interactions_"):
        raise ValueError("explainer has no run: call its attribute() first")
    return explainer


def _grey(image: np.ndarray) -> np.ndarray:
    values = np.asarray(image, dtype=float)
    values = values.mean(axis=-1) if values.ndim == 3 else values
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def _footer(fig, drawn, label: str, hatched: bool, note: str, rect: Sequence[float]) -> None:
    """Colour bar (with its label), the legend of colours and hatching, and a note, in ``rect`` (figure fraction)."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    x, y, width, height = rect
    cax = fig.add_axes([x + 0.01, y + height * 0.45, width * 0.4, height * 0.16])
    colorbar = fig.colorbar(drawn, cax=cax, orientation="horizontal")
    colorbar.set_label(label, fontsize=8.5)
    colorbar.ax.tick_params(labelsize=7.5)
    colorbar.ax.xaxis.set_major_locator(MaxNLocator(5, symmetric=True))
    colorbar.solids.set_alpha(1)
    colormap = drawn.get_cmap()
    handles = [Patch(facecolor=colormap(1.0), label="red: binds (closer with both parts than each alone)"),
               Patch(facecolor=colormap(0.0), label="blue: the two parts work against each other")]
    if hatched:
        handles.append(Patch(facecolor="white", edgecolor="0.25", hatch="//", label=NOT_SIGNIFICANT))
    legend_ax = fig.add_axes([x + width * 0.47, y, width * 0.53, height])
    legend_ax.axis("off")
    legend_ax.legend(handles=handles, loc="center left", fontsize=8.5, frameon=False)
    if note:
        fig.text(x + 0.01, y + height * 0.72, note, fontsize=8.5, va="bottom")


def plot_image_caption(
    explainer: PairDistanceExplainer,
    image: np.ndarray,
    words: Sequence[int | str] | None = None,
    cmap: str = "bwr",
    panel_size: float = 2.8,
    output_filename: str | Path | None = None,
    show_plot: bool = False,
) -> Figure:
    """An image and its caption: for each word, the regions of the image it binds.

    Side A of the run must be the image and side B the caption. The first panel shows the image with the caption;
    each further panel one word's column of the interactions shown over the image (each cell's interaction on its
    pixels), titled with the word and its strongest cell, so that a panel reads alone. One colour scale for all.

    Args:
        explainer: A :class:`~dianna_distance.PairDistanceExplainer` after its ``attribute()`` (image, text).
        image: The image explained, ``(H, W)`` or ``(H, W, C)``.
        words: The words to show (indices or names of ``features_b_``); default every word.
        cmap: A diverging colour map.
        panel_size: Inches per panel.
        output_filename: Save the figure there (whole: temporary name, then renamed).
        show_plot: Show the figure.

    Returns:
        The figure.
    """
    explainer = _check_run(explainer)
    if (explainer.modality_a_, explainer.modality_b_) != ("image", "text"):
        raise ValueError(f"plot_image_caption needs a run with an image as side A and a text as side B, got "
                         f"{explainer.modality_a_} and {explainer.modality_b_}")
    indices = [explainer.feature_index(word, "b") for word in (words if words is not None
                                                                else range(len(explainer.features_b_)))]
    maps = [explainer.interaction_map(k) for k in indices]
    if np.shape(maps[0]) != np.shape(image)[:2]:
        raise ValueError(f"image must be the image explained, {np.shape(maps[0])} pixels, got shape {np.shape(image)}")
    limit = symmetric_range(explainer.interactions_[:, indices])[1]
    grey = _grey(image)
    columns = len(indices) + 1
    per_row = min(columns, 6)
    rows = -(-columns // 6)
    height = 0.45 + rows * (panel_size + 0.55) + 1.3  # title, panels with their two-line titles, footer
    fig = new_figure((panel_size * per_row + 0.3, height), layout=None)
    grid = fig.add_gridspec(rows + 1, per_row, height_ratios=[*([panel_size] * rows), 1.0], hspace=0.55 / panel_size,
                            wspace=0.08, left=0.02, right=0.98, top=1 - 1.0 / height, bottom=0.03)
    ax = fig.add_subplot(grid[0, 0])
    shown = np.asarray(image, dtype=float)
    shown = (shown - shown.min()) / max(float(np.ptp(shown)), 1e-12)
    ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
    ax.set_xticks([])
    ax.set_yticks([])
    caption = " ".join(explainer.features_b_)
    ax.set_title("\n".join(textwrap.wrap(f"image and caption “{caption}”", 28)), fontsize=9)
    drawn = None
    hatched = False
    g_rows, g_cols = explainer.grid_a_
    for position, (k, values) in enumerate(zip(indices, maps), start=1):
        ax = fig.add_subplot(grid[position // per_row, position % per_row])
        significant = explainer.interaction_map(k, values="significant").astype(bool)
        hatched |= not significant.all()
        drawn = draw_map(ax, values, grey, significant, limit, cmap)
        column = explainer.interactions_[:, k]
        j = int(np.argmax(column))
        mark = "*" if explainer.interactions_significant_[j, k] else " (n.s.)"
        ax.set_title(f"regions “{explainer.features_b_[k]}” binds\nstrongest: cell {divmod(j, g_cols)}, "
                     f"{column[j]:+.3f}{mark}", fontsize=8.5)
    fig.suptitle("Which region does each word bind? (interactions over image cells)", fontsize=11,
                 y=1 - 0.15 / height)
    note = (f"{explainer.n_masks_used_} joint samples, {g_rows} x {g_cols} cells; * significant at FDR "
            f"{explainer.fdr_:g}")
    footer = grid[rows, :].get_position(fig)
    _footer(fig, drawn, INTERACTION_LABEL, hatched, note,
            (footer.x0, footer.y0, footer.width, footer.height))
    return finish_figure(fig, output_filename, show_plot, dpi=110)


def plot_interaction_matrix(
    explainer: PairDistanceExplainer,
    cmap: str = "bwr",
    title: str | None = None,
    output_filename: str | Path | None = None,
    show_plot: bool = False,
) -> Figure:
    """The interactions of side A's features (rows) with side B's (columns), with each side's first-order scores.

    For a query and a passage: which query word goes with which passage word. Non-significant interactions are
    faded and hatched; the bars beside the matrix are each side's first-order scores (error bars: their standard
    errors).

    Args:
        explainer: A :class:`~dianna_distance.PairDistanceExplainer` after its ``attribute()`` (texts, table rows,
            or any sides; images have many cells: prefer :func:`plot_image_caption` /
            :func:`plot_image_correspondence`).
        cmap: A diverging colour map.
        title: The figure's title; default names the two sides.
        output_filename: Save the figure there.
        show_plot: Show the figure.

    Returns:
        The figure.
    """
    import matplotlib

    explainer = _check_run(explainer)
    values = explainer.interactions_
    rows, columns = values.shape
    limit = symmetric_range(values)[1]
    longest = max(len(name) for name in explainer.features_b_)
    label_space = 0.35 + 0.075 * longest  # rotated column labels
    cell = 0.45
    height = 0.5 + 1.1 + rows * cell + label_space + 1.2  # title, bars, matrix, labels, footer (inches)
    width = max(1.6 + columns * cell + 1.9, 7.0)
    fig = new_figure((width, height), layout=None)
    grid = fig.add_gridspec(4, 2, width_ratios=[columns * cell, 1.6], height_ratios=[1.1, rows * cell, label_space,
                                                                                    1.2],
                            wspace=0.05, hspace=0.05, left=1.5 / width, right=1 - 0.2 / width, top=1 - 0.5 / height,
                            bottom=0.02)
    ax = fig.add_subplot(grid[1, 0])
    significant = explainer.interactions_significant_
    alpha = np.where(significant, 1.0, FADED)
    drawn = ax.imshow(values, cmap=cmap, vmin=-limit, vmax=limit, alpha=alpha, aspect="auto")
    with matplotlib.rc_context({"hatch.color": HATCH_COLOR, "hatch.linewidth": 0.5}):
        for j, k in zip(*np.nonzero(~significant)):
            ax.add_patch(matplotlib.patches.Rectangle((k - 0.5, j - 0.5), 1, 1, fill=False, hatch="//",
                                                      linewidth=0))
    ax.set_xticks(range(columns), explainer.features_b_, rotation=60, ha="right", fontsize=9)
    ax.set_yticks(range(rows), explainer.features_a_, fontsize=9)
    ax.xaxis.tick_bottom()
    top = fig.add_subplot(grid[0, 0], sharex=ax)
    top.bar(range(columns), explainer.scores_b_, yerr=explainer.standard_error_b_[: columns], color="0.55",
            error_kw={"linewidth": 0.8})
    top.axhline(0, color="0.3", linewidth=0.6)
    top.set_ylabel("first order\n(side B)", fontsize=8)
    top.tick_params(labelbottom=False, labelsize=7)
    side = fig.add_subplot(grid[1, 1], sharey=ax)
    side.barh(range(rows), explainer.scores_a_, xerr=np.ravel(explainer.standard_error_a_)[: rows]
              if explainer.modality_a_ in ("text", "table") else None, color="0.55", error_kw={"linewidth": 0.8})
    side.axvline(0, color="0.3", linewidth=0.6)
    side.set_xlabel("first order (side A)", fontsize=8)
    side.tick_params(labelleft=False, labelsize=7)
    fig.suptitle(title or f"Interactions: {explainer.modality_a_} (rows) x {explainer.modality_b_} (columns)",
                 fontsize=11)
    footer = grid[3, :].get_position(fig)
    note = f"{explainer.n_masks_used_} joint samples;\nfaded and hatched: not significant (FDR {explainer.fdr_:g})"
    _footer(fig, drawn, INTERACTION_LABEL, bool((~significant).any()), note,
            (0.02, footer.y0, 0.96, footer.height))
    return finish_figure(fig, output_filename, show_plot, dpi=110)


def plot_image_correspondence(
    explainer: PairDistanceExplainer,
    image_a: np.ndarray,
    image_b: np.ndarray,
    n_pairs: int = 6,
    output_filename: str | Path | None = None,
    show_plot: bool = False,
) -> Figure:
    """Two images side by side, a line from each of the ``n_pairs`` most binding cells of A to its cell of B.

    A line's width and opacity grow with the interaction; dashed lines are not significant. Below, for the
    strongest pair, the map over B of the cell of A (:meth:`~dianna_distance.PairDistanceExplainer.interaction_map`
    with ``side="a"``) and the mirror.

    Args:
        explainer: A :class:`~dianna_distance.PairDistanceExplainer` after its ``attribute()`` (two images).
        image_a: Image A ``(H, W)`` or ``(H, W, C)``.
        image_b: Image B.
        n_pairs: Number of cell pairs drawn (largest interactions first).
        output_filename: Save the figure there.
        show_plot: Show the figure.

    Returns:
        The figure.
    """
    from matplotlib.patches import ConnectionPatch

    explainer = _check_run(explainer)
    if (explainer.modality_a_, explainer.modality_b_) != ("image", "image"):
        raise ValueError(f"plot_image_correspondence needs two images, got {explainer.modality_a_} and "
                         f"{explainer.modality_b_}")
    fig = new_figure((9.0, 9.4), layout=None)
    grid = fig.add_gridspec(3, 2, height_ratios=[1, 1, 0.3], hspace=0.28, wspace=0.06, left=0.03, right=0.97,
                            top=0.93, bottom=0.02)
    axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])]
    for ax, image, name in zip(axes, (image_a, image_b), ("A", "B")):
        shown = np.asarray(image, dtype=float)
        ax.imshow((shown - shown.min()) / max(float(np.ptp(shown)), 1e-12))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"image {name}", fontsize=10)
    order = np.argsort(-explainer.interactions_, axis=None, kind="stable")[:n_pairs]
    largest = max(float(explainer.interactions_.max()), 1e-12)
    cell_labels: list[dict[int, tuple[tuple[float, float], list[str]]]] = [{}, {}]
    for rank, flat in enumerate(order, start=1):
        j, k = (int(index) for index in np.unravel_index(flat, explainer.interactions_.shape))
        value = float(explainer.interactions_[j, k])
        points = [_cell_centre(j, explainer.grid_a_, np.shape(image_a)), _cell_centre(k, explainer.grid_b_,
                                                                                     np.shape(image_b))]
        significant = bool(explainer.interactions_significant_[j, k])
        strength = max(value, 0) / largest
        line = ConnectionPatch(xyA=points[0], coordsA=axes[0].transData, xyB=points[1], coordsB=axes[1].transData,
                               color="red", linewidth=1 + 3 * strength, alpha=0.35 + 0.6 * strength,
                               linestyle="-" if significant else "--")
        fig.add_artist(line)
        for labels, cell, point in zip(cell_labels, (j, k), points):
            labels.setdefault(cell, (point, []))[1].append(str(rank))
    for ax, labels in zip(axes, cell_labels):
        for point, ranks in labels.values():
            fig.text(*point, ",".join(ranks), transform=ax.transData, color="white", fontsize=8.5, ha="center",
                     va="center", weight="bold", zorder=5,  # over the lines, which the figure draws over the axes
                     bbox={"boxstyle": "round,pad=0.2", "facecolor": "red", "alpha": 0.85, "linewidth": 0})
    j, k = (int(index) for index in np.unravel_index(order[0], explainer.interactions_.shape))
    limit = symmetric_range(explainer.interactions_)[1]
    lower = [fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])]
    drawn = draw_map(lower[0], explainer.interaction_map(k, side="b"), _grey(image_a),
                     explainer.interaction_map(k, side="b", values="significant").astype(bool), limit, "bwr")
    lower[0].set_title(f"cells of A binding B's {explainer.features_b_[k]} (pair 1)", fontsize=9)
    draw_map(lower[1], explainer.interaction_map(j, side="a"), _grey(image_b),
             explainer.interaction_map(j, side="a", values="significant").astype(bool), limit, "bwr")
    lower[1].set_title(f"cells of B binding A's {explainer.features_a_[j]} (pair 1)", fontsize=9)
    fig.suptitle("Which region of A matches which region of B? (the strongest cell interactions)", fontsize=11)
    footer = grid[2, :].get_position(fig)
    note = (f"{explainer.n_masks_used_} joint samples; lines: the {n_pairs} largest\ninteractions, numbered "
            "(dashed: not significant)")
    _footer(fig, drawn, INTERACTION_LABEL, True, note, (footer.x0, footer.y0, footer.width, footer.height))
    return finish_figure(fig, output_filename, show_plot, dpi=110)


def _cell_centre(index: int, grid: tuple[int, ...], shape: tuple[int, ...]) -> tuple[float, float]:
    """``(x, y)`` pixel coordinates of a cell's centre."""
    row, column = divmod(index, grid[1])
    return (column + 0.5) * shape[1] / grid[1] - 0.5, (row + 0.5) * shape[0] / grid[0] - 0.5
