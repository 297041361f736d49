"""Plotting text explanations: highlighted words as a PNG (drawn with matplotlib) or as HTML.

Both figures read the same way: a word's background is its score on a diverging colour scale, symmetric around 0
(with ``"bwr"``, red brings the text closer to the reference, blue pushes it away); the ink is white on dark
backgrounds and black on light ones; each word's score, and its standard error when given, is written under it.
Words whose sign the run does not establish (``significant`` False) are faded and underlined with dots; words the
model never sees (a NaN score: past its maximum length) are grey. A legend explains each of these.
"""

from __future__ import annotations

import html
import math
import os
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dianna_distance.visualization.common import finish_figure, new_figure
from dianna_distance.visualization.common import symmetric_range as _symmetric_range
from dianna_distance.visualization.images import COLORBAR_LABEL, FADED, RED_BLUE_COLORMAPS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: One reference's explanation in DIANNA's format, ``(word, word index, score)`` per word.
TextExplanation = Sequence[tuple[str, int, float]]

CLOSER = "brings the text closer to the reference"
FARTHER = "pushes it away"
NOT_SIGNIFICANT = "faded, dotted underline: not significant (this run does not establish the sign)"
UNSEEN = "grey: past the model's maximum length, never seen by it: no score"
UNSEEN_BACKGROUND, UNSEEN_INK = "#d9d9d9", "#6e6e6e"
LIGHT_INK, DARK_INK = "#ffffff", "#000000"

# PNG layout, in points (1/72 inch)
FONT_SIZE, SCORE_SIZE, TITLE_SIZE = 12.0, 7.0, 10.0
PAGE_WIDTH, MARGIN, PAD = 720.0, 18.0, 2.5


