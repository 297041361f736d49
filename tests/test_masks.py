"""Mask generation: DIANNA's RISE masks, from a seeded generator, on demand."""

import numpy as np
import pytest
from dianna.utils.maskers import _upscale

from dianna_distance.masks import RiseMasks, generate_masks, interpolation_matrix


@pytest.mark.parametrize("shape, feature_res", [((224, 224), 8), ((28, 28), 8), ((100, 60), 7), ((13, 31), 3)])
def test_vectorized_masks_equal_dianna_upscaling_of_the_same_grids_and_shifts(shape, feature_res):
    masks = RiseMasks(shape, n_masks=5, feature_res=feature_res, random_state=3)
    up_size = (feature_res + 1) * np.ceil(np.array(shape) / feature_res)
    for mask, grid, (y, x) in zip(masks[:], masks.grids, masks.shifts):
        expected = _upscale(grid.astype(np.float32), up_size)[y : y + shape[0], x : x + shape[1]]
        np.testing.assert_allclose(mask, expected, atol=1e-6)


def test_dianna_generator_gives_the_same_masks_as_the_vectorized_one():
    vectorized = RiseMasks((40, 30), 6, 5, 0.5, random_state=1)
    dianna = RiseMasks((40, 30), 6, 5, 0.5, random_state=1, generator="dianna")
    np.testing.assert_allclose(vectorized[:], dianna[:], atol=1e-6)


def test_shifts_stay_within_one_cell():
    masks = RiseMasks((50, 70), 500, feature_res=8, random_state=0)
    assert masks.shifts.min() == 0
    assert np.all(masks.shifts < np.ceil(np.array([50, 70]) / 8))


def test_interpolation_rows_sum_to_one():
    np.testing.assert_allclose(interpolation_matrix(8, 252).sum(axis=1), 1.0)


def test_generated_masks_have_the_documented_shape_dtype_and_range():
    masks = generate_masks((20, 30), 10, feature_res=4, p_keep=0.5, random_state=0)
    assert masks.shape == (10, 20, 30)
    assert masks.dtype == np.float32
    assert masks.min() >= 0 and masks.max() <= 1


def test_p_keep_one_keeps_every_pixel():
    np.testing.assert_allclose(generate_masks((16, 16), 4, p_keep=1.0, random_state=0), 1.0)


def test_fraction_of_kept_cells_follows_p_keep():
    masks = RiseMasks((32, 32), 2000, feature_res=8, p_keep=0.3, random_state=0)
    assert masks.grids.mean() == pytest.approx(0.3, abs=0.01)


def test_same_seed_gives_same_masks_without_touching_the_global_rng():
    state = np.random.get_state()[1].copy()
    first = generate_masks((16, 16), 5, random_state=7)
    second = generate_masks((16, 16), 5, random_state=7)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    assert not np.array_equal(first, generate_masks((16, 16), 5, random_state=8))


def test_indexing_by_int_slice_and_array_agree():
    masks = RiseMasks((12, 12), 6, 4, random_state=0)
    everything = np.asarray(masks)
    assert len(masks) == 6 and masks.shape == (6, 12, 12)
    np.testing.assert_array_equal(masks[2], everything[2])
    np.testing.assert_array_equal(masks[1:4], everything[1:4])
    np.testing.assert_array_equal(masks[np.array([5, 0])], everything[[5, 0]])


def test_unknown_generator_is_rejected():
    with pytest.raises(ValueError, match="generator"):
        RiseMasks((8, 8), 2, generator="fast")


def test_a_short_mask_set_has_the_same_masks_as_the_start_of_a_long_one():
    short, long = RiseMasks((30, 20), 5, 4, random_state=7), RiseMasks((30, 20), 1000, 4, random_state=7)
    np.testing.assert_array_equal(short[:], long[:5])
    np.testing.assert_array_equal(short.shifts, long.shifts[:5])
    np.testing.assert_array_equal(long.head(300)[:], long[:300])


def test_mask_memory_follows_n_masks_not_the_block_size():
    import tracemalloc

    tracemalloc.start()
    try:
        masks = RiseMasks((300, 300), 2, feature_res=300, random_state=0)
        grids = masks.grids  # draws the only block: 2 grids of 300 x 300 cells, not 256 of them (180 MB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert grids.shape == (2, 300, 300)
    assert peak < 20 * 2**20


@pytest.mark.parametrize("shape, feature_res", [((5, 6), 7), ((224, 224), 10_000)])
def test_feature_res_larger_than_the_image_is_refused_naming_feature_res(shape, feature_res):
    with pytest.raises(ValueError, match=rf"feature_res \({feature_res}\) must not exceed the image's size"):
        RiseMasks(shape, 10, feature_res=feature_res)


def test_feature_res_equal_to_the_longer_side_is_accepted():
    assert RiseMasks((5, 6), 3, feature_res=6, random_state=0)[:].shape == (3, 5, 6)


def test_grids_that_cannot_fit_in_memory_name_feature_res_and_the_memory_needed():
    with pytest.raises(ValueError, match=r"feature_res is too large: the random grids of 256 masks of 100000 x "
                                         r"100000 cells need [0-9.]+ GiB"):
        RiseMasks((100_000, 100_000), 1000, feature_res=100_000)


def test_an_explainer_with_feature_res_larger_than_the_image_says_so_before_the_model_runs():
    from dianna_distance import DistanceExplainer

    def model(batch):
        raise AssertionError("the model must not run")

    with pytest.raises(ValueError, match="feature_res"):
        DistanceExplainer(feature_res=20, progress=False).attribute(model, np.ones((8, 8)), np.ones(3))
