"""Text plots: highlighted words saved as PNG through the figure, and HTML that notebooks display."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from PIL import Image

from dianna_distance import TextHighlight, plot_text_distance
from dianna_distance.visualization import plot_word_deletion

matplotlib.use("Agg")

EXPLANATION = [("the", 0, 0.1), ("red", 1, -0.5), ("car", 2, 0.9)]


def test_png_of_highlighted_words_is_written_and_not_blank(tmp_path):
    path = tmp_path / "words.png"
    plot_text_distance(EXPLANATION, output_filename=path, title="vs 'a car'")
    pixels = np.asarray(Image.open(path).convert("RGB"))
    assert pixels.std() > 10  # DIANNA's own save with show_plot=False would give a blank image
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    assert red.sum() > 20  # the most positive word is drawn on red


def test_html_colours_each_word_and_keeps_the_texts_own_spacing():
    text = "the red,  car"
    offsets = np.array([[0, 3], [4, 7], [10, 13]])
    html = TextHighlight(EXPLANATION, text=text, offsets=offsets).to_html()
    assert html.count('class="word') == 3
    assert ">red</span><br>" in html and "</span></span>,  <span" in html  # the characters between words
    assert 'title="+0.90"' in html and "#ff0000" in html  # the largest score is full red on bwr


def test_html_is_what_notebooks_display():
    highlight = TextHighlight(EXPLANATION)
    assert highlight._repr_html_() == highlight.to_html()


def test_html_has_one_block_per_reference_with_titles(tmp_path):
    blocks = [EXPLANATION, [(w, i, -s) for w, i, s in EXPLANATION]]
    path = TextHighlight(blocks, titles=["vs 'a car'", "vs 'a fish'"]).save(tmp_path / "words.html")
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count('class="word') == 6 and "vs &#x27;a fish&#x27;" in page


def test_words_are_escaped_in_html():
    assert "&lt;b&gt;" in TextHighlight([("<b>", 0, 1.0), ("x", 1, 0.0)]).to_html()


def test_explanation_that_is_not_word_index_score_tuples_is_rejected():
    with pytest.raises(TypeError, match=r"\(word, index, score\)"):
        plot_text_distance([0.1, 0.2])


def test_word_deletion_plot_is_written(tmp_path):
    from test_text_explainer import TEXT, BagOfWords

    from dianna_distance.evaluation import word_deletion

    model = BagOfWords(TEXT.split())
    result = word_deletion(model, TEXT, model.vector("car"), np.arange(7.0), n_random=2, progress=False)
    plot_word_deletion(result, output_filename=tmp_path / "deletion.png")
    assert (tmp_path / "deletion.png").stat().st_size > 1000