def plot_text_distance(
    explanation: TextExplanation | Sequence[TextExplanation],
    output_filename: str | Path | None = None,
    show_plot: bool = False,
    heatmap_range: tuple[float, float] | None = None,
    colormap: str = "bwr",
    title: str | Sequence[str] | None = None,
    *,
    standard_error: np.ndarray | Sequence[float] | None = None,
    significant: np.ndarray | Sequence[bool] | None = None,
    text: str | None = None,
    offsets: np.ndarray | None = None,
    n_masks: int | None = None,
    show_scores: bool = True,
) -> Figure:
    """Highlight the words of a text explanation as a figure (one block per reference), optionally saved as PNG.

    Every word is drawn on its colour, with white ink on dark colours and black ink on light ones, and its score
    (``± standard error`` when given) in small print under it. Below the text: a labelled colour bar, symmetric
    around 0 and shared by all blocks, and a legend (red: brings the text closer to the reference; blue: pushes it
    away; faded with a dotted underline: not significant; grey: not seen by the model).

    Args:
        explanation: One reference's explanation, a list of ``(word, index, score)`` (one item of
            :meth:`~dianna_distance.text.TextDistanceExplainer.explanation`'s list), or K such lists (one block
            each). A NaN score (a word past the model's maximum length) draws the word in grey.
        output_filename: Image file to write (``.png``); written whole.
        show_plot: Show the figure (in a notebook it is displayed under the cell).
        heatmap_range: ``(vmin, vmax)`` of the colour scale; default symmetric, ``±max |score|`` over all blocks.
        colormap: A diverging matplotlib colour map; ``"bwr"``: red brings the text closer, blue pushes it away.
        title: A title per block (a string for one block), for example ``'vs “a cat”'``.
        standard_error: Per word standard error of the score, ``(F,)`` or ``(K, F)`` (the explainer's
            ``standard_error_``); written as ``± error`` under each score.
        significant: Per word booleans, ``(F,)`` or ``(K, F)`` (the explainer's ``significant_``): False words are
            faded and underlined with dots.
        text: The original text; with ``offsets``, a line break of the text is kept and words written together in
            the text (a word and its punctuation) are drawn without a space between them.
        offsets: ``(F, 2)`` character offsets of the words in ``text`` (the explainer's ``offsets_``).
        n_masks: Number of masks used (the explainer's ``n_masks_used_``), written under the legend.
        show_scores: Write each word's score (and error) under it.

    Returns:
        The matplotlib figure (displayed once in Jupyter, see :mod:`dianna_distance.visualization.common`).
    """
    blocks = _text_blocks(explanation)
    count, n_words = len(blocks), len(blocks[0])
    titles = _check_titles(title, count, "title")
    if n_masks is not None and (isinstance(n_masks, bool) or not isinstance(n_masks, (int, np.integer))
                                or n_masks < 1):
        raise ValueError(f"n_masks must be a positive integer or None, got {n_masks!r}")

    errors = _per_block(standard_error, "standard_error", count, n_words, float)
    marks = _per_block(significant, "significant", count, n_words, bool)
    gaps = _gaps(n_words, text, offsets)
    scores = np.array([[score for _, _, score in block] for block in blocks])
    vmin, vmax = heatmap_range or _symmetric_range(scores.ravel())
    painter = _Painter(colormap, vmin, vmax)
    decimals = _decimals(max(abs(vmin), abs(vmax)), errors)

    measure = _Measure()
    space = measure.width(" ", FONT_SIZE)
    word_height = FONT_SIZE * 1.25 + 2 * PAD
    score_lines = (2 if errors is not None else 1) if show_scores else 0
    line_height = word_height + score_lines * SCORE_SIZE * 1.25 + 8
    chars_per_line = int((PAGE_WIDTH - 2 * MARGIN) / (0.55 * TITLE_SIZE))
    layouts = []
    for index, block in enumerate(blocks):
        labels = [_score_labels(score, None if errors is None else errors[index][k], decimals) if show_scores
                  else [] for k, (_, _, score) in enumerate(block)]
        widths = [max([measure.width(word, FONT_SIZE) + 2 * PAD]
                      + [measure.width(label, SCORE_SIZE) for label in labels[k]]) for k, (word, _, _) in
                  enumerate(block)]
        title_lines = [] if titles is None else textwrap.wrap(titles[index], chars_per_line)[:4]
        layouts.append((labels, title_lines, _place(widths, gaps, space, PAGE_WIDTH - 2 * MARGIN)))
    footer = 90.0
    heights = [len(title_lines) * TITLE_SIZE * 1.3 + 4 + lines * line_height + 8
               for _, title_lines, (_, lines) in layouts]
    total = MARGIN + sum(heights) + footer
    fig = new_figure((PAGE_WIDTH / 72, total / 72), layout=None)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, PAGE_WIDTH)
    ax.set_ylim(total, 0)  # y in points from the top
    ax.axis("off")

    from matplotlib.patches import FancyBboxPatch

    top = MARGIN
    for index, (block, (labels, title_lines, (positions, _))) in enumerate(zip(blocks, layouts)):
        for title_line in title_lines:
            ax.text(MARGIN, top, title_line, fontsize=TITLE_SIZE, va="top", ha="left", parse_math=False)
            top += TITLE_SIZE * 1.3
        top += 4
        for k, ((word, _, score), (x, line, box)) in enumerate(zip(block, positions)):
            width = measure.width(word, FONT_SIZE) + 2 * PAD
            centre = MARGIN + x + box / 2
            y = top + line * line_height
            faded = marks is not None and not marks[index][k] and not np.isnan(score)
            background, ink = painter.colours(score, faded)
            ax.add_patch(FancyBboxPatch((centre - width / 2, y), width, word_height, boxstyle="round,pad=0,"
                                        "rounding_size=2.5", facecolor=background, edgecolor="none",
                                        label="<word>"))
            ax.text(centre, y + word_height / 2, word, fontsize=FONT_SIZE, color=ink, ha="center", va="center",
                    parse_math=False, gid="word")
            if faded:
                ax.plot([centre - width / 2, centre + width / 2], [y + word_height + 1.5] * 2, color="0.35",
                        linestyle=(0, (1, 1.5)), linewidth=1.2, label="<not significant>")
            for number, label in enumerate(labels[k]):
                ax.text(centre, y + word_height + 4 + number * SCORE_SIZE * 1.25, label, fontsize=SCORE_SIZE,
                        color="0.3", ha="center", va="top", parse_math=False)
        top += heights[index] - len(title_lines) * TITLE_SIZE * 1.3 - 4
    unseen = bool(np.isnan(scores).any())
    faded_any = marks is not None and bool((~marks & ~np.isnan(scores)).any())
    _draw_footer(fig, painter, footer / total, colormap, faded_any, unseen, n_masks, show_scores, errors is not None)
    return finish_figure(fig, output_filename, show_plot, dpi=150)


