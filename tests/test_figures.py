"""The structure of every image and evaluation figure: panels, titles, legends, colour bars; and display in Jupyter."""

import matplotlib

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from dianna_distance.evaluation import RandomisationResult, SensitivityResult  # noqa: E402
from dianna_distance.visualization import (  # noqa: E402
    plot_distance_map,
    plot_randomisation,
    plot_seed_spread,
    plot_sensitivity,
)
from dianna_distance.visualization.evaluation import short_layer_names  # noqa: E402

SIZE = 24


def smooth_maps(count: int = 3) -> np.ndarray:
    """``count`` smooth maps with positive and negative blobs, the largest absolute value 0.04 (map 0)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    blob = np.exp(-((x - 0.4) ** 2 + (y - 0.5) ** 2) / 0.02) - np.exp(-((x - 0.8) ** 2 + (y - 0.2) ** 2) / 0.01)
    return np.stack([0.04 * blob * (1 - 0.3 * k) * (-1) ** k for k in range(count)])


@pytest.fixture
def fly_file(tmp_path) -> Path:
    path = tmp_path / "fly.png"
    Image.fromarray((np.random.default_rng(3).random((40, 60, 3)) * 255).astype(np.uint8)).save(path)
    return path


def rows_of(figure):
    """The row subfigures of a distance-map figure (the last subfigure holds the colour bar and legend)."""
    return figure.subfigs[:-1]


def colour_bars(figure):
    return [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]


def legend_texts(figure) -> list[str]:
    return [text.get_text() for ax in figure.axes if ax.get_legend() for text in ax.get_legend().get_texts()]


def map_images(figure):
    """The map layer of every map panel: the image drawn with the diverging colormap."""
    return [image for ax in figure.axes for image in ax.images if image.get_cmap().name == "bwr"]


# -- the distance map ---------------------------------------------------------------------------------------------


def test_distance_map_has_one_row_per_reference_with_image_reference_and_map(image, fly_file):
    figure = plot_distance_map(smooth_maps(), image, references=[fly_file, "a bee", Path("flower.npy")])
    rows = rows_of(figure)
    assert len(rows) == 3
    assert [len(row.axes) for row in rows] == [3, 3, 3]
    assert [ax.get_title() for ax in rows[0].axes] == ["image", "reference", "map (over a greyscale copy)"]


def test_each_row_title_names_the_pair_and_the_distance(image, fly_file):
    figure = plot_distance_map(smooth_maps(), image, references=[fly_file, "a bee", Path("flower.npy")],
                               distances=[0.412, 0.2871, 0.55], image_label="bee.jpg")
    assert [row.get_suptitle() for row in rows_of(figure)] == [
        "bee.jpg vs fly.png — cosine distance 0.412 (0 to 1)", "bee.jpg vs “a bee” — cosine distance 0.287 (0 to 1)",
        "bee.jpg vs flower.npy — cosine distance 0.55 (0 to 1)"]


def test_given_titles_name_the_rows_and_get_the_distance_appended(image):
    figure = plot_distance_map(smooth_maps(2), image, titles=["bee vs fly", "bee vs flower"], distances=[0.3, 0.4])
    assert [row.get_suptitle() for row in rows_of(figure)] == ["bee vs fly — cosine distance 0.3 (0 to 1)",
                                                                "bee vs flower — cosine distance 0.4 (0 to 1)"]


def test_rows_have_distinct_default_titles_without_references(image):
    figure = plot_distance_map(smooth_maps(2), image)
    assert [row.get_suptitle() for row in rows_of(figure)] == ["image vs reference 1", "image vs reference 2"]
    assert [len(row.axes) for row in rows_of(figure)] == [2, 2]  # image and map: no reference panel


def test_reference_panel_shows_an_image_thumbnail_a_caption_and_an_embedding_file_name(image, fly_file):
    figure = plot_distance_map(smooth_maps(), image, references=[fly_file, "a bee on a flower", Path("e/k.npy")])
    thumbnail, caption, embedding = (row.axes[1] for row in rows_of(figure))
    assert thumbnail.images[0].get_array().shape == (40, 60, 3)
    assert [text.get_text() for text in caption.texts] == ["“a bee on a flower”"]
    assert [text.get_text() for text in embedding.texts] == ["k.npy\n(embedding file)"]


def test_legend_says_red_brings_the_image_closer_and_blue_pushes_it_away(image):
    texts = legend_texts(plot_distance_map(smooth_maps(1)[0], image))
    assert texts == ["red: brings the image closer to the reference", "blue: pushes it away"]


def test_one_labelled_colour_bar_symmetric_around_zero_is_shared_by_all_rows(image):
    maps = smooth_maps()
    figure = plot_distance_map(maps, image)
    (colour_bar,) = colour_bars(figure)
    assert colour_bar.get_xlabel() == "attribution (+ closer, − farther)"
    largest = float(np.max(np.abs(maps)))
    assert [layer.get_clim() for layer in map_images(figure)] == [(-largest, largest)] * 3


def test_map_is_drawn_over_a_greyscale_copy_of_the_image(image):
    figure = plot_distance_map(smooth_maps(1)[0], image)
    background = rows_of(figure)[0].axes[1].images[0]
    assert background.get_array().ndim == 2  # one channel: the colours of the photo are gone
    assert background.get_array().min() >= 0.45  # lightened, so red and blue read over it


def test_non_significant_features_are_faded_hatched_and_explained_in_the_legend(image):
    maps = smooth_maps(2)
    significant = np.abs(maps) > 0.01
    figure = plot_distance_map(maps, image, significant=significant)
    layer = map_images(figure)[0]
    alpha = np.asarray(layer.get_alpha())
    assert alpha[~significant[0]].max() < alpha[significant[0]].min()
    hatches = [getattr(collection, "hatches", None) for collection in rows_of(figure)[0].axes[-1].collections]
    assert ["//"] in hatches  # the non-significant region is hatched
    assert legend_texts(figure)[-1] == "hatched, faded: not significant\n(this run does not establish the sign)"


def test_number_of_masks_and_spread_are_written_on_the_figure(image):
    figure = plot_distance_map(smooth_maps(1)[0], image, n_masks=1500, spread=0.00213)
    texts = [text.get_text() for text in figure.subfigs[-1].texts]
    assert texts == ["1500 masks; estimated spread (standard error) of the map: 0.0021"]


@pytest.mark.parametrize(("arguments", "error", "message"), [
    ({"references": ["one"]}, ValueError, "references must have one entry per map"),
    ({"references": [1, 2, 3]}, TypeError, r"references\[0\] must be a caption"),
    ({"references": [Path("missing.jpg")] * 3}, FileNotFoundError, r"references\[0\]"),
    ({"distances": [0.1, 0.2]}, ValueError, "distances must have one number per map"),
    ({"significant": np.ones((3, SIZE, SIZE))}, TypeError, "significant must be a boolean array"),
    ({"significant": np.ones((SIZE, SIZE), dtype=bool)}, ValueError, "significant must have the shape of the map"),
    ({"n_masks": 0}, ValueError, "n_masks must be a positive integer"),
    ({"spread": -1.0}, ValueError, "spread must be a non-negative number"),
    ({"saliency": np.full((SIZE, SIZE), np.nan)}, ValueError, "saliency contains NaN"),
    ({"saliency": np.zeros((0, SIZE, SIZE))}, ValueError, "saliency must have shape"),
])
def test_bad_figure_arguments_are_refused_naming_the_argument(image, arguments, error, message):
    arguments = {"saliency": smooth_maps(), **arguments}
    with pytest.raises(error, match=message):
        plot_distance_map(image=image, **arguments)


def test_an_image_outside_both_pixel_scales_is_drawn_clipped_with_a_warning(image):
    with pytest.warns(UserWarning, match="outside \\[0, 1\\] and \\[0, 255\\]"):
        plot_distance_map(smooth_maps(1)[0], image * 4 - 2)


def test_drawing_in_a_script_leaves_no_figure_open(image, tmp_path):
    before = plt.get_fignums()
    figure = plot_distance_map(smooth_maps(1)[0], image, output_filename=tmp_path / "map.png")
    assert plt.get_fignums() == before
    figure.savefig(tmp_path / "again.png")  # the returned figure still works
    assert (tmp_path / "again.png").stat().st_size > 0


# -- evaluation figures -------------------------------------------------------------------------------------------

LAYERS = ("/model/_conv_stem/Conv", "/model/_blocks.5/_depthwise_conv/Conv", "/model/_blocks.11/_expand_conv/Conv",
          "/model/_fc/Gemm")


@pytest.fixture
def mprt() -> RandomisationResult:
    rng = np.random.default_rng(0)
    original = smooth_maps(1)[0]
    maps = {mode: original + rng.normal(scale=0.01, size=(len(LAYERS), SIZE, SIZE)) * np.arange(1, 5)[:, None, None]
            for mode in ("top_down", "bottom_up", "independent")}
    steps = {"top_down": LAYERS[::-1], "bottom_up": LAYERS, "independent": LAYERS}
    return RandomisationResult(LAYERS, original, steps, {mode: np.array([0.9, 0.6, 0.3, 0.1]) for mode in maps},
                               maps)


def test_randomisation_titles_are_short_layer_names_that_do_not_overlap(mprt):
    figure = plot_randomisation(mprt)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    panels = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 3 * 5
    assert [ax.get_title() for ax in panels[10:]] == [
        "original model", "_conv_stem/Conv\nρ = 0.90", "_blocks.5/\n_depthwise_conv/Conv\nρ = 0.60",
        "_blocks.11/\n_expand_conv/Conv\nρ = 0.30", "_fc/Gemm\nρ = 0.10"]
    for row in range(3):
        boxes = [ax.title.get_window_extent(renderer) for ax in panels[5 * row: 5 * row + 5]]
        assert not any(left.overlaps(right) for left, right in zip(boxes, boxes[1:]))


def test_randomisation_has_a_colour_bar_per_row_for_maps_scaled_to_their_maximum(mprt):
    figure = plot_randomisation(mprt)
    bars = colour_bars(figure)
    assert [bar.get_ylabel() for bar in bars] == ["map ÷ its max |value|"] * 3
    panels = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
    assert all(ax.images[0].get_clim() == (-1, 1) for ax in panels)
    assert all(np.isclose(np.max(np.abs(ax.images[0].get_array())), 1) for ax in panels)


def test_long_layer_names_are_wrapped_at_separators_and_keep_their_end():
    names = ["/encoder/stage_one/block_with_a_long_name/conv_depthwise/Conv",
             "/encoder/stage_two/block/conv/Conv"]
    assert short_layer_names(names, width=16) == ["…conv_depthwise/\nConv", "stage_two/\nblock/conv/Conv"]


@pytest.fixture
def sensitivity() -> SensitivityResult:
    original = smooth_maps(1)[0]
    perturbed = original + np.random.default_rng(1).normal(scale=0.005, size=(4, SIZE, SIZE))
    return SensitivityResult(0.25, np.array([0.2, 0.3, 0.25, 0.25]), original, perturbed,
                             np.zeros((4, SIZE, SIZE, 3)))


def test_sensitivity_panels_show_the_difference_of_each_noisy_map_to_the_original(sensitivity):
    figure = plot_sensitivity(sensitivity, samples=3)
    panels = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
    assert [ax.get_title() for ax in panels] == [
        "original map", "noisy sample 1", "noisy sample 2", "noisy sample 3", "",
        "sample 1 − original\nsensitivity 0.200", "sample 2 − original\nsensitivity 0.300",
        "sample 3 − original\nsensitivity 0.250"]
    np.testing.assert_allclose(panels[6].images[0].get_array(),
                               sensitivity.perturbed_attributions[1] - sensitivity.attribution)
    assert "average sensitivity\n0.250" in panels[4].texts[0].get_text()


def test_sensitivity_maps_and_differences_have_labelled_symmetric_colour_bars(sensitivity):
    figure = plot_sensitivity(sensitivity)
    assert [bar.get_ylabel() for bar in colour_bars(figure)] == ["attribution", "difference to the original map"]
    panels = [ax for ax in figure.axes if ax.get_label() != "<colorbar>" and ax.images]
    assert all(ax.images[0].get_clim()[0] == -ax.images[0].get_clim()[1] for ax in panels)


def test_seed_spread_figure_has_titled_axes_and_a_legend_of_its_three_curves():
    from dianna_distance.evaluation import SeedSpreadResult

    n_masks = np.array([100, 400, 1600])
    result = SeedSpreadResult(n_masks, 0.2 / np.sqrt(n_masks), 0.21 / np.sqrt(n_masks), 0.2, np.arange(3),
                              np.zeros((3, 3, SIZE, SIZE)))
    (ax,) = plot_seed_spread(result).axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("n_masks", "mean per-pixel std")
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [
        "across 3 seeds", "single-run estimate", "0.20 / √n_masks"]


# -- notebooks ----------------------------------------------------------------------------------------------------


def test_every_way_of_calling_a_plot_in_a_notebook_displays_the_figure_exactly_once(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    setup = ("import numpy as np\nfrom dianna_distance.visualization import plot_distance_map, plot_seed_spread\n"
             "from dianna_distance.evaluation import SeedSpreadResult\n"
             "maps, image = np.random.default_rng(0).normal(size=(2, 8, 8)), np.zeros((8, 8))\n"
             "n = np.array([10, 40])\nspread = SeedSpreadResult(n, 1 / np.sqrt(n), 1 / np.sqrt(n), 1.0, np.arange(2), "
             "np.zeros((2, 2, 8, 8)))")
    calls = ["plot_distance_map(maps, image)",  # the cell's result
             "figure = plot_distance_map(maps, image)",  # assigned
             "plot_distance_map(maps, image);",  # result suppressed
             "figure = plot_distance_map(maps, image)\nfigure",  # assigned, then the cell's result
             "plot_distance_map(maps, image, show_plot=True)",  # shown, and the cell's result
             "plot_seed_spread(spread)"]  # an evaluation figure
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(setup)] + [nbformat.v4.new_code_cell(call) for call in calls]
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    pictures = [sum("image/png" in output.get("data", {}) for output in cell.outputs) for cell in notebook.cells[1:]]
    assert pictures == [1] * len(calls)


def test_progress_bars_in_a_notebook_are_plain_text_without_warnings(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    code = ("import numpy as np\nfrom dianna_distance import DistanceExplainer\n"
            "from dianna_distance.models import get_cache_dir\nget_cache_dir()\n"  # imports pooch (tqdm.auto)
            "DistanceExplainer(n_masks=20, random_state=0, axis_labels=('height', 'width', 'channels'))"
            ".attribute(lambda batch: batch.reshape(len(batch), -1)[:, :4] + 1, np.ones((8, 8, 3)), np.ones(4));")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(code)]
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    streams = "".join(output.get("text", "") for output in notebook.cells[0].outputs)
    assert "Warning" not in streams
    assert "100%" in streams  # the bar's last state is in the notebook as text, not in a widget


def test_command_line_figure_titles_name_each_row_of_a_reference_file():
    from dianna_distance.cli.image import reference_titles

    assert reference_titles("bee.jpg", "fly.jpg", None) == ["bee.jpg vs fly.jpg"]
    assert reference_titles("bee.jpg", "refs.npy", 2) == ["bee.jpg vs refs.npy [row 0]", "bee.jpg vs refs.npy [row 1]"]


def test_importing_the_package_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, dianna_distance; print(sorted(name for name in sys.modules if name.startswith('matplotlib')))"
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert printed.strip() == "[]"
