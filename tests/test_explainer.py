"""The Distance Explainer's algorithm: selection by rank, sign, several references, reproducibility."""

import numpy as np
import pytest
from conftest import BOX, HEIGHT, WIDTH, BoxModel

from dianna_distance import DistanceExplainer, generate_masks
from dianna_distance.masks import RiseMasks

CHANNELS_LAST = {2: "channels"}


def explainer(**parameters) -> DistanceExplainer:
    parameters = {"n_masks": 200, "random_state": 0, "progress": False, "axis_labels": CHANNELS_LAST, **parameters}
    return DistanceExplainer(**parameters)


def box_mask() -> np.ndarray:
    inside = np.zeros((HEIGHT, WIDTH), dtype=bool)
    inside[BOX] = True
    return inside


def test_one_reference_gives_one_map_of_the_image_size(box_model, image):
    saliency = explainer().attribute(box_model, image, box_model(image[None])[0])
    assert saliency.shape == (HEIGHT, WIDTH)


def test_map_concentrates_on_the_pixels_the_embedding_depends_on(box_model, image):
    saliency = explainer(n_masks=500).attribute(box_model, image, box_model(image[None])[0])
    inside = box_mask()
    assert saliency[inside].mean() > 0.1
    assert saliency[inside].mean() > 5 * np.abs(saliency[~inside]).mean()


def test_pixels_that_push_away_from_the_reference_get_negative_attribution(box_model, image):
    reference_of_blank_box = box_model(np.zeros_like(image)[None])[0]
    saliency = explainer(n_masks=500).attribute(box_model, image, reference_of_blank_box)
    assert saliency[box_mask()].mean() < -0.1


def test_map_is_mean_of_closest_masks_minus_mean_of_farthest(box_model, image):
    explained = explainer(mask_selection_range_max=0.2, mask_selection_negative_range_min=0.7)
    saliency = explained.attribute(box_model, image, box_model(image[None])[0])
    order = np.argsort(explained.distances_)
    masks = np.asarray(explained.masks_)
    expected = masks[order[:40]].mean(axis=0) - masks[order[140:]].mean(axis=0)
    np.testing.assert_allclose(saliency, expected, atol=1e-6)


def test_selected_indices_are_the_ranked_selection(box_model, image):
    explained = explainer()
    explained.attribute(box_model, image, box_model(image[None])[0])
    order = np.argsort(explained.distances_, kind="stable")
    np.testing.assert_array_equal(explained.positive_indices_, order[:20])
    np.testing.assert_array_equal(explained.negative_indices_, order[180:])


def test_empty_negative_range_gives_the_one_sided_map(box_model, image):
    explained = explainer(mask_selection_negative_range_min=1.0, mask_selection_negative_range_max=1.0)
    saliency = explained.attribute(box_model, image, box_model(image[None])[0])
    assert len(explained.negative_indices_) == 0
    np.testing.assert_allclose(saliency, np.asarray(explained.masks_)[explained.positive_indices_].mean(axis=0),
                               atol=1e-6)


def test_ranges_switched_off_give_a_zero_map_without_warning(box_model, image, recwarn):
    empty = explainer(mask_selection_range_max=0.0, mask_selection_negative_range_min=1.0)
    np.testing.assert_array_equal(empty.attribute(box_model, image, box_model(image[None])[0]), 0.0)
    assert not [warning for warning in recwarn if "selects no masks" in str(warning.message)]


def test_range_too_narrow_for_n_masks_contributes_nothing(box_model, image):
    narrow = explainer(n_masks=20, mask_selection_range_min=0.5, mask_selection_range_max=0.52)
    with pytest.warns(UserWarning, match="selects no masks"):
        saliency = narrow.attribute(box_model, image, box_model(image[None])[0])
    np.testing.assert_allclose(saliency, -np.asarray(narrow.masks_)[narrow.negative_indices_].mean(axis=0))


def test_several_references_equal_separate_runs_with_the_same_masks(box_model, image):
    references = np.stack([box_model(image[None])[0], box_model(np.zeros_like(image)[None])[0],
                           box_model(image[None] ** 2)[0]])
    together = explainer().attribute(box_model, image, references)
    assert together.shape == (3, HEIGHT, WIDTH)
    for reference, saliency in zip(references, together):
        np.testing.assert_allclose(saliency, explainer().attribute(box_model, image, reference), atol=1e-12)


