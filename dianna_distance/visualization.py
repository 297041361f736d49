"""Plotting distance explanations over their images, on top of :func:`dianna.visualization.plot_image`."""

from __future__ import annotations

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
        panel_size: Width and height of each panel in inches.

    Returns:
        The :class:`matplotlib.figure.Figure`.
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
    limit = float(np.max(np.abs(maps))) or 1.0
    fig, axes = plt.subplots(1, len(maps), figsize=(panel_size * 1.25 * len(maps), panel_size), squeeze=False)
    for index, (ax, heatmap) in enumerate(zip(axes[0], maps)):
        plot_image(heatmap, background, heatmap_cmap=cmap, heatmap_range=(-limit, limit), show_plot=False, ax=ax)
        if titles is not None:
            ax.set_title(titles[index])
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
