"""Plotting distance explanations over their images, on top of :func:`dianna.visualization.plot_image`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def plot_distance_map(
    saliency: np.ndarray,
    image: np.ndarray | None = None,
    titles: Sequence[str] | None = None,
    cmap: str = "bwr",
    output_filename: str | Path | None = None,
    show_plot: bool = False,
    panel_size: float = 4.0,
    axes: Sequence | None = None,
):
    """Plot one or several distance maps over their image, with a colour scale centred on 0.

    With the default ``"bwr"`` colormap, red marks pixels that bring the image closer to the reference
    (positive attribution) and blue pixels that push it away. All panels share one symmetric colour range.

    Args:
        saliency: Map ``(H, W)`` or maps ``(K, H, W)`` (one panel per reference, side by side).
        image: The explained image, ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)`` with C in (1, 3), drawn under the
            maps; values in [0, 1] or [0, 255].
        titles: One title per panel.
        cmap: A diverging matplotlib colormap.
        output_filename: Save the figure to this file (format from the extension).
        show_plot: Show the figure with ``matplotlib.pyplot.show``.
        panel_size: Width and height of each panel in inches (unused with ``axes``).
        axes: Draw into these matplotlib axes, one per map, instead of a new figure (e.g. to build a gallery of
            several images); the figure is then not laid out again.

    Returns:
        The :class:`matplotlib.figure.Figure` drawn into.
    """
    import matplotlib.pyplot as plt
    from dianna.visualization import plot_image

    maps = np.asarray(saliency, dtype=float)
    if maps.ndim == 2:
        maps = maps[None]
    if maps.ndim != 3:
        raise ValueError(f"saliency must have shape (H, W) or (K, H, W), got {np.shape(saliency)}")
    if titles is not None and len(titles) != len(maps):
        raise ValueError(f"titles must have one entry per map ({len(maps)}), got {len(titles)}")
    background = None if image is None else _image_for_display(np.asarray(image), maps.shape[1:])
    if axes is not None and len(axes) != len(maps):
        raise ValueError(f"axes must have one entry per map ({len(maps)}), got {len(axes)}")
    limit = float(np.max(np.abs(maps))) or 1.0
    new_figure = axes is None
    if new_figure:
        fig, grid = plt.subplots(1, len(maps), figsize=(panel_size * 1.25 * len(maps), panel_size), squeeze=False)
        axes = grid[0]
    else:
        fig = axes[0].figure
    for index, (ax, heatmap) in enumerate(zip(axes, maps)):
        plot_image(heatmap, background, heatmap_cmap=cmap, heatmap_range=(-limit, limit), show_plot=False, ax=ax)
        if titles is not None:
            ax.set_title(titles[index])
    if new_figure:
        fig.tight_layout()
    if output_filename is not None:
        fig.savefig(output_filename)
    if show_plot:
        plt.show()
    return fig


def _image_for_display(image: np.ndarray, map_shape: tuple[int, int]) -> np.ndarray:
    """The image as ``(H, W)`` or ``(H, W, 3)`` for ``imshow``."""
    if image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[1:] == map_shape:
        image = np.moveaxis(image, 0, -1)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.shape[:2] != map_shape or image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W), (H, W, C) or (C, H, W) with (H, W) = {map_shape}, "
                         f"got shape {image.shape}")
    return image


# -- plots of the evaluation metrics (dianna_distance.evaluation) ---------------------------------------------------

from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from dianna_distance.evaluation import DeletionResult, RandomisationResult, SeedSpreadResult  # noqa: E402


def plot_incremental_deletion(
    result: DeletionResult,
    steps: Sequence[int] | None = None,
    panel_size: float = 2.0,
    output_filename: str | Path | None = None,
    show_plot: bool = False,
):
    """Draw incremental deletion: the deleted images per step (LoDF and HiDF rows) and the distance curves.

    Args:
        result: A :class:`~dianna_distance.evaluation.DeletionResult`.
        steps: Steps whose images are shown; default: 6 evenly spaced steps from 0 to ``n_steps``.
        panel_size: Size in inches of each image panel.
        output_filename: Save the figure to this file.
        show_plot: Show the figure with ``matplotlib.pyplot.show``.

    Returns:
        The :class:`matplotlib.figure.Figure`.
    """
    import matplotlib.pyplot as plt

    n_steps = len(result.boundaries) - 1
    steps = np.unique(np.round(np.linspace(0, n_steps, min(6, n_steps + 1))).astype(int)) if steps is None \
        else list(steps)
    columns = len(steps)
    fig = plt.figure(figsize=(panel_size * max(columns, 3), panel_size * 2 + 3.5))
    grid = fig.add_gridspec(3, columns, height_ratios=[panel_size, panel_size, 3.5])
    display_range = _display_range(result.image)
    for row, order in enumerate(("lodf", "hidf")):
        for column, step in enumerate(steps):
            ax = fig.add_subplot(grid[row, column])
            ax.imshow(_displayable(result.deleted_image(order, step), result.channels_axis, display_range),
                      cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"{100 * result.fractions[step]:.0f}% deleted", fontsize=9)
            if column == 0:
                ax.set_ylabel(order.upper())
    ax = fig.add_subplot(grid[2, :])
    _draw_deletion_curves(ax, result, ("LoDF", "HiDF"), "-", "deleted (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _finish(fig, output_filename, show_plot)


def plot_randomisation(
    result: RandomisationResult,
    modes: Sequence[str] | None = None,
    panel_size: float = 2.0,
    cmap: str = "bwr",
    output_filename: str | Path | None = None,
    show_plot: bool = False,
):
    """Draw the MPRT: per mode, a row with the original map and the map after each step, titled with ρ.

    Args:
        result: A :class:`~dianna_distance.evaluation.RandomisationResult` of a single reference (maps ``(H, W)``).
        modes: Modes to draw (rows); default: all in the result.
        panel_size: Size in inches of each panel.
        cmap: Diverging colormap; each map is scaled to its own symmetric range.
        output_filename: Save the figure to this file.
        show_plot: Show the figure with ``matplotlib.pyplot.show``.

    Returns:
        The :class:`matplotlib.figure.Figure`.
    """
    import matplotlib.pyplot as plt

    modes = list(result.maps) if modes is None else list(modes)
    if result.original.ndim != 2:
        raise ValueError(f"plot_randomisation draws maps of one reference (H, W), got {result.original.shape}")
    columns = len(result.layer_names) + 1
    fig, axes = plt.subplots(len(modes), columns, figsize=(panel_size * columns, panel_size * 1.15 * len(modes)),
                             squeeze=False)
    for row, mode in enumerate(modes):
        panels = [("original", result.original, None)]
        panels += list(zip(result.steps[mode], result.maps[mode], result.correlations[mode]))
        for ax, (name, heatmap, rho) in zip(axes[row], panels):
            limit = float(np.max(np.abs(heatmap))) or 1.0
            ax.imshow(heatmap, cmap=cmap, vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(name if rho is None else f"{name}\nρ = {rho:.2f}", fontsize=8)
        axes[row, 0].set_ylabel(mode.replace("_", "-"))
    fig.tight_layout()
    return _finish(fig, output_filename, show_plot)


def plot_seed_spread(
    result: SeedSpreadResult, output_filename: str | Path | None = None, show_plot: bool = False
):
    """Draw the seed spread against the number of masks (log-log), with the fitted ``c / sqrt(n_masks)``.

    Args:
        result: A :class:`~dianna_distance.evaluation.SeedSpreadResult`.
        output_filename: Save the figure to this file.
        show_plot: Show the figure with ``matplotlib.pyplot.show``.

    Returns:
        The :class:`matplotlib.figure.Figure`.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    grid = np.geomspace(result.n_masks.min(), result.n_masks.max(), 50)
    ax.loglog(result.n_masks, result.spread, "ko-", label=f"across {len(result.seeds)} seeds")
    ax.loglog(result.n_masks, result.estimated_spread, "gs--", label="single-run estimate")
    ax.loglog(grid, result.coefficient / np.sqrt(grid), "r:", label=f"{result.coefficient:.2f} / √n_masks")
    ax.set_xlabel("n_masks")
    ax.set_ylabel("mean per-pixel std")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _finish(fig, output_filename, show_plot)


