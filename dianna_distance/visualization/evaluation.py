"""Plots of the evaluation metrics of :mod:`dianna_distance.evaluation`.

Maps in these figures have colour bars with a scale symmetric around 0 (red: brings the input closer to the
reference; blue: pushes it away). Every function returns the figure, which displays once in Jupyter (see
:mod:`dianna_distance.visualization.common`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dianna_distance.visualization.common import draw_deletion_curves, finish_figure, new_figure, symmetric_range

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from dianna_distance.evaluation import (
        DeletionResult,
        RandomisationResult,
        SeedSpreadResult,
        SensitivityResult,
        WordDeletionResult,
    )

MODE_LABELS = {"top_down": "top-down\n(cumulative)", "bottom_up": "bottom-up\n(cumulative)",
               "independent": "independent\n(one layer)"}


def plot_incremental_deletion(
    result: DeletionResult,
    steps: Sequence[int] | None = None,
    panel_size: float = 2.0,
    output_filename: str | Path | None = None,
    show_plot: bool = False,
) -> Figure:
    """Draw incremental deletion: the deleted images per step (LoDF and HiDF rows) and the distance curves.

    Args:
        result: A :class:`~dianna_distance.evaluation.DeletionResult`.
        steps: Steps whose images are shown; default: 6 evenly spaced steps from 0 to ``n_steps``.
        panel_size: Size in inches of each image panel.
        output_filename: Save the figure to this file (written whole).
        show_plot: Show the figure (in a notebook: display it under the cell).

    Returns:
        The :class:`matplotlib.figure.Figure`.
    """
    n_steps = len(result.boundaries) - 1
    shown: np.ndarray | list[int] = (np.unique(np.round(np.linspace(0, n_steps, min(6, n_steps + 1))).astype(int))
                                     if steps is None else list(steps))
    columns = len(shown)
    fig = new_figure((panel_size * max(columns, 3) + 0.4, panel_size * 2 + 3.8))
    grid = fig.add_gridspec(3, columns, height_ratios=[panel_size, panel_size, 3.5])
    display_range = _display_range(result.image)
    row_labels = {"lodf": "LoDF:\nmost positive\ndeleted first", "hidf": "HiDF:\nmost negative\ndeleted first"}
    for row, order in enumerate(("lodf", "hidf")):
        for column, step in enumerate(shown):
            ax = fig.add_subplot(grid[row, column])
            ax.imshow(_displayable(result.deleted_image(order, step), result.channels_axis, display_range),
                      cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"{100 * result.fractions[step]:.0f}% deleted", fontsize=9)
            if column == 0:
                ax.set_ylabel(row_labels[order], fontsize=8)
    ax = fig.add_subplot(grid[2, :])
    draw_deletion_curves(ax, result, ("LoDF", "HiDF"), "-", "deleted (%)")
    ax.legend(fontsize=8)
    fig.suptitle("Incremental deletion: distance to the reference as pixels are deleted", fontsize=10)
    return finish_figure(fig, output_filename, show_plot)


def plot_randomisation(
    result: RandomisationResult,
    modes: Sequence[str] | None = None,
    panel_size: float = 2.0,
    cmap: str = "bwr",
    output_filename: str | Path | None = None,
    show_plot: bool = False,
) -> Figure:
    """Draw the MPRT: per mode, a row with the original map and the map after each step, titled with ρ.

    Each map is divided by its largest absolute value (the test compares patterns, and the magnitude of a map
    changes as the model does), so all maps share one scale from -1 to 1, with one colour bar per row. Layer
    names lose the prefix all of them share and are wrapped after ``/`` (``.`` in names without ``/``) to fit their
    panel (at most two lines; a longer name keeps its end, after ``…``).

    Args:
        result: A :class:`~dianna_distance.evaluation.RandomisationResult` of a single reference (maps ``(H, W)``).
        modes: Modes to draw (rows); default: all in the result.
        panel_size: Size in inches of each panel.
        cmap: Diverging colormap.
        output_filename: Save the figure to this file (written whole).
        show_plot: Show the figure (in a notebook: display it under the cell).

    Returns:
        The :class:`matplotlib.figure.Figure`.
    """
    modes = list(result.maps) if modes is None else list(modes)
    unknown = [mode for mode in modes if mode not in result.maps]
    if unknown:
        raise ValueError(f"modes must be among the result's modes {list(result.maps)}, got {unknown}")
    if result.original.ndim != 2:
        raise ValueError(f"plot_randomisation draws maps of one reference (H, W), got {result.original.shape}")
    columns = len(result.layer_names) + 1
    fontsize = 8
    width = max(10, int((panel_size - 0.15) * 72 / (0.62 * fontsize)))  # characters that fit over a panel
    short = dict(zip(result.layer_names, short_layer_names(result.layer_names, width)))
    fig = new_figure((panel_size * columns + 1.6, (panel_size + 0.8) * len(modes) + 0.5))
    axes = fig.subplots(len(modes), columns, squeeze=False)
    for row, mode in enumerate(modes):
        panels = [("original model", result.original, None)]
        panels += [(short[name], heatmap, rho) for name, heatmap, rho in
                   zip(result.steps[mode], result.maps[mode], result.correlations[mode])]
        for ax, (name, heatmap, rho) in zip(axes[row], panels):
            drawn = ax.imshow(heatmap / -symmetric_range(heatmap)[0], cmap=cmap, vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(name if rho is None else f"{name}\nρ = {rho:.2f}", fontsize=fontsize)
        axes[row, 0].set_ylabel(MODE_LABELS.get(mode, mode), fontsize=9)
        fig.colorbar(drawn, ax=axes[row, :], shrink=0.8, label="map ÷ its max |value|")
    fig.suptitle("Model parameter randomisation (ρ: Spearman correlation with the original map)\ncumulative rows "
                 "shuffle the named layer and those left of it; independent shuffles only the named layer",
                 fontsize=10)
    return finish_figure(fig, output_filename, show_plot)


def plot_sensitivity(
    result: SensitivityResult,
    samples: int = 3,
    reference: int = 0,
    panel_size: float = 2.2,
    cmap: str = "bwr",
    output_filename: str | Path | None = None,
    show_plot: bool = False,
) -> Figure:
    """Draw average sensitivity: the original map, maps of noisy images, and their differences to the original.

    The top row shows the map of the image and the maps of the first ``samples`` noisy images on one symmetric
    scale (one colour bar); the bottom row shows each noisy map minus the original map, on its own symmetric
    scale (a second colour bar), titled with that sample's sensitivity. The bottom-left panel states the score.

    Args:
        result: A :class:`~dianna_distance.evaluation.SensitivityResult`.
        samples: How many noisy samples to draw (at most ``nr_samples``).
        reference: Which reference's maps to draw when the maps are ``(K, H, W)``.
        panel_size: Size in inches of each panel.
        cmap: Diverging colormap.
        output_filename: Save the figure to this file (written whole).
        show_plot: Show the figure (in a notebook: display it under the cell).

    Returns:
        The :class:`matplotlib.figure.Figure`.
    """
    original = np.asarray(result.attribution, dtype=float)
    perturbed = np.asarray(result.perturbed_attributions, dtype=float)
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    if original.ndim == 3:
        if isinstance(reference, bool) or not isinstance(reference, (int, np.integer)) \
                or not 0 <= reference < len(original):
            raise ValueError(f"reference must be an index from 0 to {len(original) - 1}, got {reference!r}")
        original, perturbed = original[reference], perturbed[:, reference]
    if original.ndim != 2:
        raise ValueError(f"plot_sensitivity draws maps (H, W) or (K, H, W), got {result.attribution.shape}")
    count = min(samples, len(perturbed))
    differences = perturbed[:count] - original
    fig = new_figure((panel_size * (count + 1) + 1.6, 2 * panel_size + 1.3))
    axes = fig.subplots(2, count + 1, squeeze=False)
    low, high = symmetric_range(np.concatenate([original.ravel(), perturbed[:count].ravel()]))
    for column, heatmap in enumerate([original, *perturbed[:count]]):
        maps = axes[0, column].imshow(heatmap, cmap=cmap, vmin=low, vmax=high)
        axes[0, column].set_title("original map" if column == 0 else f"noisy sample {column}", fontsize=9)
    fig.colorbar(maps, ax=axes[0, :], shrink=0.85, label="attribution")
    low, high = symmetric_range(differences)
    for column, difference in enumerate(differences, start=1):
        drawn = axes[1, column].imshow(difference, cmap=cmap, vmin=low, vmax=high)
        axes[1, column].set_title(f"sample {column} − original\nsensitivity {result.values[column - 1]:.3f}",
                                  fontsize=9)
    fig.colorbar(drawn, ax=axes[1, :], shrink=0.85, label="difference to the original map")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    summary = axes[1, 0]
    summary.axis("off")
    summary.text(0.5, 0.5, f"average sensitivity\n{result.score:.3f}\n(mean of {len(result.values)} samples;\n"
                           "lower is more robust)", ha="center", va="center", fontsize=9, transform=summary.transAxes)
    fig.suptitle("Average sensitivity: how the map changes when the image gets a little noise", fontsize=10)
    return finish_figure(fig, output_filename, show_plot)


def plot_seed_spread(
    result: SeedSpreadResult, output_filename: str | Path | None = None, show_plot: bool = False
) -> Figure:
    """Draw the seed spread against the number of masks (log-log), with the fitted ``c / sqrt(n_masks)``.

    Args:
        result: A :class:`~dianna_distance.evaluation.SeedSpreadResult`.
        output_filename: Save the figure to this file (written whole).
        show_plot: Show the figure (in a notebook: display it under the cell).

    Returns:
        The :class:`matplotlib.figure.Figure`.
    """
    fig = new_figure((5, 3.5))
    ax = fig.subplots()
    grid = np.geomspace(result.n_masks.min(), result.n_masks.max(), 50)
    ax.loglog(result.n_masks, result.spread, "ko-", label=f"across {len(result.seeds)} seeds")
    ax.loglog(result.n_masks, result.estimated_spread, "gs--", label="single-run estimate")
    ax.loglog(grid, result.coefficient / np.sqrt(grid), "r:", label=f"{result.coefficient:.2f} / √n_masks")
    ax.set_xlabel("n_masks")
    ax.set_ylabel("mean per-pixel std")
    ax.set_title("Spread of the map across seeds", fontsize=10)
    ax.legend(fontsize=8)
    return finish_figure(fig, output_filename, show_plot)


def plot_word_deletion(
    result: WordDeletionResult,
    output_filename: str | Path | None = None,
    show_plot: bool = False,
    title: str | None = None,
) -> Figure:
    """Draw word deletion: the distance to the reference as words are deleted, LoDF, HiDF and random.

    Args:
        result: A :class:`~dianna_distance.evaluation.WordDeletionResult`.
        output_filename: Save the figure to this file (written whole).
        show_plot: Show the figure (in a notebook: display it under the cell).
        title: Figure title.

    Returns:
        The :class:`matplotlib.figure.Figure`.
    """
    fig = new_figure((6, 3.5))
    ax = fig.subplots()
    draw_deletion_curves(ax, result, ("most positive first", "most negative first"), ".-", "words deleted (%)")
    if title is not None:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return finish_figure(fig, output_filename, show_plot)


def short_layer_names(names: Sequence[str], width: int, max_lines: int = 2) -> list[str]:
    """Layer names for panel titles: the prefix shared by all (up to a ``/`` or ``.``) dropped, then wrapped.

    Lines break after ``/`` (after ``.`` in names without ``/``).

    Args:
        names: The layer names.
        width: Characters per line.
        max_lines: Lines per name; a longer name keeps its end, after ``…``.

    Returns:
        One string per name, its lines separated by newlines.
    """
    names = [str(name) for name in names]
    prefix = os.path.commonprefix(names) if len(names) > 1 else ""
    cut = max(prefix.rfind("/"), prefix.rfind(".")) + 1
    return [_wrap_name(name[cut:] or name, width, max_lines) for name in names]


def _wrap_name(name: str, width: int, max_lines: int) -> str:
    """``name`` in at most ``max_lines`` lines of ``width`` characters, broken after ``/`` (or ``.`` without ``/``)."""
    parts = [part for part in re.split(r"(?<=/)" if "/" in name else r"(?<=\.)", name) if part]
    lines: list[str] = []
    while parts and len(lines) < max_lines:
        line = parts.pop()
        while parts and len(parts[-1]) + len(line) <= width:
            line = parts.pop() + line
        lines.insert(0, line if len(line) <= width else "…" + line[-(width - 1):])
    if parts:
        lines[0] = "…" + lines[0][-(width - 1):] if len(lines[0]) >= width else "…" + lines[0]
    return "\n".join(lines)


def _display_range(image: np.ndarray) -> tuple[float, float]:
    low, high = float(np.min(image)), float(np.max(image))
    return (0.0, 1.0) if low >= 0 and high <= 1 else (low, high if high > low else low + 1)


def _displayable(image: np.ndarray, channels_axis: int | None, display_range: tuple[float, float]) -> np.ndarray:
    """The image as ``(H, W)`` or ``(H, W, 3)`` scaled from ``display_range`` to [0, 1] for ``imshow``."""
    if channels_axis == 0:
        image = np.moveaxis(image, 0, -1)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 3 and image.shape[-1] != 3:
        image = image.mean(axis=-1)
    low, high = display_range
    return np.clip((image - low) / (high - low), 0, 1)