class TextHighlight:
    """A text explanation as HTML: every word coloured by its score, with its score and error bar under it.

    The page shows, for each word, its score (``+0.031 ± 0.008`` when standard errors are given), the text's own
    spacing, and a legend with the colour scale: red brings the text closer to the reference, blue pushes it away;
    words that are not significant are faded with a dotted underline; words the model never sees are grey.
    Displays itself in Jupyter notebooks (``_repr_html_``); :meth:`save` writes an HTML file.

    Args:
        explanation: One reference's list of ``(word, index, score)``, or K such lists (one block each). A NaN
            score (a word past the model's maximum length) is shown in grey, without a score.
        text: The original text; with ``offsets``, the characters between the words are shown as they are.
            Default: words joined by spaces.
        offsets: ``(F, 2)`` character offsets of the words in ``text`` (the explainer's ``offsets_``).
        titles: One title per block (for example ``'vs “a cat”'``).
        heatmap_range: ``(vmin, vmax)`` of the colour scale; default symmetric, ``±max |score|`` over all blocks.
        colormap: Matplotlib colour map.
        standard_errors: Per word standard errors, ``(F,)`` for one block or ``(K, F)`` (the explainer's
            ``standard_error_``).
        significant: Per word booleans, ``(F,)`` or ``(K, F)`` (the explainer's ``significant_``).
    """

    def __init__(
        self,
        explanation: TextExplanation | Sequence[TextExplanation],
        text: str | None = None,
        offsets: np.ndarray | None = None,
        titles: Sequence[str] | None = None,
        heatmap_range: tuple[float, float] | None = None,
        colormap: str = "bwr",
        standard_errors: np.ndarray | Sequence | None = None,
        significant: np.ndarray | Sequence | None = None,
    ) -> None:
        self.explanation = explanation
        self.text = text
        self.offsets = offsets
        self.titles = titles
        self.heatmap_range = heatmap_range
        self.colormap = colormap
        self.standard_errors = standard_errors
        self.significant = significant

    def to_html(self) -> str:
        """The HTML fragment: a block per reference (a ``<span>`` per word, its score under it), then a legend."""
        blocks = _text_blocks(self.explanation)
        count, n_words = len(blocks), len(blocks[0])
        titles = list(self.titles) if self.titles is not None else [None] * count
        if len(titles) != count:
            raise ValueError(f"titles must have one title per explanation ({count}), got {len(titles)}")
        errors = _per_block(self.standard_errors, "standard_errors", count, n_words, float)
        marks = _per_block(self.significant, "significant", count, n_words, bool)
        gaps = [gap.replace("\n", " ") for gap in _gaps(n_words, self.text, self.offsets)]
        scores = np.array([[score for _, _, score in block] for block in blocks])
        vmin, vmax = self.heatmap_range or _symmetric_range(scores.ravel())
        painter = _Painter(self.colormap, vmin, vmax)
        decimals = _decimals(max(abs(vmin), abs(vmax)), errors)
        parts = ['<div class="dianna-distance-text" style="font-family: sans-serif; line-height: 1.3;">']
        for index, (block, title) in enumerate(zip(blocks, titles)):
            parts.append('<div class="block" style="margin-bottom: 0.9em;">')
            if title is not None:
                parts.append(f'<div class="title" style="font-size: 0.9em; color: #444; margin-bottom: 0.3em;">'
                             f'{html.escape(str(title))}</div>')
            for k, (word, _, score) in enumerate(block):
                error = None if errors is None else errors[index][k]
                faded = marks is not None and not marks[index][k] and not np.isnan(score)
                parts.append(html.escape(gaps[k]))
                parts.append(_word_html(word, score, error, faded, painter, decimals))
            parts.append("</div>")
        parts.append(_legend_html(painter, self.colormap, marks is not None and bool((~marks & ~np.isnan(scores))
                                                                                     .any()),
                                  bool(np.isnan(scores).any()), errors is not None))
        parts.append("</div>")
        return "".join(parts)

    _repr_html_ = to_html

    def page_title(self) -> str:
        """The title of the standalone page: ``Distance Explainer: <titles>``, or the start of the text."""
        if self.titles:
            named = "; ".join(str(title) for title in self.titles)
        else:
            first = _text_blocks(self.explanation)[0]
            words = self.text if self.text is not None else " ".join(str(word) for word, _, _ in first)
            named = words if len(words) <= 60 else words[:59].rstrip() + "…"
        return f"Distance Explainer: {named}"

    def save(self, path: str | Path) -> Path:
        """Write a standalone HTML page (written to a temporary name, then renamed); return its path.

        The page's ``<title>`` (the browser tab's name) is the blocks' titles, or else the start of the text.
        """
        path = Path(path)
        page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(self.page_title())}"
                f"</title></head><body>{self.to_html()}</body></html>\n")
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(page, encoding="utf-8")
        os.replace(temporary, path)
        return path


