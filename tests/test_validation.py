"""Bad input gets a clear error that names the parameter and what is expected."""

import inspect

import numpy as np
import pytest
from conftest import HEIGHT, WIDTH

from dianna_distance import (
    DistanceExplainer,
    TabularDistanceExplainer,
    TextDistanceExplainer,
    TimeSeriesDistanceExplainer,
)

CHANNELS_LAST = {2: "channels"}


def attribute(model, image, reference, **parameters):
    parameters = {"n_masks": 20, "random_state": 0, "progress": False, "axis_labels": CHANNELS_LAST, **parameters}
    return DistanceExplainer(**parameters).attribute(model, image, reference)


@pytest.mark.parametrize("explainer_class", [DistanceExplainer, TextDistanceExplainer,
                                             TimeSeriesDistanceExplainer, TabularDistanceExplainer])
def test_every_parameter_of_every_modality_is_stored_as_given_and_checked_only_when_it_runs(explainer_class):
    names = [name for name in inspect.signature(explainer_class).parameters]
    given = {name: object() for name in names}  # nothing a check would accept: storing must not check
    explainer = explainer_class(**given)
    assert all(getattr(explainer, name) is value for name, value in given.items())


@pytest.mark.parametrize(
    "parameters, error, message",
    [
        ({"n_masks": 0}, ValueError, "n_masks must be at least 1"),
        ({"n_masks": 2.5}, TypeError, "n_masks must be an int"),
        ({"p_keep": 0.0}, ValueError, r"p_keep must be a number in \(0, 1\]"),
        ({"p_keep": 1.5}, ValueError, r"p_keep must be a number in \(0, 1\]"),
        ({"batch_size": 0}, ValueError, "batch_size must be at least 1"),
        ({"feature_res": 0}, ValueError, "feature_res must be at least 1"),
        ({"mask_selection_range_max": 1.2}, ValueError, r"mask_selection_range_max must be a number in \[0, 1\]"),
        ({"mask_selection_negative_range_min": -0.1}, ValueError, "mask_selection_negative_range_min"),
        ({"mask_selection_range_min": 0.5, "mask_selection_range_max": 0.2}, ValueError,
         r"mask_selection_range_min \(0.5\) must not exceed mask_selection_range_max"),
        ({"mask_selection_negative_range_min": 1.0, "mask_selection_negative_range_max": 0.9}, ValueError,
         "mask_selection_negative_range_min"),
        ({"distance": "manhattan"}, ValueError, "distance must be one of"),
        ({"random_state": "seed"}, TypeError, "random_state must be"),
        ({"preprocess_function": 3}, TypeError, "preprocess_function must be callable"),
        ({"mask_generator": "fast"}, ValueError, "mask_generator must be one of"),
        ({"axis_labels": {1: "channels"}}, ValueError, "first or last axis"),
        ({"axis_labels": ["height", "width", "depth"]}, ValueError, "exactly one axis 'channels'"),
    ],
)
def test_bad_parameter_is_rejected(box_model, image, parameters, error, message):
    with pytest.raises(error, match=message):
        attribute(box_model, image, box_model(image[None])[0], **parameters)


def test_reference_of_the_wrong_length_is_rejected(box_model, image):
    with pytest.raises(ValueError, match="embedded_reference has length 5, but the model's embeddings have length 8"):
        attribute(box_model, image, np.ones(5))


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_non_finite_image_is_rejected(box_model, image, bad_value):
    image[3, 3, 0] = bad_value
    with pytest.raises(ValueError, match="image contains NaN or infinite values"):
        attribute(box_model, image, np.ones(8))


@pytest.mark.parametrize("bad_value", [np.nan, -np.inf])
def test_non_finite_reference_is_rejected(box_model, image, bad_value):
    reference = np.ones(8)
    reference[2] = bad_value
    with pytest.raises(ValueError, match="embedded_reference contains NaN or infinite values"):
        attribute(box_model, image, reference)


def test_zero_reference_is_rejected_under_cosine_distance(box_model, image):
    with pytest.raises(ValueError, match="embedded_reference is a zero vector"):
        attribute(box_model, image, np.zeros(8))


def test_zero_reference_is_fine_under_euclidean_distance(box_model, image):
    assert attribute(box_model, image, np.zeros(8), distance="euclidean").shape == (HEIGHT, WIDTH)


@pytest.mark.parametrize("shape", [(8, 1, 1), ()])
def test_reference_that_is_not_1d_or_2d_is_rejected(box_model, image, shape):
    with pytest.raises(ValueError, match=r"embedded_reference must have shape \(D,\) or \(K, D\)"):
        attribute(box_model, image, np.ones(shape))


