"""Plotting distance maps."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dianna_distance import plot_distance_map  # noqa: E402


def test_one_map_over_its_image_is_saved_with_a_colour_bar_centred_on_zero(tmp_path, image):
    saliency = np.linspace(-0.2, 0.5, 24 * 24).reshape(24, 24)
    figure = plot_distance_map(saliency, image, output_filename=tmp_path / "map.png")
    heatmap = figure.axes[0].images[-1]
    assert heatmap.get_clim() == (-0.5, 0.5)
    assert heatmap.get_cmap().name == "bwr"
    assert len(figure.axes) == 2  # the panel and its colour bar
    assert (tmp_path / "map.png").stat().st_size > 0


def test_several_maps_are_drawn_side_by_side_with_titles(image):
    figure = plot_distance_map(np.random.default_rng(0).normal(size=(3, 24, 24)), np.moveaxis(image, -1, 0),
                               titles=["a bee", "a fly", "a flower"])
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["a bee", "a fly", "a flower"]


def test_maps_are_drawn_into_given_axes_of_an_existing_figure(image):
    import matplotlib.pyplot as plt

    figure, grid = plt.subplots(2, 2)
    drawn = plot_distance_map(np.ones((2, 24, 24)), image, titles=["a", "b"], axes=[grid[1, 0], grid[1, 1]])
    assert drawn is figure
    assert [ax.get_title() for ax in grid[1]] == ["a", "b"]
    assert not grid[0, 0].images and grid[1, 1].images[-1].get_clim() == (-1.0, 1.0)


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
