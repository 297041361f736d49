"""Given the same masks and model, the map equals that of the paper authors' distance-explainer 0.6.0."""

import numpy as np
import pytest
from conftest import HEIGHT, WIDTH

from dianna_distance import DistanceExplainer, generate_masks

distance_explainer = pytest.importorskip("distance_explainer")

SELECTIONS = [
    (0.0, 0.1, 0.9, 1.0),  # the paper's default mirror selection
    (0.0, 0.2, 1.0, 1.0),  # one-sided, closest 20%
    (0.0, 0.0, 0.9, 1.0),  # negative side only
    (0.05, 0.3, 0.5, 0.8),  # arbitrary inner ranges
    (0.0, 0.5, 0.5, 1.0),  # halves
    (0.0, 1.0, 0.0, 1.0),  # everything on both sides: zero map
]


@pytest.mark.parametrize("selection", SELECTIONS)
def test_map_equals_distance_explainer_0_6_0(box_model, image, selection):
    n_masks = 300
    masks = generate_masks((HEIGHT, WIDTH), n_masks, random_state=1)
    reference = box_model(0.5 * image[None])[0]
    ranges = dict(zip(["mask_selection_range_min", "mask_selection_range_max",
                       "mask_selection_negative_range_min", "mask_selection_negative_range_max"], selection))
    oracle = distance_explainer.DistanceExplainer(n_masks=n_masks, axis_labels={2: "channels"}, **ranges)
    expected = np.squeeze(oracle.explain_image_distance(box_model, image, reference, masks=masks[..., None]))
    ours = DistanceExplainer(n_masks=n_masks, masks=masks, axis_labels={2: "channels"}, progress=False,
                             **ranges).attribute(box_model, image, reference)
    if np.std(expected) == 0:
        np.testing.assert_allclose(ours, expected, atol=1e-6)
    else:
        assert np.corrcoef(ours.ravel(), expected.ravel())[0, 1] > 0.999
        np.testing.assert_allclose(ours, expected, atol=1e-5)