@pytest.mark.parametrize("shape", [(HEIGHT,), (1, HEIGHT, WIDTH, 3)])
def test_image_that_is_not_2d_or_3d_is_rejected(box_model, shape):
    with pytest.raises(ValueError, match="image must be 2-D"):
        attribute(box_model, np.ones(shape), np.ones(8), axis_labels=None)


def test_model_returning_the_wrong_number_of_rows_is_rejected(image):
    def model(batch):
        return np.ones((len(batch) + 1, 4))

    with pytest.raises(ValueError, match="model returned 21 embeddings for a batch of 20 images"):
        attribute(model, image, np.ones(4))


def test_model_returning_a_non_2d_array_is_rejected(image):
    def model(batch):
        return np.ones((len(batch), 2, 2))

    with pytest.raises(ValueError, match=r"model must return a 2-D array of embeddings \(N, D\)"):
        attribute(model, image, np.ones(4))


def test_model_that_is_neither_path_nor_callable_is_rejected(image):
    with pytest.raises(TypeError, match="model_or_function must be a path to an ONNX file"):
        attribute(42, image, np.ones(4))


@pytest.mark.parametrize("shape", [(20, HEIGHT, WIDTH + 1), (19, HEIGHT, WIDTH), (20, HEIGHT, WIDTH, 3)])
def test_masks_of_the_wrong_shape_are_rejected(box_model, image, shape):
    with pytest.raises(ValueError, match=r"masks must have shape \(20, 24, 24\)"):
        attribute(box_model, image, np.ones(8), masks=np.ones(shape))


def test_masks_outside_zero_one_are_rejected(box_model, image):
    with pytest.raises(ValueError, match=r"masks must hold numbers in \[0, 1\]"):
        attribute(box_model, image, np.ones(8), masks=np.full((20, HEIGHT, WIDTH), 2.0))


def test_empty_selection_range_warns(box_model, image):
    with pytest.warns(UserWarning, match=r"mask_selection_range \[0.0, 0.01\) selects no masks out of n_masks=20"):
        attribute(box_model, image, box_model(image[None])[0], mask_selection_range_max=0.01)


def test_missing_onnx_file_is_named(image, tmp_path):
    missing = tmp_path / "absent.onnx"
    with pytest.raises(FileNotFoundError, match="absent.onnx"):
        attribute(missing, image, np.ones(4))


def test_corrupt_onnx_file_is_named(image, tmp_path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"this is not a protobuf")
    with pytest.raises(ValueError, match="corrupt.onnx.*not a valid ONNX model"):
        attribute(corrupt, image, np.ones(4))


@pytest.mark.parametrize(
    "parameters, error, message",
    [
        ({"tolerance": 0.0}, ValueError, "tolerance must be None or a positive number"),
        ({"tolerance": 0.1, "max_masks": 10}, ValueError, "max_masks must be at least 20"),
        ({"tolerance": 0.1, "masks": np.ones((20, HEIGHT, WIDTH))}, ValueError, "masks and tolerance"),
    ],
)
def test_bad_automatic_n_masks_settings_are_rejected(box_model, image, parameters, error, message):
    with pytest.raises(error, match=message):
        attribute(box_model, image, box_model(image[None])[0], **parameters)


# -- numbers NumPy cannot take: real numbers of other types, ints too large for a float ----------------------------


def test_p_keep_given_as_a_fraction_gives_the_map_of_the_equal_float(box_model, image):
    from fractions import Fraction

    reference = box_model(image[None])[0]
    as_fraction = attribute(box_model, image, reference, p_keep=Fraction(1, 2))
    np.testing.assert_array_equal(as_fraction, attribute(box_model, image, reference, p_keep=0.5))


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"p_keep": 10**400}, r"p_keep must be a number in \(0, 1\]"),
        ({"tolerance": 10**400}, "tolerance must be None or a positive number"),
        ({"mask_selection_range_max": -(10**400)}, r"mask_selection_range_max must be a number in \[0, 1\]"),
    ],
)
def test_an_int_too_large_for_a_float_is_refused_naming_the_parameter(box_model, image, parameters, message):
    with pytest.raises(ValueError, match=message):
        attribute(box_model, image, box_model(image[None])[0], **parameters)


def test_a_false_discovery_rate_too_large_for_a_float_is_refused_by_name(box_model, image):
    explained = DistanceExplainer(n_masks=20, random_state=0, progress=False, axis_labels=CHANNELS_LAST)
    explained.attribute(box_model, image, box_model(image[None])[0])
    with pytest.raises(ValueError, match=r"fdr must be a number in \(0, 1\)"):
        explained.significance(10**400)
