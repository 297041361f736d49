"""Superpixel masks for images (``mask_kinds="superpixels"`` or given segment labels): whole segments kept or hidden
independently, drawn reproducibly, the regression's cells, and a segment the model reads found on top."""

from __future__ import annotations

import numpy as np
import pytest

from dianna_distance import DistanceExplainer, generate_masks
from dianna_distance.masks import BLOCK_SIZE, SegmentMasks

SIZE = 24
#: A planted irregular segment: a disk, the only pixels the segment model reads.
ROWS, COLUMNS = np.mgrid[:SIZE, :SIZE]
DISK = (ROWS - 8) ** 2 + (COLUMNS - 15) ** 2 <= 20


def labels_with_disk() -> np.ndarray:
    """Segments: the disk (label 99), and the rest of the image cut into 4 x 4 blocks of 6 x 6 pixels."""
    labels = (ROWS // 6) * 4 + COLUMNS // 6
    labels[DISK] = 99
    return labels


def disk_model(batch: np.ndarray) -> np.ndarray:
    """An embedding of the disk's mean value, plus a constant (cosine distances stay defined) and a small
    deterministic noise that no pixel explains (so that a regression's residuals are not exactly 0)."""
    batch = np.asarray(batch, np.float64)
    disk = batch[:, DISK].mean(axis=(1, 2))
    noise = 0.02 * np.sin(1e3 * batch.reshape(len(batch), -1).sum(axis=1))
    return np.stack([disk, np.ones(len(batch)), noise], axis=1)


def image() -> np.ndarray:
    return np.random.default_rng(0).uniform(0.5, 1.0, (SIZE, SIZE, 3)).astype(np.float32)


def explainer(**kwargs) -> DistanceExplainer:
    return DistanceExplainer(**{"n_masks": 200, "random_state": 0, "progress": False,
                                "axis_labels": {2: "channels"}, **kwargs})


def test_a_segment_mask_keeps_or_hides_each_segment_whole():
    labels = labels_with_disk()
    masks = np.asarray(SegmentMasks(labels, 300, random_state=1))
    assert masks.dtype == bool and masks.shape == (300, SIZE, SIZE)
    for label in np.unique(labels):
        inside = masks[:, labels == label]
        assert np.all(inside == inside[:, :1])


def test_segment_masks_keep_about_p_keep_of_the_segments_independently():
    keeps = SegmentMasks(labels_with_disk(), 4000, p_keep=0.3, random_state=2).keeps
    assert abs(keeps.mean() - 0.3) < 0.02
    assert abs(np.corrcoef(keeps[:, 0], keeps[:, 1])[0, 1]) < 0.05


def test_segment_masks_are_reproducible_by_random_state_and_block():
    whole = np.asarray(SegmentMasks(labels_with_disk(), 2 * BLOCK_SIZE + 10, random_state=4))
    second_block = np.asarray(SegmentMasks(labels_with_disk(), 2 * BLOCK_SIZE + 10,
                                           random_state=4)[BLOCK_SIZE : 2 * BLOCK_SIZE])
    np.testing.assert_array_equal(second_block, whole[BLOCK_SIZE : 2 * BLOCK_SIZE])
    assert not np.array_equal(np.asarray(SegmentMasks(labels_with_disk(), 2 * BLOCK_SIZE + 10, random_state=5)),
                              whole)


@pytest.mark.parametrize("weighting", ["ranges", "regression"])
def test_the_segment_a_model_reads_is_on_top_and_alone_significant(weighting):
    shown = image()
    run = explainer(mask_kinds=labels_with_disk(), weighting=weighting, n_masks=300)
    saliency = run.attribute(disk_model, shown, disk_model(shown[None])[0])
    top = np.argsort(-saliency.ravel(), kind="stable")[: DISK.sum()]
    assert np.all(DISK.ravel()[top])
    assert np.all(run.significant_[DISK]) and not np.any(run.significant_[~DISK])


def test_computed_superpixels_follow_the_edges_of_the_image():
    shown = np.zeros((32, 32, 3), np.float32)
    edge = np.mgrid[:32, :32].sum(axis=0) < 30  # a diagonal edge between a red and a blue region
    shown[edge] = (1.0, 0.1, 0.1)
    shown[~edge] = (0.1, 0.1, 1.0)
    run = explainer(mask_kinds="superpixels", feature_res=4)
    run.attribute(disk_model, shown[:SIZE, :SIZE], np.array([1.0, 1.0, 0.0]))
    segments = run.segments_
    assert 2 <= segments.max() + 1 <= 2 * 4**2
    for label in range(segments.max() + 1):
        assert len(set(edge[:SIZE, :SIZE][segments == label])) == 1  # no segment straddles the edge


def test_the_regression_scores_each_segment_as_one_cell():
    run = explainer(mask_kinds=labels_with_disk(), weighting="regression", n_masks=150)
    saliency = run.attribute(disk_model, image(), np.array([1.0, 1.0, 0.0]))
    for label in np.unique(run.segments_):
        inside = run.segments_ == label
        assert np.ptp(saliency[inside]) == 0 and np.ptp(run.standard_error_[inside]) == 0


def test_reselect_from_stored_embeddings_equals_a_fresh_run_of_the_other_weighting():
    shown, reference = image(), np.array([1.0, 1.0, 0.0])
    run = explainer(mask_kinds="superpixels", feature_res=4)
    run.attribute(disk_model, shown, reference)
    fresh = explainer(mask_kinds="superpixels", feature_res=4, weighting="regression")
    np.testing.assert_allclose(run.reselect(weighting="regression"), fresh.attribute(disk_model, shown, reference))


def test_several_references_in_small_batches_give_each_references_own_map():
    shown = image()
    references = np.array([[1.0, 1.0, 0.0], [0.2, 1.0, 0.0]])
    both = explainer(mask_kinds="superpixels", feature_res=4, batch_size=7).attribute(disk_model, shown, references)
    for k, reference in enumerate(references):
        np.testing.assert_allclose(both[k], explainer(mask_kinds="superpixels", feature_res=4).attribute(
            disk_model, shown, reference))


def test_a_tolerance_run_with_superpixels_adds_masks_until_the_tolerance():
    run = explainer(mask_kinds=labels_with_disk(), n_masks=100, tolerance=0.05, max_masks=2000)
    run.attribute(disk_model, image(), np.array([1.0, 1.0, 0.0]))
    assert run.converged_ and run.n_masks_used_ % 100 == 0 and len(run.masks_) == run.n_masks_used_


def test_the_default_masks_are_still_the_papers_grid_masks():
    run = explainer()
    run.attribute(disk_model, image(), np.array([1.0, 1.0, 0.0]))
    assert run.segments_ is None
    np.testing.assert_array_equal(np.asarray(run.masks_), generate_masks((SIZE, SIZE), 200, random_state=0))


@pytest.mark.parametrize("mask_kinds, error, message", [
    ("segments", ValueError, r"mask_kinds must be one of \('grid', 'superpixels'\)"),
    (np.zeros((SIZE, SIZE)), TypeError, "mask_kinds must be .* an int array .* got an array of float64"),
    (np.zeros((SIZE, SIZE), bool), TypeError, "mask_kinds must be .* got an array of bool"),
    (np.zeros((2, SIZE, SIZE), int), ValueError, r"mask_kinds: .* 2-D array \(H, W\)"),
    (np.zeros((SIZE, SIZE + 1), int), ValueError, r"mask_kinds: .* height and width \(24, 24\), got shape"),
    (np.zeros((SIZE, SIZE), int), ValueError, "mask_kinds: the given labels give one segment"),
])
def test_bad_segment_labels_are_refused_naming_mask_kinds(mask_kinds, error, message):
    with pytest.raises(error, match=message):
        explainer(mask_kinds=mask_kinds).attribute(disk_model, image(), np.array([1.0, 1.0, 0.0]))


def test_the_dianna_mask_generator_is_refused_with_superpixels():
    with pytest.raises(ValueError, match="mask_generator='dianna' draws grid masks: it needs mask_kinds='grid'"):
        explainer(mask_kinds="superpixels", mask_generator="dianna").check_parameters()


def test_a_batch_run_records_mask_kinds_only_when_it_is_not_the_grid_so_earlier_runs_resume():
    from dianna_distance.batch.spec import configuration_parameters

    assert "mask_kinds" not in configuration_parameters({}, {"image"})
    assert "mask_kinds" not in configuration_parameters({"mask_kinds": "grid"}, {"image"})
    assert configuration_parameters({"mask_kinds": "superpixels"}, {"image"})["mask_kinds"] == "superpixels"
    assert configuration_parameters({}, {"timeseries"})["mask_kinds"] == "auto"  # series record theirs, as before


def test_superpixels_of_a_channels_first_image_are_those_of_the_same_image_channels_last():
    shown = image()
    first = explainer(mask_kinds="superpixels", feature_res=4, axis_labels={0: "channels"})
    first.attribute(lambda batch: disk_model(np.moveaxis(batch, 1, -1)), np.moveaxis(shown, -1, 0),
                    np.array([1.0, 1.0, 0.0]))
    last = explainer(mask_kinds="superpixels", feature_res=4)
    last.attribute(disk_model, shown, np.array([1.0, 1.0, 0.0]))
    np.testing.assert_array_equal(first.segments_, last.segments_)


def test_the_regression_design_of_segment_masks_is_their_keep_values():
    from dianna_distance.regression import pooled_design

    masks = SegmentMasks(labels_with_disk(), 300, random_state=3)
    np.testing.assert_array_equal(pooled_design(masks, masks.labels), pooled_design(np.asarray(masks), masks.labels))


def test_flip_pairs_of_superpixel_masks_differ_in_exactly_one_segment():
    run = explainer(mask_kinds=labels_with_disk(), mask_pairs="flip", weighting="regression", n_masks=200)
    run.attribute(disk_model, image(), np.array([1.0, 1.0, 0.0]))
    keeps = run.masks_.keeps
    assert np.all((keeps[0::2] != keeps[1::2]).sum(axis=1) == 1)