# -- colours and numbers ------------------------------------------------------------------------------------------


class _Painter:
    """Background and ink of a word: the score's colour (faded when not significant), ink by luminance."""

    def __init__(self, colormap: str, vmin: float, vmax: float) -> None:
        import matplotlib
        from matplotlib.colors import Normalize

        self.cmap, self.norm = matplotlib.colormaps[colormap], Normalize(vmin, vmax)
        self.vmin, self.vmax = float(vmin), float(vmax)  # as the norm holds them

    def colours(self, score: float, faded: bool = False) -> tuple[str, str]:
        from matplotlib.colors import to_hex

        if np.isnan(score):
            return UNSEEN_BACKGROUND, UNSEEN_INK
        rgb = np.array(self.cmap(self.norm(score))[:3])
        if faded:
            rgb = FADED * rgb + (1 - FADED)  # over white, as the image map's non-significant pixels
        return to_hex(tuple(rgb)), ink_for(rgb)


def ink_for(rgb: Sequence[float] | np.ndarray) -> str:
    """White ink on a dark background, black on a light one (relative luminance, WCAG contrast)."""
    linear = [value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4 for value in rgb[:3]]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    # the ink with the larger contrast ratio: white wins below a luminance of about 0.18
    return LIGHT_INK if (1.05 / (luminance + 0.05)) > ((luminance + 0.05) / 0.05) else DARK_INK


def _decimals(limit: float, errors: np.ndarray | None) -> int:
    """Decimals of the scores shown.

    One significant digit of the typical (median) standard error, two if it starts with 1; without errors, two
    significant digits of the largest score.
    """
    finite = None if errors is None else errors[np.isfinite(errors) & (errors > 0)]
    if finite is not None and finite.size:
        typical = float(np.median(finite))
        exponent = math.floor(math.log10(typical))
        digits = -exponent + (1 if typical / 10**exponent < 2 else 0)
    else:
        digits = 1 - math.floor(math.log10(limit)) if limit > 0 else 3
    return int(min(max(digits, 1), 8))


def _format(value: float, decimals: int, sign: bool = True) -> str:
    return (f"{value:+.{decimals}f}" if sign else f"{value:.{decimals}f}").replace("-", "−")


def _tick(value: float) -> str:
    return f"{value:+.2g}".replace("-", "−") if value else "0"


def _score_labels(score: float, error: float | None, decimals: int) -> list[str]:
    """The small print under a word: its score, and ``± error``."""
    if np.isnan(score):
        return ["no score"]
    labels = [_format(score, decimals)]
    if error is not None and np.isfinite(error):
        labels.append("± " + _format(error, decimals, sign=False))
    return labels


# -- checks ---------------------------------------------------------------------------------------------------------