def _display_range(image: np.ndarray) -> tuple[float, float]:
    low, high = float(np.min(image)), float(np.max(image))
    return (0.0, 1.0) if low >= 0 and high <= 1 else (low, high if high > low else low + 1)


def _displayable(image: np.ndarray, channels_axis: int | None, display_range: tuple[float, float]) -> np.ndarray:
    """The image as ``(H, W)`` or ``(H, W, 3)`` scaled from ``display_range`` to [0, 1] for ``imshow``."""
    if channels_axis == 0:
        image = np.moveaxis(image, 0, -1)
    if image.ndim == 3 and image.shape[-1] not in (1, 3):
        image = image.mean(axis=-1)
    image = _image_for_display(image, image.shape[:2])
    low, high = display_range
    return np.clip((image - low) / (high - low), 0, 1)


def _finish(fig, output_filename: str | Path | None, show_plot: bool):
    import matplotlib.pyplot as plt

    if output_filename is not None:
        fig.savefig(output_filename)
    if show_plot:
        plt.show()
    return fig


# -- text ---------------------------------------------------------------------------------------------------------

TextExplanation = Sequence[tuple[str, int, float]]


def plot_text_distance(
    explanation: TextExplanation,
    output_filename: str | Path | None = None,
    show_plot: bool = False,
    heatmap_range: tuple[float, float] | None = None,
    colormap: str = "bwr",
    title: str | None = None,
):
    """Highlight the words of a text explanation (DIANNA's ``highlight_text``), optionally saved as PNG.

    Args:
        explanation: One reference's explanation: a list of ``(word, index, score)``, as one item of
            :meth:`~dianna_distance.text.TextDistanceExplainer.explanation`'s list. A NaN score (a word past the
            model's maximum length) leaves the word uncoloured, and the title says how many.
        output_filename: Image file to write (``.png``); saved through the figure, whole.
        show_plot: Show the figure (in a notebook it is displayed under the cell).
        heatmap_range: ``(vmin, vmax)`` of the colour scale; default symmetric, ``±max |score|``.
        colormap: Matplotlib colour map; ``"bwr"``: red brings the text closer to the reference, blue pushes it
            away.
        title: Title above the text.

    Returns:
        The matplotlib figure.
    """
    from dianna.visualization import highlight_text

    explanation = _check_text_explanation(explanation)
    heatmap_range = heatmap_range or _symmetric_range([score for _, _, score in explanation])
    unseen = [np.isnan(score) for _, _, score in explanation]
    shown = [(word, index, None if nan else score) for (word, index, score), nan in zip(explanation, unseen)]
    fig, ax = highlight_text(shown, show_plot=show_plot, colormap=colormap, heatmap_range=heatmap_range)
    if any(unseen):  # DIANNA leaves a word without a score uncoloured
        note = f"{sum(unseen)} uncoloured words: past the model's maximum length, not seen, no score"
        title = note if title is None else f"{title}\n{note}"
    if title is not None:
        ax.set_title(title, fontsize=10, loc="left", pad=18)
    if output_filename is not None:
        _save_figure(fig, output_filename, bbox_inches="tight")
    return fig


