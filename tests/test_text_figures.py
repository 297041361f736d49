"""Text figures a person understands: legends, labelled symmetric scales, readable ink, scores with error bars on
the page, non-significant and unseen words marked; and explain-text's JSON and standard-error file."""

from __future__ import annotations

import html
import json
import re

import matplotlib
import numpy as np
import pytest
from conftest_text import save_sentence_model, save_wordpiece_tokenizer
from matplotlib.colors import to_rgb
from PIL import Image

from dianna_distance import TextDistanceExplainer, TextHighlight, plot_text_distance
from dianna_distance.cli import main
from dianna_distance.models.sentence import SentenceEncoder
from dianna_distance.visualization.images import COLORBAR_LABEL
from dianna_distance.visualization.text import ink_for

matplotlib.use("Agg")

WORDS = ["the", "red", "car", "and", "a", "fish"]
SCORES = np.array([0.01, -0.9, 0.9, 0.02, np.nan, np.nan])  # "red" full blue, "car" full red, two unseen words
ERRORS = np.array([0.012, 0.01, 0.01, 0.015, np.nan, np.nan])
SIGNIFICANT = np.array([False, True, True, False, False, False])
EXPLANATION = [(word, index, float(score)) for index, (word, score) in enumerate(zip(WORDS, SCORES))]


def figure_texts(fig):
    return [text.get_text() for ax in fig.axes for text in ax.texts] + [text.get_text() for text in fig.texts]


def legend_texts(fig):
    return [text.get_text() for ax in fig.axes if ax.get_legend() for text in ax.get_legend().get_texts()]


def word_texts(fig):
    return {text.get_text(): text for ax in fig.axes for text in ax.texts if text.get_gid() == "word"}


def word_boxes(fig):
    return [patch for ax in fig.axes for patch in ax.patches if patch.get_label() == "<word>"]


def plain_text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page.replace("<br>", "\n")))


# -- PNG --------------------------------------------------------------------------------------------------------


def test_png_legend_says_what_red_and_blue_mean():
    fig = plot_text_distance(EXPLANATION)
    legend = legend_texts(fig)
    assert "red: brings the text closer to the reference" in legend and "blue: pushes it away" in legend


def test_png_colour_bar_is_labelled_and_symmetric_around_zero():
    fig = plot_text_distance(EXPLANATION)
    (colorbar_ax,) = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert colorbar_ax.get_xlabel() == COLORBAR_LABEL
    low, high = colorbar_ax.get_xlim()
    assert low == pytest.approx(-0.9) and high == pytest.approx(0.9)


def test_png_word_on_a_dark_background_has_white_ink_and_on_a_light_one_black_ink():
    fig = plot_text_distance(EXPLANATION)
    words = word_texts(fig)
    assert to_rgb(words["red"].get_color()) == (1.0, 1.0, 1.0)  # -0.9: full blue, dark
    assert to_rgb(words["the"].get_color()) == (0.0, 0.0, 0.0)  # 0.01: nearly white
    backgrounds = {word: to_rgb(box.get_facecolor()) for word, box in zip(WORDS, word_boxes(fig))}
    assert backgrounds["red"] == pytest.approx((0, 0, 1), abs=0.01) and backgrounds["car"][0] == 1.0


