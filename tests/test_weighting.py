"""Rank weighting (issue 13): every mask weighted by its rank, instead of the paper's two selection ranges."""

import dianna
import numpy as np
import pytest
from conftest import BOX, save_linear_onnx
from PIL import Image

from dianna_distance import DistanceExplainer
from dianna_distance.cli import main
from dianna_distance.convergence import estimate_map_spread
from dianna_distance.distances import rank_weights, select_masks, selection_weights
from dianna_distance.model import OnnxModel
from dianna_distance.models.image import load_image_for_model

CHANNELS_LAST = {2: "channels"}


def explainer(**parameters) -> DistanceExplainer:
    parameters = {"n_masks": 200, "random_state": 0, "progress": False, "axis_labels": CHANNELS_LAST, **parameters}
    return DistanceExplainer(**parameters)


# -- the weights -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_masks", [2, 5, 10, 11, 1000])
def test_linear_weights_fall_in_a_straight_line_from_closest_to_farthest(n_masks):
    weights = rank_weights(n_masks, "linear")
    ranks = np.arange(n_masks)
    straight = 0.5 - ranks / (n_masks - 1)
    np.testing.assert_allclose(weights, straight / straight[straight > 0].sum(), rtol=1e-12)


@pytest.mark.parametrize("n_masks", [2, 7, 10, 1000])
def test_linear_weights_are_scaled_like_the_papers_positive_mean(n_masks):
    weights = rank_weights(n_masks, "linear")
    assert weights[weights > 0].sum() == pytest.approx(1.0)
    assert weights.sum() == pytest.approx(0.0, abs=1e-12)  # as much negative weight as positive
    np.testing.assert_allclose(weights, -weights[::-1], atol=1e-15)  # closest +, farthest -, mirrored


def test_linear_weights_of_one_mask_are_zero():
    np.testing.assert_array_equal(rank_weights(1, "linear"), [0.0])


def test_linear_weights_ignore_the_selection_ranges():
    np.testing.assert_array_equal(rank_weights(20, "linear", (0.0, 0.3), (0.5, 1.0)), rank_weights(20, "linear"))


@pytest.mark.parametrize("n_masks", [8, 9])
def test_linear_weights_are_the_average_of_the_mirror_selections_over_all_thresholds(n_masks):
    # Selection k: the k closest masks count +1, the k farthest -1 (the paper's ranges [0, k/n) and
    # [1 - k/n, 1), as sums rather than means). Averaged over every threshold k = 1 .. n-1, rank r gets
    # (n - 1 - 2r) / (n - 1): a straight line.
    ranks = np.arange(n_masks)
    selections = [(ranks < k).astype(float) - (ranks >= n_masks - k) for k in range(1, n_masks)]
    average = np.mean(selections, axis=0)
    np.testing.assert_allclose(rank_weights(n_masks, "linear"), average / average[average > 0].sum(), rtol=1e-12)


def test_linear_map_is_the_average_of_the_papers_maps_over_all_thresholds(box_model, image):
    # The same on real maps: k times the paper's map with k masks on each side, averaged over k, is the
    # linear map up to its scale (positive weights summing to 1).
    n_masks = 20
    explained = explainer(n_masks=n_masks)
    explained.attribute(box_model, image, box_model(image[None])[0])
    maps = []
    for k in range(1, n_masks):
        # (k + 0.5) / n selects exactly k ranks: int(n * fraction) without floating-point rounding at k.
        paper = explained.reselect(mask_selection_range_min=0.0, mask_selection_range_max=(k + 0.5) / n_masks,
                                   mask_selection_negative_range_min=(n_masks - k + 0.5) / n_masks,
                                   mask_selection_negative_range_max=1.0, weighting="ranges")
        maps.append(k * paper)
    average = np.mean(maps, axis=0)
    linear = explained.reselect(weighting="linear")
    # Rank 0 is in every positive selection and in no negative one: its average weight is 1.
    scale = rank_weights(n_masks, "linear")[0]
    np.testing.assert_allclose(linear, scale * average, atol=1e-12)


@pytest.mark.parametrize("weighting", ["linear", "normal"])
def test_rank_weightings_put_positive_weight_on_the_closer_half(weighting):
    distances = np.random.default_rng(0).random(101)
    weights, positive, negative = select_masks(distances, (0.0, 0.1), (0.9, 1.0), weighting)
    order = np.argsort(distances)
    assert np.all(np.diff(weights[order]) <= 0)  # weight falls with distance
    np.testing.assert_array_equal(positive, order[:50])
    np.testing.assert_array_equal(negative, order[51:])  # the middle mask has weight 0


def test_unknown_weighting_is_refused_by_name(box_model, image):
    with pytest.raises(ValueError, match="weighting must be one of"):
        explainer(weighting="quadratic").attribute(box_model, image, box_model(image[None])[0])


# -- ties ----------------------------------------------------------------------------------------------------------

def test_tied_masks_get_the_weight_of_their_average_rank():
    distances = np.array([0.3, 0.1, 0.2, 0.2, 0.4])
    weights = selection_weights(distances, rank_weights(5, "linear"))
    # ranks 3, 0, 1.5, 1.5, 4 -> 0.5 - rank / 4 = -0.25, 0.5, 0.125, 0.125, -0.5; positive sum 0.75
    np.testing.assert_allclose(weights, np.array([-0.25, 0.5, 0.125, 0.125, -0.5]) / 0.75)


