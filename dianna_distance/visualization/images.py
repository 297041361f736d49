"""Distance maps over their images: one row per reference with the image, the reference and the map."""

from __future__ import annotations

import math
import numbers
import textwrap
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dianna_distance.visualization.common import distance_text, finish_figure, new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: A reference as a figure shows it, a file (an image, or a ``.npy`` by its name), a caption, or an image array.
Reference = str | Path | np.ndarray

COLORBAR_LABEL = "attribution (+ closer, − farther)"
NOT_SIGNIFICANT = "hatched, faded: not significant\n(this run does not establish the sign)"
RED_BLUE_COLORMAPS = ("bwr", "seismic", "coolwarm", "RdBu_r")
HATCH_COLOR = "0.3"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
MIN_ALPHA, MAX_ALPHA = 0.3, 0.9  # opacity of the map over the greyscale image, at 0 and at the largest |value|
FADED = 0.35  # opacity factor of non-significant features


def plot_distance_map(
    saliency: np.ndarray,
    image: np.ndarray | None = None,
    titles: Sequence[str] | None = None,
    cmap: str = "bwr",
    output_filename: str | Path | None = None,
    show_plot: bool = False,
    panel_size: float = 3.0,
    axes: Sequence | None = None,
    *,
    references: Reference | Sequence[Reference] | None = None,
    distances: float | Sequence[float] | None = None,
    significant: np.ndarray | None = None,
    n_masks: int | None = None,
    spread: float | None = None,
    image_label: str = "image",
    colorbar_label: str = COLORBAR_LABEL,
    distance_name: object = "cosine",
) -> Figure:
    """Plot one or several distance maps: per reference, a row with the image, the reference and the map.

    Each row is titled with the pair (``titles``, or ``"<image_label> vs <reference>"``) and, when ``distances`` are
    given, the distance of the unmasked image to that reference with its name and range (``"bee.jpg vs fly.jpg — cosine
    distance 0.448 (0 to 1)"``; the cosine distance is ``(1 - cos) / 2``). Its panels are the image as it is, the
    reference (when ``references`` are given) and the map over a greyscale, lightened copy of the image, so that red and
    blue read on a colourful photo. With the default ``"bwr"`` colormap, red marks pixels that bring the image closer to
    the reference (positive attribution) and blue pixels that push it away; a legend under the rows says so.

    All rows share **one colour scale**, symmetric around 0 (``±`` the largest absolute value of all maps), with
    one labelled colour bar under the rows: the maps of one image against several references come from the same
    masks, so their values compare directly, and a weak map looks weak.

    Features that are not significant (``significant`` is False) are drawn faded (the map at lower opacity) and
    hatched, and the legend explains the hatching. ``n_masks`` and ``spread`` are written under the legend.

    With ``axes``, only the maps are drawn, one into each given axes (e.g. to build a gallery of several images),
    each with its own labelled colour bar on the shared scale; the figure is the caller's: it is neither laid out
    again nor closed.

    In Jupyter the returned figure is displayed once, whether the call ends the cell, is assigned, or ends with
    ``;`` (see :mod:`dianna_distance.visualization.common`).

    Args:
        saliency: Map ``(H, W)`` or maps ``(K, H, W)``, one row per reference.
        image: The explained image, ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)`` with C in (1, 3); values in [0, 1]
            or [0, 255].
        titles: One row title per map; default ``"<image_label> vs <reference>"``.
        cmap: A diverging matplotlib colormap.
        output_filename: Save the figure to this file (format from the extension; written whole).
        show_plot: Show the figure (in a notebook: display it under the cell).
        panel_size: Width and height of each panel in inches (unused with ``axes``).
        axes: Draw the maps into these matplotlib axes, one per map, instead of a new figure.
        references: What each map was computed against, one per map (a single one for one map): a ``str`` is a
            caption or text (shown as text), a :class:`~pathlib.Path` an image file (shown as a thumbnail) or a
            ``.npy`` embedding file (shown by its name), an array an image ``(H, W[, C])`` / ``(C, H, W)`` (shown)
            or an embedding ``(D,)``.
        distances: The distance of the unmasked image to each reference (one number per map).
        significant: Boolean array shaped like ``saliency``: True where the map's sign is established (for example
            an explainer's ``significant_``).
        n_masks: Number of masks the maps used (for example the explainer's ``n_masks_used_``), written on the
            figure.
        spread: The map's estimated spread (standard error) reached, written on the figure.
        image_label: Name of the image in the default row titles (for example its file name).
        colorbar_label: Label of the colour bar.
        distance_name: The distance ``distances`` are (the explainer's ``distance``), named in the titles with its
            range (see :data:`~dianna_distance.visualization.common.DISTANCE_RANGES`).

    Returns:
        The :class:`matplotlib.figure.Figure` drawn into.
    """
    maps = np.asarray(saliency, dtype=float)
    if maps.ndim == 2:
        maps = maps[None]
    if maps.ndim != 3 or maps.size == 0:
        raise ValueError(f"saliency must have shape (H, W) or (K, H, W) with K, H, W > 0, got {np.shape(saliency)}")
    if not np.all(np.isfinite(maps)):
        raise ValueError("saliency contains NaN or infinite values")
    count = len(maps)
    if titles is not None and len(titles) != count:
        raise ValueError(f"titles must have one entry per map ({count}), got {len(titles)}")
    if axes is not None and len(axes) != count:
        raise ValueError(f"axes must have one entry per map ({count}), got {len(axes)}")
    grey = None if image is None else desaturate(_image_for_display(np.asarray(image), maps.shape[1:]))
    reference_list = _check_references(references, count)
    distance_values = _check_distances(distances, count)
    significant = _check_significant(significant, np.shape(saliency), count)
    annotation = _annotation(n_masks, spread)
    labels = [_reference_label(reference, count, index) for index, reference in enumerate(reference_list or [None] *
                                                                                             count)]
    row_titles = [(titles[index] if titles is not None else f"{image_label} vs {labels[index]}")
                  + ("" if distance_values is None else f" — {distance_text(distance_values[index], distance_name)}")
                  for index in range(count)]
    limit = float(np.max(np.abs(maps))) or 1.0
    if axes is not None:
        fig = axes[0].figure
        for index, ax in enumerate(axes):
            drawn = draw_map(ax, maps[index], grey, None if significant is None else significant[index], limit,
                              cmap)
            ax.figure.colorbar(drawn, ax=ax).set_label(colorbar_label, fontsize=9)
            if titles is not None or distance_values is not None:
                ax.set_title(row_titles[index])
        if output_filename is not None:
            save_figure(fig, output_filename)
        if show_plot:
            import matplotlib.pyplot as plt

            plt.show()
        return fig

    columns = (["image"] if image is not None else []) + (["reference"] if reference_list is not None else []) + ["map"]
    footer = 1.45 if annotation or significant is not None else 1.2
    heights = [panel_size + 0.75] + [panel_size + 0.5] * (count - 1) + [footer]  # row 0 has the column titles
    fig = new_figure((max(panel_size * len(columns) + 0.4, 7.0), sum(heights)))
    rows = fig.subfigures(count + 1, 1, squeeze=False, height_ratios=heights)[:, 0]
    for index, row in enumerate(rows[:count]):
        row.suptitle(row_titles[index], fontsize=11)
        for column, ax in zip(columns, row.subplots(1, len(columns), squeeze=False)[0]):
            ax.set_xticks([])
            ax.set_yticks([])
            if column == "image":
                _draw_image(ax, np.asarray(image), maps.shape[1:])
            elif column == "map":
                drawn = draw_map(ax, maps[index], grey, None if significant is None else significant[index],
                                  limit, cmap)
            elif reference_list is not None:  # the reference column
                _draw_reference(ax, reference_list[index], index, panel_size)
            if index == 0:
                ax.set_title({"image": "image", "reference": "reference",
                              "map": "map" + (" (over a greyscale copy)" if grey is not None else "")}[column],
                             fontsize=9)
    _draw_footer(rows[count], drawn, colorbar_label, cmap, limit, significant is not None, annotation)
    return finish_figure(fig, output_filename, show_plot)