def test_several_references_need_one_pass_through_the_model(box_model, image):
    references = np.stack([box_model(image[None])[0], box_model(np.zeros_like(image)[None])[0]])
    box_model.calls.clear()
    explainer(batch_size=50).attribute(box_model, image, references)
    assert sum(shape[0] for shape in box_model.calls) == 200


def test_same_random_state_gives_the_same_map_and_leaves_the_global_rng_alone(box_model, image):
    reference = box_model(image[None])[0]
    state = np.random.get_state()[1].copy()
    first = explainer(random_state=5).attribute(box_model, image, reference)
    second = explainer(random_state=5).attribute(box_model, image, reference)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    assert not np.array_equal(first, explainer(random_state=6).attribute(box_model, image, reference))


def test_a_generator_as_random_state_is_consumed(box_model, image):
    reference = box_model(image[None])[0]
    generator = np.random.default_rng(1)
    shared = explainer(random_state=generator)
    assert not np.array_equal(shared.attribute(box_model, image, reference),
                              shared.attribute(box_model, image, reference))


def test_map_does_not_depend_on_the_batch_size(box_model, image):
    reference = box_model(image[None])[0]
    maps = [explainer(batch_size=size).attribute(box_model, image, reference) for size in (1, 7, 200)]
    np.testing.assert_array_equal(maps[0], maps[1])
    np.testing.assert_array_equal(maps[0], maps[2])


def test_model_receives_batches_of_at_most_batch_size(box_model, image):
    reference = box_model(image[None])[0]
    box_model.calls.clear()
    explainer(batch_size=64).attribute(box_model, image, reference)
    assert [shape[0] for shape in box_model.calls] == [64, 64, 64, 8]


def test_masks_are_kept_as_grids_not_as_an_array_of_all_masks(box_model, image):
    explained = explainer()
    explained.attribute(box_model, image, box_model(image[None])[0])
    assert isinstance(explained.masks_, RiseMasks)
    assert explained.masks_.shape == (200, HEIGHT, WIDTH)


def test_run_results_are_exposed(box_model, image):
    explained = explainer()
    reference = box_model(image[None])[0]
    explained.attribute(box_model, image, reference)
    assert explained.embeddings_.shape == (200, 8)
    assert explained.distances_.shape == (200,)
    assert np.all((explained.distances_ >= 0) & (explained.distances_ <= 1))
    np.testing.assert_array_equal(explained.embedded_reference_, reference)


@pytest.mark.parametrize("shape", [(200, HEIGHT, WIDTH), (200, HEIGHT, WIDTH, 1)])
def test_given_masks_are_used_instead_of_generated_ones(box_model, image, shape):
    masks = generate_masks((HEIGHT, WIDTH), 200, random_state=9)
    reference = box_model(image[None])[0]
    given = explainer(masks=masks.reshape(shape), random_state=None).attribute(box_model, image, reference)
    generated = explainer(random_state=9).attribute(box_model, image, reference)
    np.testing.assert_allclose(given, generated, atol=1e-12)


def test_channels_first_and_channels_last_images_give_the_same_map(image):
    model_last = BoxModel()

    def model_first(batch):
        return model_last(np.moveaxis(batch, 1, -1))

    reference = model_last(image[None])[0]
    last = explainer().attribute(model_last, image, reference)
    first = explainer(axis_labels={0: "channels"}).attribute(model_first, np.moveaxis(image, -1, 0), reference)
    np.testing.assert_allclose(first, last, atol=1e-12)


def test_channels_axis_is_found_automatically_with_a_warning(box_model, image):
    with pytest.warns(UserWarning, match="channels axis"):
        found = DistanceExplainer(n_masks=50, random_state=0, progress=False).attribute(
            box_model, image, box_model(image[None])[0])
    np.testing.assert_allclose(found, explainer(n_masks=50).attribute(box_model, image, box_model(image[None])[0]))


