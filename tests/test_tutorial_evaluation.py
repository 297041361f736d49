"""The evaluation tutorial runs from top to bottom on a stand-in for EfficientNet-Lite0 and shows its results.

Its committed outputs come from the real EfficientNet-Lite0 and the paper's bee and fly. Here it reads the same
images from the repository's ``data/images``, and a first cell points the model cache at a small stand-in with the
same input and output layout (see ``conftest_tutorials``).
"""

import re

import conftest_tutorials as tutorials
import pytest


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    return tutorials.run_tutorial("evaluation.ipynb", tmp_path_factory.mktemp("evaluation"))


def test_the_tutorial_runs_on_the_stand_in_model_file_and_the_papers_images(executed):
    assert "model efficientnet-lite0.onnx" in tutorials.printed(executed)
    assert re.search(r"image \(224, 224, 3\) reference \(1000,\)", tutorials.printed(executed))
    assert "distance of bee.jpg to fly.jpg:" in tutorials.printed(executed)


def test_the_tutorial_shows_the_map_and_the_plots_of_all_four_metrics(executed):
    sources = [cell.source for cell in tutorials.figure_cells(executed)]
    assert len(sources) == 5  # map, deletion, sensitivity, randomisation, seed spread
    assert "significant=" in sources[0]
    assert [name for name in ("plot_incremental_deletion", "plot_sensitivity", "plot_randomisation",
                              "plot_seed_spread") if any(name in source for source in sources[1:])] == \
        ["plot_incremental_deletion", "plot_sensitivity", "plot_randomisation", "plot_seed_spread"]


def test_the_tutorial_reports_deletion_areas_and_both_sensitivities(executed):
    printed = tutorials.printed(executed)
    assert re.search(r"area between LoDF and random: [-+]\d\.\d{3}", printed)
    assert re.search(r"area between HiDF and random: [-+]\d\.\d{3}", printed)
    assert re.search(r"average sensitivity, Gaussian 10% of the range: \d\.\d{3}", printed)
    assert re.search(r"average sensitivity, uniform ±0.2/255: +\d\.\d{3}", printed)


def test_the_tutorial_reports_the_randomisation_table_and_the_masks_used(executed):
    printed = tutorials.printed(executed)
    assert re.search(r"^layer\s+top_down\s+bottom_up\s+independent$", printed, flags=re.M)
    assert re.search(r"used \d+ masks \(converged: (True|False)\)", printed)