def test_linear_map_with_tied_distances_does_not_depend_on_the_order_of_the_masks(box_model, image):
    reference = box_model(image[None])[0]
    # Every mask twice: the copies have equal distances, so they tie.
    masks = np.repeat(np.random.default_rng(1).random((30, *image.shape[:2])), 2, axis=0)
    order = np.random.default_rng(2).permutation(len(masks))
    first, shuffled = explainer(n_masks=60, masks=masks, weighting="linear"), explainer(
        n_masks=60, masks=masks[order], weighting="linear")
    np.testing.assert_allclose(first.attribute(box_model, image, reference),
                               shuffled.attribute(box_model, image, reference), atol=1e-12)
    np.testing.assert_array_equal(first.weights_[0::2], first.weights_[1::2])


# -- the explainer -------------------------------------------------------------------------------------------------

def test_linear_weighting_weights_every_mask_by_its_rank(box_model, image):
    explained = explainer(weighting="linear")
    saliency = explained.attribute(box_model, image, box_model(image[None])[0])
    ranks = np.argsort(np.argsort(explained.distances_))
    np.testing.assert_allclose(explained.weights_, rank_weights(200, "linear")[ranks])
    np.testing.assert_allclose(saliency, np.tensordot(explained.weights_, np.asarray(explained.masks_), 1),
                               atol=1e-12)


def test_linear_map_picks_out_the_pixels_the_embedding_depends_on(box_model, image):
    saliency = explainer(weighting="linear", n_masks=500).attribute(box_model, image, box_model(image[None])[0])
    inside = np.zeros(image.shape[:2], dtype=bool)
    inside[BOX] = True
    assert saliency[inside].mean() > 5 * np.abs(saliency[~inside]).mean()


@pytest.mark.parametrize(("before", "after"), [("ranges", "linear"), ("linear", "ranges"), ("ranges", "normal")])
def test_reselect_switches_weighting_without_model_calls_and_equals_a_fresh_run(box_model, image, before, after):
    reference = box_model(image[None])[0]
    explained = explainer(weighting=before)
    explained.attribute(box_model, image, reference)
    calls = len(box_model.calls)
    reselected = explained.reselect(weighting=after)
    assert len(box_model.calls) == calls
    fresh = explainer(weighting=after)
    np.testing.assert_allclose(reselected, fresh.attribute(box_model, image, reference), atol=1e-12)
    np.testing.assert_allclose(explained.weights_, fresh.weights_, atol=1e-15)
    assert explained.weighting == before  # reselect leaves the explainer's parameters alone


def test_tolerance_mode_with_linear_weighting_stops_when_the_estimated_spread_is_reached(box_model, image):
    automatic = explainer(n_masks=100, tolerance=0.05, max_masks=5000, weighting="linear")
    saliency = automatic.attribute(box_model, image, box_model(image[None])[0])
    assert automatic.converged_ is True
    assert automatic.n_masks_used_ % 100 == 0
    assert estimate_map_spread(automatic.masks_, automatic.weights_) <= 0.05
    # The map is that of a fixed run with the same masks.
    fixed = explainer(n_masks=automatic.n_masks_used_, weighting="linear")
    np.testing.assert_allclose(saliency, fixed.attribute(box_model, image, box_model(image[None])[0]), atol=1e-12)


# -- DIANNA and the command line -------------------------------------------------------------------------------------

def test_dianna_entry_points_accept_the_weighting(box_model, image):
    reference = box_model(image[None])[0]
    parameters = {"n_masks": 100, "random_state": 0, "progress": False, "axis_labels": CHANNELS_LAST}
    direct = DistanceExplainer(weighting="linear", **parameters).attribute(box_model, image, reference)
    through_function = dianna.explain_image_distance(box_model, image, reference, weighting="linear", **parameters)
    through_method = dianna.explain_image(box_model, image, method="distance", labels=None,
                                          embedded_reference=reference, weighting="linear", **parameters)
    np.testing.assert_array_equal(through_function, direct)
    np.testing.assert_array_equal(through_method, direct)
    paper = dianna.explain_image_distance(box_model, image, reference, **parameters)
    assert not np.allclose(through_function, paper)


def write_image(path, size=(20, 16)):
    pixels = (np.random.default_rng(0).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def test_command_line_weighting_option_gives_the_explainers_linear_map(tmp_path):
    model_path, _, _ = save_linear_onnx(tmp_path / "model.onnx", (3, 16, 20), embedding_length=5)
    np.save(tmp_path / "reference.npy", np.arange(1.0, 6.0))
    image_path = write_image(tmp_path / "image.png")
    code = main(["explain", str(model_path), str(image_path), "--reference", str(tmp_path / "reference.npy"),
                 "--output", str(tmp_path / "out"), "--n-masks", "50", "--random-state", "1", "--no-progress",
                 "--weighting", "linear"])
    assert code == 0
    model = OnnxModel(model_path)
    expected = DistanceExplainer(n_masks=50, random_state=1, progress=False, weighting="linear",
                                 axis_labels={0: "channels"}).attribute(
        model, load_image_for_model(image_path, model), np.arange(1.0, 6.0))
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-12)


def test_command_line_refuses_an_unknown_weighting(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["explain", "model.onnx", "image.png", "--reference", "r.npy", "--weighting", "quadratic"])
    assert stopped.value.code != 0
    assert "--weighting" in capsys.readouterr().err