def test_greyscale_image_without_channels_axis_is_explained(image):
    grey = image.mean(axis=2)

    def model(batch):
        return BoxModel()(np.repeat(batch[..., None], 3, axis=-1))

    saliency = explainer(axis_labels=None, n_masks=400).attribute(model, grey, model(grey[None])[0])
    assert saliency.shape == grey.shape
    assert saliency[box_mask()].mean() > 5 * np.abs(saliency[~box_mask()]).mean()


def test_preprocess_function_is_applied_to_every_batch_before_the_model(box_model, image):
    seen = []

    def preprocess(batch):
        seen.append(batch.shape)
        return batch * 2.0

    saliency = explainer(preprocess_function=preprocess, batch_size=100).attribute(
        box_model, image, box_model(2.0 * image[None])[0])
    assert seen == [(100, HEIGHT, WIDTH, 3), (100, HEIGHT, WIDTH, 3)]
    assert saliency[box_mask()].mean() > 0.1


def test_euclidean_distance_and_a_callable_distance_are_supported(box_model, image):
    reference = box_model(image[None])[0]
    euclidean = explainer(distance="euclidean")
    saliency = euclidean.attribute(box_model, image, reference)
    np.testing.assert_allclose(euclidean.distances_, np.linalg.norm(euclidean.embeddings_ - reference, axis=1))

    def manhattan(embeddings, reference):
        return np.abs(embeddings - reference).sum(axis=1)

    assert explainer(distance=manhattan).attribute(box_model, image, reference)[box_mask()].mean() > 0.1
    assert saliency[box_mask()].mean() > 0.1


def test_reselect_equals_a_fresh_run_with_the_same_masks(box_model, image):
    reference = box_model(image[None])[0]
    other = box_model(np.zeros_like(image)[None])[0]
    first = explainer()
    first.attribute(box_model, image, reference)
    reselected = first.reselect(other, mask_selection_range_max=0.3, mask_selection_negative_range_min=1.0)
    fresh = explainer(mask_selection_range_max=0.3, mask_selection_negative_range_min=1.0)
    np.testing.assert_allclose(reselected, fresh.attribute(box_model, image, other), atol=1e-12)
    np.testing.assert_array_equal(first.positive_indices_, fresh.positive_indices_)


def test_reselect_with_another_distance_runs_no_model(box_model, image):
    explained = explainer()
    explained.attribute(box_model, image, box_model(image[None])[0])
    calls = len(box_model.calls)
    explained.reselect(distance="euclidean")
    assert len(box_model.calls) == calls
    np.testing.assert_allclose(explained.distances_,
                               np.linalg.norm(explained.embeddings_ - explained.embedded_reference_, axis=1))


def test_reselect_before_a_run_is_an_error():
    with pytest.raises(RuntimeError, match="attribute"):
        explainer().reselect()


def test_dianna_mask_generator_gives_the_same_map(box_model, image):
    reference = box_model(image[None])[0]
    np.testing.assert_allclose(explainer(mask_generator="dianna").attribute(box_model, image, reference),
                               explainer().attribute(box_model, image, reference), atol=1e-5)


def test_tolerance_stops_adding_masks_once_the_map_is_stable_and_reports_the_count(box_model, image):
    automatic = explainer(n_masks=100, tolerance=0.08, max_masks=5000)
    saliency = automatic.attribute(box_model, image, box_model(image[None])[0])
    assert automatic.converged_ is True
    assert 100 <= automatic.n_masks_used_ < 5000
    assert automatic.n_masks_used_ % 100 == 0
    assert len(automatic.masks_) == len(automatic.embeddings_) == automatic.n_masks_used_
    assert saliency[box_mask()].mean() > 5 * np.abs(saliency[~box_mask()]).mean()


def test_tolerance_that_cannot_be_met_stops_at_max_masks(box_model, image):
    automatic = explainer(n_masks=50, tolerance=1e-6, max_masks=200)
    automatic.attribute(box_model, image, box_model(image[None])[0])
    assert automatic.converged_ is False
    assert automatic.n_masks_used_ == 200


def test_fixed_n_masks_reports_the_count_used(box_model, image):
    fixed = explainer()
    fixed.attribute(box_model, image, box_model(image[None])[0])
    assert fixed.n_masks_used_ == 200