def desaturate(image: np.ndarray) -> np.ndarray:
    """A greyscale, lightened copy ``(H, W)`` in [0.45, 1] of an ``(H, W)`` or ``(H, W, 3)`` image in [0, 1]."""
    luminance = image @ np.array([0.299, 0.587, 0.114]) if image.ndim == 3 else image
    return 0.45 + 0.55 * np.clip(luminance, 0, 1)


def _image_for_display(image: np.ndarray, map_shape: tuple[int, int]) -> np.ndarray:
    """The image as ``(H, W)`` or ``(H, W, 3)`` in [0, 1] (values above 1 are read as 0-255) for ``imshow``."""
    if image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[1:] == map_shape:
        image = np.moveaxis(image, 0, -1)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.shape[:2] != map_shape or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        raise ValueError(f"image must be (H, W), (H, W, C) or (C, H, W) with (H, W) = {map_shape} and C in (1, 3), "
                         f"got shape {image.shape}")
    image = image.astype(float)
    if np.min(image) < 0 or np.max(image) > 255:
        warnings.warn(f"image values span [{np.min(image):.3g}, {np.max(image):.3g}], outside [0, 1] and [0, 255]: "
                      "the figure shows them clipped; pass the image before normalisation", stacklevel=3)
    return image / 255.0 if np.max(image) > 1 else image