def _per_block(values: object, name: str, count: int, n_words: int, kind: type) -> np.ndarray | None:
    """``(F,)`` or ``(K, F)`` per-word values as a ``(K, F)`` array, or None."""
    if values is None:
        return None
    array = np.asarray(values)
    if kind is bool and array.dtype != bool:
        raise TypeError(f"{name} must hold booleans (the explainer's significant_), got dtype {array.dtype}")
    if kind is float:
        array = array.astype(float)
        if np.any(array[np.isfinite(array)] < 0) or np.any(np.isinf(array)):
            raise ValueError(f"{name} must hold finite non-negative numbers (NaN for a word without a score)")
    if array.ndim == 1 and count == 1:
        array = array[None]
    if array.shape != (count, n_words):
        expected = f"({n_words},)" if count == 1 else f"({count}, {n_words})"
        raise ValueError(f"{name} must have one value per word and explanation, shape {expected}, got "
                         f"{array.shape}")
    return array


def _check_titles(title: object, count: int, name: str) -> list[str] | None:
    if title is None:
        return None
    if isinstance(title, str):
        titles: list[object] = [title]
    elif isinstance(title, Iterable):
        titles = list(title)
    else:
        raise TypeError(f"{name} must be a str or a list of str, got {type(title).__name__}")
    if len(titles) != count:
        raise ValueError(f"{name} must have one title per explanation ({count}), got {len(titles)}")
    return [str(item) for item in titles]


def _gaps(n_words: int, text: str | None, offsets: np.ndarray | None) -> list[str]:
    """What comes before each word: the text's own characters between the words, or a space."""
    default = [""] + [" "] * (n_words - 1)
    if text is None or offsets is None:
        return default
    offsets = np.asarray(offsets)
    if offsets.shape != (n_words, 2):
        raise ValueError(f"offsets must have shape ({n_words}, 2), one pair per word, got {offsets.shape}")
    if np.any(offsets < 0):
        return default
    return [""] + [text[offsets[k - 1][1] : offsets[k][0]] for k in range(1, n_words)]


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


# -- PNG ------------------------------------------------------------------------------------------------------------


class _Measure:
    """Widths of strings in points, measured by Agg (at 72 dpi a pixel is a point)."""

    def __init__(self) -> None:
        from matplotlib.backends.backend_agg import RendererAgg

        self.renderer = RendererAgg(10, 10, 72)

    def width(self, string: str, size: float) -> float:
        from matplotlib.font_manager import FontProperties

        if not string:
            return 0.0
        width, _, _ = self.renderer.get_text_width_height_descent(string, FontProperties(size=size), ismath=False)
        return float(width)


def _place(widths: list[float], gaps: list[str], space: float, line_width: float
           ) -> tuple[list[tuple[float, int, float]], int]:
    """Where each word goes: ``(x, line, width)`` per word, wrapped at ``line_width``; and the number of lines."""
    positions, x, line = [], 0.0, 0
    for width, gap in zip(widths, gaps):
        if x and ("\n" in gap or x + space + width > line_width):
            x, line = 0.0, line + 1
        step = 0.0 if not x else (max(space, 7.0) if gap else 5.0)  # words written together stay closer
        positions.append((x + step, line, width))
        x += step + width
    return positions, line + 1


