"""Warnings describe the run that was returned (issue 16, "Messages and flags").

With ``tolerance``, ``n_masks`` is the count of one round, not of the run: a selection range is judged on the masks
the run used, and a tolerance that is not reached always says so. A zero map says why: one mask, no masking
(``p_keep=1``, identical masks), or a model whose output does not change.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from conftest import HEIGHT, WIDTH

from dianna_distance import DistanceExplainer, TextDistanceExplainer
from dianna_distance.convergence import estimate_map_spread

CHANNELS_LAST = {2: "channels"}


def explainer(**parameters) -> DistanceExplainer:
    parameters = {"n_masks": 200, "random_state": 0, "progress": False, "axis_labels": CHANNELS_LAST, **parameters}
    return DistanceExplainer(**parameters)


def messages(record) -> list[str]:
    return [str(warning.message) for warning in record]


def run(explained, model, image, reference):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        saliency = explained.attribute(model, image, reference)
    return saliency, messages(record)


# -- tolerance: ranges judged on the masks used ----------------------------------------------------------------------

def test_a_range_empty_in_one_round_but_not_in_the_run_does_not_warn(box_model, image):
    # 5 masks a round: [0, 0.1) selects int(0.5) = 0 of them, but of the hundreds the run uses it selects many.
    explained = explainer(n_masks=5, tolerance=0.12, max_masks=2000)
    saliency, said = run(explained, box_model, image, box_model(image[None])[0])
    assert explained.converged_ is True and explained.n_masks_used_ >= 100
    assert len(explained.positive_indices_) == int(0.1 * explained.n_masks_used_) > 0
    assert not [message for message in said if "selects no masks" in message]
    assert np.any(saliency > 0)


def test_a_range_that_selects_no_masks_of_the_run_warns_naming_the_masks_the_run_used(box_model, image):
    # [0.5, 0.502) selects no rank out of 100 or 200 masks (int(100.4) = 100): the warning comes after the run and
    # names the masks the run used, not a round's n_masks.
    explained = explainer(n_masks=100, tolerance=0.5, max_masks=2000, mask_selection_range_min=0.5,
                          mask_selection_range_max=0.502)
    saliency, said = run(explained, box_model, image, box_model(image[None])[0])
    used = explained.n_masks_used_
    expected = rf"mask_selection_range \[0.5, 0.502\) selects no masks out of the {used} masks the run used"
    assert [message for message in said if re.search(expected, message)]
    assert len(explained.positive_indices_) == 0
    np.testing.assert_allclose(saliency, -np.asarray(explained.masks_)[explained.negative_indices_].mean(axis=0),
                               atol=1e-6)


def test_a_fixed_run_still_warns_before_the_model_runs_about_an_empty_range(image):
    def model(batch):
        raise AssertionError("the warning must come before the model runs")

    with pytest.warns(UserWarning, match=r"selects no masks out of n_masks=20"), pytest.raises(AssertionError):
        explainer(n_masks=20, mask_selection_range_max=0.01).attribute(model, image, np.ones(3))


# -- tolerance: not reached -----------------------------------------------------------------------------------------

def test_a_tolerance_that_is_not_reached_warns_with_the_spread_reached_and_the_masks_used(box_model, image):
    explained = explainer(n_masks=50, tolerance=1e-6, max_masks=200)
    _, said = run(explained, box_model, image, box_model(image[None])[0])
    assert explained.converged_ is False
    spread = estimate_map_spread(explained.masks_, explained.weights_)
    [warning] = [message for message in said if "was not reached" in message]
    assert "tolerance=1e-06" in warning
    assert f"{spread:.3g}" in warning
    assert "200 masks" in warning


def test_a_tolerance_that_is_not_reached_warns_for_text_too():
    def model(texts):
        return np.stack([[len(text), text.count("a") + 1.0, 1.0] for text in texts])

    explained = TextDistanceExplainer(n_masks=20, tolerance=1e-9, max_masks=40, random_state=0, progress=False)
    with pytest.warns(UserWarning, match=r"tolerance=1e-09 was not reached: .* after max_masks=40 masks"):
        explained.attribute(model, "a cat and a dog sat", np.array([1.0, 0.0, 0.0]))
    assert explained.converged_ is False


def test_a_tolerance_that_is_reached_does_not_warn(box_model, image):
    explained = explainer(n_masks=100, tolerance=0.12, max_masks=5000)
    _, said = run(explained, box_model, image, box_model(image[None])[0])
    assert explained.converged_ is True
    assert said == []


# -- zero maps say why -----------------------------------------------------------------------------------------------

def test_p_keep_one_says_no_masking_happened_and_does_not_blame_the_model(box_model, image):
    _, said = run(explainer(p_keep=1.0), box_model, image, box_model(image[None])[0] + 1)
    assert [message for message in said if "no masking happened" in message and "p_keep=1" in message]
    assert not [message for message in said if "did not change under masking" in message]


def test_p_keep_one_with_tolerance_says_no_masking_happened(box_model, image):
    explained = explainer(p_keep=1.0, n_masks=50, tolerance=0.1, max_masks=500)
    saliency, said = run(explained, box_model, image, box_model(image[None])[0] + 1)
    np.testing.assert_array_equal(saliency, 0.0)
    assert [message for message in said if "no masking happened" in message]
    assert not [message for message in said if "did not change under masking" in message]


def test_p_keep_one_for_text_says_no_masking_happened():
    def model(texts):
        return np.stack([[len(text), 1.0] for text in texts])

    explained = TextDistanceExplainer(n_masks=30, p_keep=1.0, random_state=0, progress=False)
    with pytest.warns(UserWarning, match="no masking happened") as record:
        scores = explained.attribute(model, "one two three", np.array([1.0, 0.0]))
    np.testing.assert_array_equal(scores, 0.0)
    assert not [message for message in messages(record) if "did not change" in message]


def test_identical_given_masks_say_no_masking_happened(box_model, image):
    masks = np.tile(np.random.default_rng(0).random((1, HEIGHT, WIDTH)), (20, 1, 1))
    _, said = run(explainer(n_masks=20, masks=masks), box_model, image, box_model(image[None])[0])
    assert [message for message in said if "every mask is the same: no masking happened" in message]
    assert not [message for message in said if "did not change under masking" in message]


def test_one_mask_says_there_is_nothing_to_rank_and_does_not_blame_the_model(box_model, image):
    saliency, said = run(explainer(n_masks=1), box_model, image, box_model(image[None])[0])
    np.testing.assert_array_equal(saliency, 0.0)
    assert [message for message in said if "one mask gives one distance and nothing to rank" in message]
    assert not [message for message in said if "did not change under masking" in message]


def test_a_model_that_ignores_the_input_is_still_named_as_the_reason(image):
    def constant(batch):
        return np.tile([1.0, 2.0], (len(batch), 1))

    _, said = run(explainer(n_masks=20), constant, image, np.array([2.0, 1.0]))
    assert [message for message in said if "the model's output did not change under masking" in message]


def test_the_zero_map_reason_is_given_once_not_once_per_reference(box_model, image):
    references = np.stack([box_model(image[None])[0] + shift for shift in (1.0, 2.0, 3.0)])
    _, said = run(explainer(p_keep=1.0), box_model, image, references)
    assert len([message for message in said if "no masking happened" in message]) == 1
