"""DIANNA registration: both entry points, on a callable and on DIANNA's own bundled MNIST model."""

import dianna
import numpy as np
import pytest

from dianna_distance import DistanceExplainer

PARAMETERS = {"n_masks": 100, "random_state": 0, "progress": False, "axis_labels": {2: "channels"}}


def test_explain_image_distance_is_added_to_dianna(box_model, image):
    reference = box_model(image[None])[0]
    saliency = dianna.explain_image_distance(box_model, image, reference, **PARAMETERS)
    np.testing.assert_array_equal(saliency, DistanceExplainer(**PARAMETERS).attribute(box_model, image, reference))


def test_explain_image_with_method_distance_gives_the_same_result(box_model, image):
    reference = box_model(image[None])[0]
    through_lookup = dianna.explain_image(box_model, image, method="distance", labels=None,
                                          embedded_reference=reference, **PARAMETERS)
    direct = dianna.explain_image_distance(box_model, image, reference, **PARAMETERS)
    np.testing.assert_array_equal(through_lookup, direct)


def test_unknown_keyword_arguments_raise_type_error(box_model, image):
    with pytest.raises(TypeError, match="n_mask"):
        dianna.explain_image_distance(box_model, image, np.ones(8), n_mask=10)
    with pytest.raises(TypeError, match="n_mask"):
        dianna.explain_image(box_model, image, method="distance", labels=None, embedded_reference=np.ones(8),
                             n_mask=10)


def test_labels_are_refused_by_the_distance_method(box_model, image):
    with pytest.raises(ValueError, match="labels must be None"):
        dianna.explain_image(box_model, image, method="distance", labels=[0], embedded_reference=np.ones(8))


def test_missing_reference_is_reported_by_the_distance_method(box_model, image):
    with pytest.raises(TypeError, match="embedded_reference"):
        dianna.explain_image(box_model, image, method="distance", labels=None)


def test_dianna_bundled_mnist_model_explains_digit_zero_against_digit_one(mnist_model_path, digits):
    zero, one = digits
    from dianna_distance.model import OnnxModel

    model = OnnxModel(mnist_model_path)
    reference = model(one[None])[0]
    explainer = DistanceExplainer(n_masks=300, random_state=0, progress=False, axis_labels={2: "channels"})
    saliency = explainer.attribute(mnist_model_path, zero, reference)
    assert saliency.shape == (28, 28)
    assert saliency.max() > 0 > saliency.min()
    # The masks ranked closest to digit one's embedding are closer than those ranked farthest.
    assert explainer.distances_[explainer.positive_indices_].max() < explainer.distances_[
        explainer.negative_indices_].min()