def _draw_footer(fig, painter: _Painter, height: float, colormap: str, faded: bool, unseen: bool,
                 n_masks: int | None, scores_shown: bool, errors: bool) -> None:
    """The labelled colour bar (symmetric around 0), the legend, and the number of masks."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.patches import Patch

    vmin, vmax = painter.vmin, painter.vmax
    cax = fig.add_axes((0.04, height * 0.62, 0.38, height * 0.12), label="<colorbar>")
    colorbar = fig.colorbar(ScalarMappable(norm=painter.norm, cmap=painter.cmap), cax=cax, orientation="horizontal")
    colorbar.set_label(COLORBAR_LABEL, fontsize=9)
    ticks = [vmin, (vmin + vmax) / 2, vmax] if vmin != -vmax else [vmin, vmin / 2, 0.0, vmax / 2, vmax]
    colorbar.set_ticks(ticks, labels=[_tick(tick) for tick in ticks])
    colorbar.ax.tick_params(labelsize=8)
    red_blue = colormap in RED_BLUE_COLORMAPS
    handles = [Patch(facecolor=painter.cmap(1.0), label=("red" if red_blue else "positive") + ": " + CLOSER),
               Patch(facecolor=painter.cmap(0.0), label=("blue" if red_blue else "negative") + ": " + FARTHER)]
    if faded:
        handles.append(Patch(facecolor=tuple(FADED * np.array(painter.cmap(1.0)[:3]) + 1 - FADED), edgecolor="0.35",
                             linestyle=":", label="\n".join(textwrap.wrap(NOT_SIGNIFICANT, 48))))
    if unseen:
        handles.append(Patch(facecolor=UNSEEN_BACKGROUND, label=UNSEEN))
    legend_ax = fig.add_axes((0.47, 0.0, 0.53, height), label="<legend>")
    legend_ax.axis("off")
    legend_ax.legend(handles=handles, loc="center left", fontsize=8.5, frameon=False)
    notes = ([f"{int(n_masks)} masks"] if n_masks is not None else []) + (
        [f"under each word: its score{' ± its standard error' if errors else ''}"] if scores_shown else [])
    if notes:
        fig.text(0.04, height * 0.12, "; ".join(notes), fontsize=8.5)


# -- HTML -----------------------------------------------------------------------------------------------------------


def _word_html(word: str, score: float, error: float | None, faded: bool, painter: _Painter, decimals: int) -> str:
    background, ink = painter.colours(score, faded)
    labels = _score_labels(score, error, decimals)
    if np.isnan(score):
        tooltip = "not seen by the model (past its maximum length): no score"
    else:
        tooltip = " ".join(labels) + ("; not significant" if faded else "")
    underline = " text-decoration: underline dotted #555; text-underline-offset: 0.2em;" if faded else ""
    kind = "word unseen" if np.isnan(score) else "word not-significant" if faded else "word"
    return (f'<span class="{kind}" title="{html.escape(tooltip)}" style="display: inline-block; text-align: center; '
            f'vertical-align: top; margin: 0.15em 0.2em;">'
            f'<span style="background-color: {background}; color: {ink}; padding: 0.05em 0.2em; border-radius: '
            f'0.2em;{underline}">{html.escape(word)}</span><br>'
            f'<span class="score" style="font-size: 0.68em; line-height: 1.25; color: #555; white-space: nowrap; '
            f'display: inline-block;">'
            f'{"<br>".join(html.escape(label) for label in labels)}</span></span>')


def _legend_html(painter: _Painter, colormap: str, faded: bool, unseen: bool, errors: bool) -> str:
    from matplotlib.colors import to_hex

    vmin, vmax = painter.vmin, painter.vmax
    stops = ", ".join(to_hex(painter.cmap(value)) for value in np.linspace(0, 1, 11))
    red_blue = colormap in RED_BLUE_COLORMAPS

    def swatch(background: str, style: str = "") -> str:
        return (f'<span style="display: inline-block; width: 1.6em; height: 0.9em; vertical-align: middle; '
                f'background: {background}; border-radius: 0.2em;{style}"></span> ')

    lines = [swatch(to_hex(painter.cmap(1.0))) + ("red" if red_blue else "positive") + ": " + CLOSER,
             swatch(to_hex(painter.cmap(0.0))) + ("blue" if red_blue else "negative") + ": " + FARTHER]
    if faded:
        lines.append(swatch(painter.colours(vmax, faded=True)[0], " border-bottom: 2px dotted #555;")
                     + html.escape(NOT_SIGNIFICANT))
    if unseen:
        lines.append(swatch(UNSEEN_BACKGROUND) + html.escape(UNSEEN))
    lines.append("under each word: its score" + (" ± its standard error" if errors else ""))
    scale = (f'<div class="colour-scale" style="margin-top: 0.3em;"><span>{_tick(vmin)}</span>'
             f'<span style="display: inline-block; width: 12em; height: 0.8em; margin: 0 0.4em; vertical-align: '
             f'middle; background: linear-gradient(to right, {stops});"></span><span>{_tick(vmax)}</span>'
             f'<span style="color: #555; margin-left: 0.8em;">{html.escape(COLORBAR_LABEL)}</span></div>')
    return ('<div class="legend" style="font-size: 0.8em; color: #333; border-top: 1px solid #ddd; '
            'padding-top: 0.4em; margin-top: 0.4em;">' + "".join(f"<div>{line}</div>" for line in lines) + scale
            + "</div>")