def test_png_white_ink_is_drawn_inside_the_dark_word(tmp_path):
    path = tmp_path / "words.png"
    plot_text_distance([("red", 0, -1.0), ("car", 1, 1.0)], output_filename=path)
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    blue = (pixels[..., 2] > 200) & (pixels[..., 0] < 60) & (pixels[..., 1] < 60)
    rows, columns = np.nonzero(blue)
    box = pixels[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    white = (box.min(axis=-1) > 200).sum()
    assert white > 20  # the word's letters, in white, inside its blue box


def test_png_writes_each_score_and_its_standard_error_under_the_word():
    texts = figure_texts(plot_text_distance(EXPLANATION, standard_error=ERRORS))
    assert "−0.900" in texts and "± 0.010" in texts and "+0.900" in texts  # 3 decimals: errors ~0.012
    assert texts.count("no score") == 2  # the unseen words


def test_png_marks_words_that_are_not_significant_and_explains_it():
    fig = plot_text_distance(EXPLANATION, standard_error=ERRORS, significant=SIGNIFICANT)
    underlines = [line for ax in fig.axes for line in ax.lines if line.get_label() == "<not significant>"]
    assert len(underlines) == 2  # "the" and "and"; the unseen words are grey, not underlined
    assert any(text.startswith("faded, dotted underline: not significant") for text in legend_texts(fig))
    faded = plot_text_distance([("a", 0, 0.9), ("b", 1, 0.9)], significant=np.array([True, False]))
    strong, weak = (to_rgb(box.get_facecolor()) for box in word_boxes(faded))
    assert strong == (1.0, 0.0, 0.0) and weak[0] == 1.0 and weak[1] > 0.5  # the same score, lighter


def test_png_draws_unseen_words_grey_with_a_legend_line():
    fig = plot_text_distance(EXPLANATION)
    backgrounds = [to_rgb(box.get_facecolor()) for box in word_boxes(fig)]
    assert backgrounds[4] == backgrounds[5] == pytest.approx(to_rgb("#d9d9d9"))
    assert any(text.startswith("grey: past the model's maximum length") for text in legend_texts(fig))
    assert not any(text.startswith("grey") for text in legend_texts(plot_text_distance(EXPLANATION[:4])))


def test_png_of_several_references_has_one_titled_block_each():
    blocks = [EXPLANATION, [(w, i, -s) for w, i, s in EXPLANATION]]
    fig = plot_text_distance(blocks, title=["vs “a car”", "vs “a fish”"], n_masks=500)
    texts = figure_texts(fig)
    assert "vs “a car”" in texts and "vs “a fish”" in texts and len(word_boxes(fig)) == 12
    assert any(text.startswith("500 masks") for text in texts)


def test_png_title_that_is_neither_a_str_nor_a_list_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="title must be a str or a list of str, got int"):
        plot_text_distance(EXPLANATION, title=3)


def test_png_keeps_a_word_and_its_punctuation_together():
    text = "the car, a fish"
    offsets = np.array([[0, 3], [4, 7], [7, 8], [9, 10], [11, 15]])
    explanation = [(w, i, 0.1) for i, w in enumerate(["the", "car", ",", "a", "fish"])]
    together = word_boxes(plot_text_distance(explanation, text=text, offsets=offsets))
    apart = word_boxes(plot_text_distance(explanation))
    gap = [boxes[2].get_x() - (boxes[1].get_x() + boxes[1].get_width()) for boxes in (together, apart)]
    assert gap[0] < gap[1]


def test_png_starts_a_new_line_where_the_text_does():
    text = "the car\na fish"
    offsets = np.array([[0, 3], [4, 7], [8, 9], [10, 14]])
    explanation = [(w, i, 0.1) for i, w in enumerate(["the", "car", "a", "fish"])]
    boxes = word_boxes(plot_text_distance(explanation, text=text, offsets=offsets))
    assert boxes[2].get_y() > boxes[1].get_y() and boxes[2].get_x() < boxes[1].get_x()
    assert boxes[0].get_y() == boxes[1].get_y()


@pytest.mark.parametrize(("keyword", "value", "error", "match"), [
    ("standard_error", np.ones(3), ValueError, r"standard_error must have one value per word.*\(6,\)"),
    ("standard_error", -np.ones(6), ValueError, "standard_error must hold finite non-negative"),
    ("significant", np.ones(6), TypeError, "significant must hold booleans"),
    ("n_masks", 0, ValueError, "n_masks must be a positive integer"),
])
def test_png_arguments_of_the_wrong_form_are_rejected_by_name(keyword, value, error, match):
    with pytest.raises(error, match=match):
        plot_text_distance(EXPLANATION, **{keyword: value})


# -- HTML -------------------------------------------------------------------------------------------------------


def test_html_shows_every_score_with_its_error_bar_on_the_page():
    page = plain_text(TextHighlight(EXPLANATION, standard_errors=ERRORS).to_html())
    assert "−0.900\n± 0.010" in page and "+0.900\n± 0.010" in page and "+0.010\n± 0.012" in page
    assert page.split("red: brings")[0].count("no score") == 2  # the unseen words, before the legend


def test_html_has_a_legend_with_the_colour_scale():
    page = TextHighlight(EXPLANATION, standard_errors=ERRORS).to_html()
    legend = plain_text(page[page.index('class="legend"'):])
    assert "red: brings the text closer to the reference" in legend and "blue: pushes it away" in legend
    assert "grey: past the model's maximum length" in legend and "its score ± its standard error" in legend
    assert "−0.9" in legend and "+0.9" in legend and COLORBAR_LABEL in legend