def _draw_image(ax, image: np.ndarray, map_shape: tuple[int, int]) -> None:
    shown = _image_for_display(image, map_shape)
    ax.imshow(np.clip(shown, 0, 1), cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1)


def draw_map(ax, heatmap: np.ndarray, grey: np.ndarray | None, significant: np.ndarray | None, limit: float,
             cmap: str):
    """Draw a map ``(H, W)`` on ``ax``, non-significant features faded and hatched; return its image artist.

    Over a greyscale image ``(H, W)`` in [0, 1] when ``grey`` is given, with an opacity growing with
    ``|value| / limit``.
    """
    if grey is not None:
        ax.imshow(grey, cmap="gray", vmin=0, vmax=1)
        # the image shows where the map is ~0
        alpha = MIN_ALPHA + (MAX_ALPHA - MIN_ALPHA) * np.clip(np.abs(heatmap) / limit, 0, 1)
    else:
        alpha = np.ones(heatmap.shape)
    if significant is not None:
        alpha[~significant] *= FADED
    drawn = ax.imshow(heatmap, cmap=cmap, vmin=-limit, vmax=limit, alpha=alpha)
    if significant is not None and not significant.all():
        import matplotlib

        outside = (~significant).astype(float)
        with matplotlib.rc_context({"hatch.color": HATCH_COLOR, "hatch.linewidth": 0.6}):
            ax.contourf(outside, levels=[0.5, 1.5], colors="none", hatches=["//"])
        ax.contour(outside, levels=[0.5], colors=HATCH_COLOR, linewidths=0.6)
    ax.set_xticks([])
    ax.set_yticks([])
    return drawn


def _draw_reference(ax, reference: Reference, index: int, panel_size: float) -> None:
    """The reference: a thumbnail, a caption, or the name of an embedding file."""
    if isinstance(reference, np.ndarray) and reference.ndim in (2, 3):
        shown = reference.astype(float)
        if shown.ndim == 3 and shown.shape[0] in (1, 3) and shown.shape[-1] not in (1, 3):
            shown = np.moveaxis(shown, 0, -1)
        shown = shown[..., 0] if shown.ndim == 3 and shown.shape[-1] == 1 else shown
        shown = shown / 255.0 if np.max(shown) > 1 else shown
        ax.imshow(np.clip(shown, 0, 1), cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1)
        return
    if isinstance(reference, Path) and reference.suffix.lower() in IMAGE_SUFFIXES:
        from PIL import Image

        with Image.open(reference) as opened:
            thumbnail = opened.convert("RGB")
            thumbnail.thumbnail((256, 256))
        ax.imshow(np.asarray(thumbnail))
        return
    if isinstance(reference, Path):
        text, size = f"{reference.name}\n(embedding file)" if reference.suffix.lower() == ".npy" \
            else reference.name, 10
    elif isinstance(reference, np.ndarray):
        text, size = f"embedding\n({reference.size} values)", 10
    else:
        width = max(12, int(panel_size * 72 / (0.6 * 12)))
        text, size = "\n".join(textwrap.wrap(f"“{reference}”", width)[:8]), 12
    ax.set_facecolor("0.96")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=size, transform=ax.transAxes)


