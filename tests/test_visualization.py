"""Plotting distance maps: the arguments plot_distance_map accepts, and drawing into given axes."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dianna_distance import plot_distance_map  # noqa: E402


def test_one_map_over_its_image_is_saved_whole_with_a_colour_scale_centred_on_zero(tmp_path, image):
    saliency = np.linspace(-0.2, 0.5, 24 * 24).reshape(24, 24)
    figure = plot_distance_map(saliency, image, output_filename=tmp_path / "map.png")
    (heatmap,) = [layer for ax in figure.axes for layer in ax.images if layer.get_cmap().name == "bwr"]
    assert heatmap.get_clim() == (-0.5, 0.5)
    assert [path.name for path in tmp_path.iterdir()] == ["map.png"]  # no temporary file left
    assert (tmp_path / "map.png").stat().st_size > 0


def test_the_call_signature_of_earlier_versions_still_works(image, tmp_path):
    figure = plot_distance_map(np.zeros((2, 24, 24)), np.moveaxis(image, -1, 0), ["a bee", "a fly"], "bwr",
                               tmp_path / "maps.png", False, 2.0)
    assert [row.get_suptitle() for row in figure.subfigs[:-1]] == ["a bee", "a fly"]


def test_maps_are_drawn_into_given_axes_of_an_existing_figure_each_with_a_labelled_colour_bar(image):
    import matplotlib.pyplot as plt

    figure, grid = plt.subplots(2, 2)
    drawn = plot_distance_map(np.ones((2, 24, 24)), image, titles=["a", "b"], axes=[grid[1, 0], grid[1, 1]])
    assert drawn is figure
    assert [ax.get_title() for ax in grid[1]] == ["a", "b"]
    assert not grid[0, 0].images and grid[1, 1].images[-1].get_clim() == (-1.0, 1.0)
    bars = [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]
    assert [bar.get_ylabel() for bar in bars] == ["attribution (+ closer, − farther)"] * 2
    assert plt.fignum_exists(figure.number)  # the caller's figure stays open
    plt.close(figure)


def test_axes_must_match_the_number_of_maps(image):
    import matplotlib.pyplot as plt

    with pytest.raises(ValueError, match="axes must have one entry per map"):
        plot_distance_map(np.zeros((2, 24, 24)), image, axes=[plt.subplots()[1]])


def test_image_of_another_size_is_rejected(image):
    with pytest.raises(ValueError, match="image must be"):
        plot_distance_map(np.zeros((10, 10)), image)


def test_titles_must_match_the_number_of_maps():
    with pytest.raises(ValueError, match="titles must have one entry per map"):
        plot_distance_map(np.zeros((2, 5, 5)), titles=["only one"])


def test_a_map_without_image_is_drawn_alone_with_its_legend_and_colour_bar():
    figure = plot_distance_map(np.random.default_rng(0).normal(size=(5, 5)))
    (row,) = figure.subfigs[:-1]
    assert [ax.get_title() for ax in row.axes] == ["map"]
    assert np.all(row.axes[0].images[0].get_alpha() == 1)  # no image under it: the map is opaque
    assert len([ax for ax in figure.axes if ax.get_label() == "<colorbar>"]) == 1
    assert len([ax for ax in figure.axes if ax.get_legend()]) == 1
