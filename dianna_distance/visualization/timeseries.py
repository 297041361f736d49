"""Distance maps over time series: one panel per channel, the series as a line over its signed map."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dianna_distance.visualization.common import draw_deletion_curves, finish_figure, new_figure, symmetric_range

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from dianna_distance.evaluation import TimeSeriesDeletionResult

COLORBAR_LABEL = "attribution (+ closer, − farther)"
NOT_SIGNIFICANT = "hatched, faded: not significant (this run does not establish the sign)"
FADED = 0.3  # opacity of the map where it is not significant (1 elsewhere)


def plot_timeseries_distance(
    series: np.ndarray,
    scores: np.ndarray,
    output_filename: str | Path | None = None,
    show_plot: bool = False,
    titles: Sequence[str] | None = None,
    channel_names: Sequence[str] | None = None,
    standard_error: np.ndarray | None = None,
    significant: np.ndarray | None = None,
    n_masks: int | None = None,
    time_labels: Sequence | None = None,
    cmap: str = "bwr",
) -> Figure:
    """Plot a time-series distance map: for each reference and channel, the series as a line over its map.

    Each time step of each channel is coloured by its score on a symmetric scale (0 is white): red steps bring the
    series closer to the reference, blue steps push it away. Steps that the run does not establish (``significant``
    False) are faded and hatched. With ``standard_error``, a grey band of ± one standard error is drawn around the
    score in a small panel under each channel. A legend, the labelled colour bar and the number of masks are written
    under the panels.

    Args:
        series: ``(T, C)`` the series explained.
        scores: ``(T, C)`` map, or ``(K, T, C)`` for K references.
        output_filename: Save the figure here (whole: written under a temporary name, then renamed).
        show_plot: Show the figure.
        titles: One title per reference (default ``"vs reference k"``).
        channel_names: One name per channel (default ``"channel c"``).
        standard_error: ``standard_error_`` of the run, the shape of ``scores``.
        significant: ``significant_`` of the run, the shape of ``scores``.
        n_masks: Number of masks of the run, written under the legend.
        time_labels: ``T`` labels of the time axis (dates, for example); default the step index.
        cmap: A diverging colour map (default ``"bwr"``, red for positive).

    Returns:
        The figure.
    """
    from matplotlib import colors
    from matplotlib.patches import Patch

    series = np.asarray(series, dtype=float)
    if series.ndim != 2:
        raise ValueError(f"series must be 2-D (time steps, channels), got shape {series.shape}")
    maps = np.asarray(scores, dtype=float)
    if maps.shape == series.shape:
        maps = maps[None]
    if maps.ndim != 3 or maps.shape[1:] != series.shape:
        raise ValueError(f"scores must have the series' shape {series.shape} or (K, *{series.shape}), got "
                         f"{np.shape(scores)}")
    if maps.size == 0:
        raise ValueError(f"series and scores must have at least one time step and one channel, and scores at least "
                         f"one map, got series of shape {series.shape} and scores of shape {np.shape(scores)}")
    extras = {}
    for name, value in (("standard_error", standard_error), ("significant", significant)):
        if value is not None:
            value = np.asarray(value)
            if value.size != maps.size:
                raise ValueError(f"{name} must have the shape of scores {np.shape(scores)}, got {value.shape}")
            extras[name] = value.reshape(maps.shape)
    count, length, channels = maps.shape
    titles = list(titles) if titles is not None else [f"vs reference {k}" if count > 1 else "vs reference"
                                                      for k in range(count)]
    names = list(channel_names) if channel_names is not None else [f"channel {c}" for c in range(channels)]
    if len(titles) != count or len(names) != channels:
        raise ValueError(f"titles must have {count} entries and channel_names {channels}, got {len(titles)} and "
                         f"{len(names)}")
    low, high = symmetric_range(maps)
    norm = colors.Normalize(low, high)
    fig = new_figure((9, 1.0 + 1.7 * count * channels + 0.9))
    grid = fig.add_gridspec(count * channels + 1, 1, height_ratios=[1.7] * (count * channels) + [0.9])
    steps = np.arange(length)
    edges = np.arange(length + 1) - 0.5
    drawn = None
    for k in range(count):
        for c in range(channels):
            ax = fig.add_subplot(grid[k * channels + c])
            values = series[:, c]
            span = np.ptp(values) or 1.0
            bottom, top = values.min() - 0.08 * span, values.max() + 0.08 * span
            drawn = ax.pcolormesh(edges, [bottom, top], maps[k, :, c][None], cmap=cmap, norm=norm, shading="flat")
            if "significant" in extras:  # one opacity per step (matplotlib types pcolormesh's alpha as one float)
                drawn.set_alpha(list(np.where(extras["significant"][k, :, c], 1.0, FADED)))
            if "significant" in extras:
                for first, stop in _runs(~extras["significant"][k, :, c]):
                    ax.axvspan(first - 0.5, stop - 0.5, facecolor="none", edgecolor="0.45", hatch="//", linewidth=0)
            ax.plot(steps, values, color="black", linewidth=1.4)
            ax.set_xlim(edges[0], edges[-1])
            ax.set_ylim(bottom, top)
            ax.set_ylabel(names[c], fontsize=9)
            if c == 0:
                ax.set_title(titles[k], fontsize=10, loc="left")
            if "standard_error" in extras:
                error = extras["standard_error"][k, :, c]
                ax.text(1.005, 0.5, f"SE ≤ {np.nanmax(error):.2g}", transform=ax.transAxes, fontsize=7,
                        va="center")
            last = k == count - 1 and c == channels - 1
            if time_labels is not None:  # every panel ticks the same steps; the last names them
                ticks = np.linspace(0, length - 1, min(length, 8)).round().astype(int)
                ax.set_xticks(ticks, [str(time_labels[t]) for t in ticks] if last else [])
            ax.tick_params(labelsize=8, labelbottom=last)  # the time axis, named once: under the last panel
            if last:
                ax.set_xlabel("time" if time_labels is not None else "time step", fontsize=9)
    footer = fig.add_subplot(grid[-1])
    footer.axis("off")
    cax = footer.inset_axes((0.0, 0.75, 0.4, 0.2))
    assert drawn is not None  # K, T, C > 0 (checked above): at least one panel was drawn
    colorbar = fig.colorbar(drawn, cax=cax, orientation="horizontal")
    colorbar.set_label(COLORBAR_LABEL, fontsize=9)
    colorbar.ax.tick_params(labelsize=8)
    assert colorbar.solids is not None  # the colour bar of a mesh (not of contours) is drawn as one mesh
    colorbar.solids.set_alpha(1)
    colormap = drawn.cmap
    handles = [Patch(facecolor=colormap(1.0), label="red: brings the series closer to the reference"),
               Patch(facecolor=colormap(0.0), label="blue: pushes it away")]
    if "significant" in extras:
        handles.append(Patch(facecolor="white", edgecolor="0.25", hatch="//", label=NOT_SIGNIFICANT))
    footer.legend(handles=handles, loc="center left", bbox_to_anchor=(0.45, 0.5), fontsize=8, frameon=False)
    if n_masks is not None:
        footer.text(0.0, 0.0, f"{int(n_masks)} masks", fontsize=9, transform=footer.transAxes)
    return finish_figure(fig, output_filename, show_plot)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of each run of True in a 1-D boolean array."""
    padded = np.concatenate([[False], flags, [False]]).astype(int)
    changes = np.flatnonzero(np.diff(padded))
    return list(zip(changes[::2].tolist(), changes[1::2].tolist()))


def plot_timeseries_deletion(
    result: TimeSeriesDeletionResult,
    output_filename: str | Path | None = None,
    show_plot: bool = False,
    title: str | None = None,
) -> Figure:
    """Draw segment deletion: the distance to the reference as segments are deleted, LoDF, HiDF and random.

    Args:
        result: A :class:`~dianna_distance.evaluation.TimeSeriesDeletionResult`.
        output_filename: Save the figure to this file (written whole).
        show_plot: Show the figure.
        title: Figure title.

    Returns:
        The figure.
    """
    fig = new_figure((6, 3.5))
    ax = fig.subplots()
    draw_deletion_curves(ax, result, ("most positive first", "most negative first"), ".-", "segments deleted (%)")
    if title is not None:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return finish_figure(fig, output_filename, show_plot)