def _draw_footer(footer, drawn, label: str, cmap: str, limit: float, hatched: bool, annotation: str) -> None:
    """The shared colour bar, the legend of the colours (and hatching), and the run's annotation."""
    from matplotlib.patches import Patch

    colormap = drawn.get_cmap()
    cax = footer.add_axes([0.05, 0.62, 0.38, 0.13], label="<colorbar>")
    colorbar = footer.colorbar(drawn, cax=cax, orientation="horizontal")
    colorbar.set_label(label, fontsize=9)
    colorbar.set_ticks([-limit, -limit / 2, 0, limit / 2, limit], labels=[f"{tick:.2g}".replace("-", "−") for tick in
                                                                       (-limit, -limit / 2, 0, limit / 2, limit)])
    colorbar.ax.tick_params(labelsize=8)
    colorbar.solids.set_alpha(1)
    red_blue = cmap in RED_BLUE_COLORMAPS
    handles = [Patch(facecolor=colormap(1.0), label=("red" if red_blue else "positive")
                     + ": brings the image closer to the reference"),
               Patch(facecolor=colormap(0.0), label=("blue" if red_blue else "negative") + ": pushes it away")]
    if hatched:
        handles.append(Patch(facecolor="white", edgecolor="0.25", hatch="//", label=NOT_SIGNIFICANT))
    legend_ax = footer.add_axes([0.46, 0.0, 0.54, 1.0])
    legend_ax.axis("off")
    legend_ax.legend(handles=handles, loc="center left", fontsize=9, frameon=False)
    if annotation:
        footer.text(0.05, 0.12, annotation, fontsize=9)


def _annotation(n_masks: object, spread: object) -> str:
    parts = []
    if n_masks is not None:
        if isinstance(n_masks, bool) or not isinstance(n_masks, numbers.Integral) or n_masks < 1:
            raise ValueError(f"n_masks must be a positive integer or None, got {n_masks!r}")
        parts.append(f"{int(n_masks)} masks")
    if spread is not None:
        if isinstance(spread, bool) or not isinstance(spread, numbers.Real) or not math.isfinite(spread) or spread < 0:
            raise ValueError(f"spread must be a non-negative number or None, got {spread!r}")
        parts.append(f"estimated spread (standard error) of the map: {float(spread):.2g}")
    return "; ".join(parts)


def _check_references(references: object, count: int) -> list[Reference] | None:
    if references is None:
        return None
    if isinstance(references, (str, Path, np.ndarray)):
        if count != 1:
            raise ValueError(f"references must be a list with one reference per map ({count}), got a single one")
        references = [references]
    if not isinstance(references, Sequence) or len(references) != count:
        raise ValueError(f"references must have one entry per map ({count}), got {references!r}")
    for index, reference in enumerate(references):
        if not isinstance(reference, (str, Path, np.ndarray)):
            raise TypeError(f"references[{index}] must be a caption (str), a file (pathlib.Path) or an array, got "
                            f"{type(reference).__name__}")
        if isinstance(reference, Path) and reference.suffix.lower() in IMAGE_SUFFIXES and not reference.is_file():
            raise FileNotFoundError(f"references[{index}]: image file {reference} does not exist")
        if isinstance(reference, np.ndarray) and reference.ndim not in (1, 2, 3):
            raise ValueError(f"references[{index}] must be an embedding (D,) or an image (H, W[, C]) / (C, H, W), "
                             f"got shape {reference.shape}")
    return list(references)


def _check_distances(distances: object, count: int) -> np.ndarray | None:
    if distances is None:
        return None
    values = np.atleast_1d(np.asarray(distances, dtype=float))
    if values.shape != (count,):
        raise ValueError(f"distances must have one number per map ({count}), got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("distances must be finite numbers")
    return values


def _check_significant(significant: object, shape: tuple[int, ...], count: int) -> np.ndarray | None:
    if significant is None:
        return None
    values = np.asarray(significant)
    if values.dtype != bool:
        raise TypeError(f"significant must be a boolean array, got dtype {values.dtype}")
    if values.shape != tuple(shape):
        raise ValueError(f"significant must have the shape of the map {tuple(shape)}, got {values.shape}")
    return values.reshape(count, *values.shape[-2:])


def _reference_label(reference: Reference | None, count: int, index: int) -> str:
    """How a row title names the reference."""
    if isinstance(reference, Path):
        return reference.name
    if isinstance(reference, str):
        return f"“{reference}”"
    if isinstance(reference, np.ndarray):
        return "the reference embedding" if reference.ndim == 1 else "the reference image"
    return "the reference" if count == 1 else f"reference {index + 1}"
