"""Plotting text explanations: highlighted words, as a PNG (through DIANNA) or as HTML."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dianna_distance.visualization.common import save_figure as _save_figure
from dianna_distance.visualization.common import symmetric_range as _symmetric_range

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