def test_html_marks_words_that_are_not_significant_and_explains_it():
    page = TextHighlight(EXPLANATION, standard_errors=ERRORS, significant=SIGNIFICANT).to_html()
    marked = re.findall(r'class="word not-significant"[^>]*><span[^>]*underline dotted[^>]*>(\w+)<', page)
    assert marked == ["the", "and"]
    assert "faded, dotted underline: not significant" in plain_text(page)
    assert "not significant" not in plain_text(TextHighlight(EXPLANATION).to_html())


def test_html_word_on_a_dark_background_has_white_ink():
    page = TextHighlight(EXPLANATION).to_html()
    assert re.search(r"background-color: #0000ff; color: #ffffff;[^>]*>red<", page)
    assert re.search(r"background-color: #ff0000; color: #000000;[^>]*>car<", page)


def test_html_standard_errors_of_the_wrong_shape_are_rejected_by_name():
    with pytest.raises(ValueError, match=r"standard_errors must have one value per word and explanation, shape "
                                         r"\(2, 6\)"):
        TextHighlight([EXPLANATION, EXPLANATION], standard_errors=ERRORS).to_html()


def test_ink_has_the_larger_contrast():
    assert ink_for((0, 0, 1)) == "#ffffff" and ink_for((0.5, 0.0, 0.0)) == "#ffffff"
    assert ink_for((1, 1, 1)) == "#000000" and ink_for((1, 0.8, 0.8)) == "#000000"


# -- explain-text's files -------------------------------------------------------------------------------------

LONG_TEXT = "the cat sat on a mat , the dog sat on a red car . a fish played"  # past the 16-token limit
FAST = ["--n-masks", "60", "--random-state", "0", "--no-progress"]


@pytest.fixture
def explained(tmp_path):
    model, tokenizer = tmp_path / "sentence.onnx", save_wordpiece_tokenizer(tmp_path / "tokenizer.json")
    save_sentence_model(model, dim=32)
    out = tmp_path / "words"
    assert main(["explain-text", str(model), LONG_TEXT, "--tokenizer", str(tokenizer), "--reference-text",
                 "a cat", "--reference-text", "a red car", "--output", str(out), *FAST]) == 0
    return model, tokenizer, out


def test_standard_errors_are_written_next_to_the_scores_as_the_explainer_computes_them(explained):
    model, tokenizer, out = explained
    scores, errors = np.load(out.with_suffix(".npy")), np.load(out.with_name("words_se.npy"))
    encoder = SentenceEncoder(model, tokenizer)
    explainer = TextDistanceExplainer(n_masks=60, random_state=0, tokenizer=tokenizer, progress=False)
    with pytest.warns(UserWarning, match="maximum length"):
        expected = explainer.attribute(encoder, LONG_TEXT, encoder(["a cat", "a red car"]))
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    np.testing.assert_allclose(errors, explainer.standard_error_, rtol=1e-6)
    assert errors.shape == scores.shape == (2, 18)
    assert np.array_equal(np.isnan(errors), np.isnan(scores)) and np.isnan(errors).any()
    record = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert record["significant"] == explainer.significant_.tolist()


def test_json_rounds_each_row_to_four_significant_digits_of_its_largest_value(explained):
    _, _, out = explained
    record = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    scores, errors = np.load(out.with_suffix(".npy")), np.load(out.with_name("words_se.npy"))
    for key, full in (("scores", scores), ("standard_error", errors)):
        assert len(record[key]) == 2 and len(record[key][0]) == 18
        for row, full_row in zip(record[key], full):
            decimals = 3 - int(np.floor(np.log10(np.nanmax(np.abs(full_row)))))
            for value, exact in zip(row, full_row):
                if np.isnan(exact):
                    assert value is None
                else:
                    assert value == pytest.approx(round(exact, decimals), abs=1e-12)
                    assert len(repr(value).split(".")[-1]) <= decimals and "e" not in repr(value)
    assert all(isinstance(v, bool) for row in record["significant"] for v in row)
    assert not any(record["significant"][k][i] for k in range(2) for i in range(18) if not record["seen"][i])
    assert record["n_masks_used"] == 60 and record["fdr"] == 0.05


def test_json_references_are_the_texts_themselves(explained):
    _, _, out = explained
    assert json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))["references"] == ["a cat", "a red car"]


def test_html_and_png_of_the_command_show_the_errors(explained):
    _, _, out = explained
    page = plain_text(out.with_suffix(".html").read_text(encoding="utf-8"))
    assert page.count("±") >= 2 * 14 and "vs “a cat”" in page and "vs “a red car”" in page
    assert Image.open(out.with_suffix(".png")).size[0] > 1000