def plot_word_deletion(
    result, output_filename: str | Path | None = None, show_plot: bool = False, title: str | None = None
):
    """Draw word deletion: the distance to the reference as words are deleted, LoDF, HiDF and random.

    Args:
        result: A :class:`~dianna_distance.evaluation.WordDeletionResult`.
        output_filename: Save the figure to this file.
        show_plot: Show the figure with ``matplotlib.pyplot.show``.
        title: Figure title.

    Returns:
        The :class:`matplotlib.figure.Figure`.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    _draw_deletion_curves(ax, result, ("most positive first", "most negative first"), ".-", "words deleted (%)")
    if title is not None:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _finish(fig, output_filename, show_plot)


class TextHighlight:
    """A text explanation as HTML: every word coloured by its score, the text's own spacing kept.

    Displays itself in Jupyter notebooks (``_repr_html_``); :meth:`save` writes an HTML file.

    Args:
        explanation: One reference's list of ``(word, index, score)``, or K such lists (one block each). A NaN
            score (a word past the model's maximum length) is shown in grey on white, with a tooltip saying so.
        text: The original text; with ``offsets``, the characters between the words are shown as they are.
            Default: words joined by spaces.
        offsets: ``(F, 2)`` character offsets of the words in ``text`` (the explainer's ``offsets_``).
        titles: One title per block (for example the reference texts).
        heatmap_range: ``(vmin, vmax)`` of the colour scale; default symmetric, ``±max |score|`` over all blocks.
        colormap: Matplotlib colour map.
    """

    def __init__(
        self,
        explanation: TextExplanation | Sequence[TextExplanation],
        text: str | None = None,
        offsets: np.ndarray | None = None,
        titles: Sequence[str] | None = None,
        heatmap_range: tuple[float, float] | None = None,
        colormap: str = "bwr",
    ) -> None:
        self.explanation = explanation
        self.text = text
        self.offsets = offsets
        self.titles = titles
        self.heatmap_range = heatmap_range
        self.colormap = colormap

    def to_html(self) -> str:
        """The HTML fragment: one ``<div>`` per reference with a ``<span>`` per word (its score as tooltip)."""
        import html

        import matplotlib.pyplot as plt
        from matplotlib.colors import Normalize, to_hex

        blocks = _text_blocks(self.explanation)
        titles = list(self.titles) if self.titles is not None else [None] * len(blocks)
        if len(titles) != len(blocks):
            raise ValueError(f"titles must have one title per explanation ({len(blocks)}), got {len(titles)}")
        offsets = self._offsets(len(blocks[0]))
        vmin, vmax = self.heatmap_range or _symmetric_range([s for block in blocks for _, _, s in block])
        cmap, norm = plt.get_cmap(self.colormap), Normalize(vmin, vmax)
        parts = ['<div class="dianna-distance-text" style="font-family: sans-serif; line-height: 1.9;">']
        for block, title in zip(blocks, titles):
            parts.append('<div style="margin-bottom: 0.6em;">')
            if title is not None:
                parts.append(f'<div style="font-size: 0.85em; color: #555;">{html.escape(str(title))}</div>')
            for index, (word, _, score) in enumerate(block):
                if index and offsets is not None:
                    gap = self.text[offsets[index - 1][1] : offsets[index][0]]
                else:
                    gap = " " if index else ""
                if np.isnan(score):  # past the model's maximum length: never seen, no score
                    tooltip, background, ink = "not seen by the model (past its maximum length): no score", \
                        "#ffffff", "#999"
                else:
                    red, green, blue, _ = cmap(norm(score))
                    tooltip, background = f"{score:+.4f}", to_hex((red, green, blue))
                    ink = "#000" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "#fff"
                parts.append(f"{html.escape(gap)}<span title=\"{tooltip}\" style=\"background-color: "
                             f"{background}; color: {ink}; padding: 0 0.15em; border-radius: "
                             f"0.2em;\">{html.escape(str(word))}</span>")
            parts.append("</div>")
        parts.append("</div>")
        return "".join(parts)

    _repr_html_ = to_html

    def save(self, path: str | Path) -> Path:
        """Write a standalone HTML page (written to a temporary name, then renamed); return its path."""
        path = Path(path)
        page = f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>{self.to_html()}</body></html>\n"
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(page, encoding="utf-8")
        os.replace(temporary, path)
        return path

    def _offsets(self, n_words: int) -> np.ndarray | None:
        if self.text is None or self.offsets is None:
            return None
        offsets = np.asarray(self.offsets)
        if offsets.shape != (n_words, 2):
            raise ValueError(f"offsets must have shape ({n_words}, 2), one pair per word, got {offsets.shape}")
        return None if np.any(offsets < 0) else offsets


def _text_blocks(explanation: object) -> list[list[tuple[str, int, float]]]:
    """One or K explanations as K lists of checked ``(word, index, score)`` tuples."""
    if isinstance(explanation, Sequence) and explanation and isinstance(explanation[0], tuple):
        return [_check_text_explanation(explanation)]
    if not isinstance(explanation, Sequence) or not explanation:
        raise TypeError("explanation must be a list of (word, index, score) tuples, or a list of such lists")
    blocks = [_check_text_explanation(block) for block in explanation]
    if len({len(block) for block in blocks}) != 1:
        raise ValueError("every explanation must have the same words")
    return blocks


def _check_text_explanation(explanation: object) -> list[tuple[str, int, float]]:
    if (not isinstance(explanation, Sequence) or not explanation
            or not all(isinstance(item, tuple) and len(item) == 3 for item in explanation)):
        raise TypeError("explanation must be a non-empty list of (word, index, score) tuples (one reference's "
                        "list; a text explainer returns one such list per reference)")
    scores = np.array([item[2] for item in explanation], dtype=float)
    if np.any(np.isinf(scores)):  # NaN is allowed: a word the model cannot see (past its maximum length)
        raise ValueError("explanation contains infinite scores")
    return [(str(word), int(index), float(score)) for word, index, score in explanation]


def _symmetric_range(scores: Sequence[float]) -> tuple[float, float]:
    finite = np.abs(np.asarray(scores, dtype=float))
    finite = finite[np.isfinite(finite)]  # NaN scores (unseen words) do not set the colour scale
    largest = float(np.max(finite)) if len(finite) else 0.0
    largest = largest if largest > 0 else 1.0
    return -largest, largest


def _save_figure(fig, output_filename: str | Path, **kwargs) -> None:
    """Save a figure whole: to a temporary name in the same folder, then renamed."""
    path = Path(output_filename)
    temporary = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(temporary, **kwargs)
    os.replace(temporary, path)


def _draw_deletion_curves(ax, result, names: tuple[str, str], style: str, xlabel: str) -> None:
    """The LoDF, HiDF and mean random curves (with the random orders' spread) of a deletion result on ``ax``."""
    percent = 100 * result.fractions
    ax.plot(percent, result.lodf, "r" + style, label=f"{names[0]} (area vs random {result.area_lodf:+.3f})")
    ax.plot(percent, result.hidf, "b" + style, label=f"{names[1]} (area vs random {result.area_hidf:+.3f})")
    ax.plot(percent, result.random_mean, "k--", label=f"random (mean ± std of {len(result.random)})")
    ax.fill_between(percent, result.random_mean - result.random_std, result.random_mean + result.random_std,
                    color="k", alpha=0.15)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("distance to reference")
