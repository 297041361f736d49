"""Property: whatever the explainer's parameters and inputs, the outcome is a finite map of the right shape, or a
ValueError / TypeError whose message names the parameter or input at fault; never another exception, never NaN."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dianna_distance import DistanceExplainer
from dianna_distance.distances import WEIGHTINGS

EMBEDDING = 4
NAMES = ("n_masks", "feature_res", "p_keep", "mask_selection_range_min", "mask_selection_range_max",
         "mask_selection_negative_range_min", "mask_selection_negative_range_max", "weighting", "batch_size",
         "distance", "random_state", "tolerance", "max_masks", "axis_labels", "mask_generator", "image",
         "embedded_reference", "masks", "progress", "preprocess_function", "model")


def model(batch: np.ndarray) -> np.ndarray:
    """Embeds a batch (B, ...) of any layout from sums over parts of its values, plus a constant."""
    flat = np.asarray(batch, dtype=np.float64).reshape(len(batch), -1)
    parts = np.array_split(np.arange(flat.shape[1]), EMBEDDING - 1)
    columns = [flat[:, part].sum(axis=1) if len(part) else np.zeros(len(flat)) for part in parts]
    return np.stack([*columns, np.ones(len(flat))], axis=1)


def constant_model(batch: np.ndarray) -> np.ndarray:
    """Every masked input embedded alike: every distance tied."""
    return np.ones((len(batch), EMBEDDING))


def nan_model(batch: np.ndarray) -> np.ndarray:
    out = model(batch)
    out[0, 0] = np.nan
    return out


def flat_model(batch: np.ndarray) -> np.ndarray:
    return model(batch)[:, 0]


def list_model(batch: np.ndarray) -> list:
    return model(batch).tolist()


def int_model(batch: np.ndarray) -> np.ndarray:
    return np.round(model(batch) * 10).astype(np.int64) + 1


def complex_model(batch: np.ndarray) -> np.ndarray:
    return model(batch) + 1j


def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy) -> st.SearchStrategy:
    """Valid values nine times in ten, so that most examples reach a map and each bad value is met on its own."""
    return st.sampled_from(range(10)).flatmap(lambda k: invalid if k == 9 else valid)


bad_numbers = st.sampled_from([float("nan"), float("inf"), -float("inf"), -0.5, 1.5, None, "0.1", True])
bad_ints = st.sampled_from([-1, 0, 2.5, True, None, "10", float("nan")])

parameters = st.fixed_dictionaries({}, optional={
    "n_masks": mostly(st.one_of(st.integers(1, 30), st.just(np.int32(12))), bad_ints),
    "feature_res": mostly(st.integers(1, 9), bad_ints),
    "p_keep": mostly(st.floats(0.05, 1), st.sampled_from([0.0, float("nan"), float("inf"), 1.5, None])),
    "mask_selection_range_min": mostly(st.floats(0, 0.3), bad_numbers),
    "mask_selection_range_max": mostly(st.floats(0.3, 0.6), bad_numbers),
    "mask_selection_negative_range_min": mostly(st.floats(0.6, 0.9), bad_numbers),
    "mask_selection_negative_range_max": mostly(st.floats(0.9, 1), bad_numbers),
    "weighting": mostly(st.sampled_from(WEIGHTINGS), st.sampled_from(["rank", None, 3])),
    "batch_size": mostly(st.one_of(st.none(), st.integers(1, 40)), bad_ints),
    "distance": mostly(st.sampled_from(["cosine", "euclidean"]), st.sampled_from(["manhattan", None, 1])),
    "random_state": mostly(st.one_of(st.none(), st.integers(0, 2**40), st.just(np.random.default_rng(1))),
                           st.sampled_from([-3, 1.5, "seed", True])),
    "tolerance": mostly(st.one_of(st.none(), st.floats(1e-3, 1.0)),
                        st.sampled_from([float("nan"), float("inf"), 0.0, -1.0, "0.1"])),
    "max_masks": mostly(st.integers(30, 60), st.sampled_from([-1, 0, None, 30.0])),
    "mask_generator": mostly(st.sampled_from(["vectorized", "dianna"]), st.sampled_from(["other", None])),
    "axis_labels": mostly(st.sampled_from([None, {2: "channels"}, {0: "channels"}, {-1: "channels"}]),
                          st.sampled_from([{1: "channels"}, ["a", "b"], {2: "colour"}, "channels", {5: "channels"}])),
})


@st.composite
def images(draw):
    height, width = draw(mostly(st.integers(1, 7), st.just(0))), draw(st.integers(1, 7))
    layout = draw(mostly(st.sampled_from(["HW", "HWC", "CHW"]), st.just("HWCX")))
    channels = draw(st.sampled_from([1, 3, 4]))
    shape = {"HW": (height, width), "HWC": (height, width, channels), "CHW": (channels, height, width),
             "HWCX": (height, width, channels, 1)}[layout]
    dtype = draw(mostly(st.sampled_from([np.float32, np.float64, np.uint8, np.int16, bool]),
                        st.sampled_from([np.complex64, object])))
    values = np.random.default_rng(draw(st.integers(0, 100))).random(shape)
    image = (values * (255 if dtype == np.uint8 else 1)).astype(dtype)
    if dtype in (np.float32, np.float64) and image.size and draw(st.sampled_from(range(10))) == 9:
        image.flat[0] = draw(st.sampled_from([np.nan, np.inf]))
    return image


@st.composite
def references(draw):
    shape = draw(mostly(st.sampled_from([(EMBEDDING,), (2, EMBEDDING)]),
                        st.sampled_from([(EMBEDDING - 1,), (0,), (2, 2, EMBEDDING), ()])))
    reference = np.random.default_rng(draw(st.integers(0, 100))).normal(size=shape)
    if reference.size and draw(st.sampled_from(range(10))) == 9:
        reference.flat[0] = draw(st.sampled_from([np.nan, np.inf, 0.0]))
    if reference.ndim and draw(st.sampled_from(range(20))) == 19:
        reference[...] = 0.0
    return reference


models = st.sampled_from([model] * 6 + [constant_model, list_model, int_model, nan_model, flat_model,
                                         complex_model])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parameters=parameters, image=images(), reference=references(), model=models)
def test_outcome_is_a_finite_map_or_an_error_naming_the_parameter(parameters, image, reference, model):
    explainer = DistanceExplainer(progress=False, **parameters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            saliency = explainer.attribute(model, image, reference)
        except (ValueError, TypeError) as error:
            message = str(error)
            assert any(re.search(rf"\b{name}\b", message) for name in NAMES), message
            return
    spatial = image.shape[1:3] if explainer.channels_axis(image) == 0 else image.shape[:2]
    expected = spatial if np.ndim(reference) == 1 else (len(reference), *spatial)
    assert saliency.shape == tuple(expected)
    assert np.all(np.isfinite(saliency))


@pytest.mark.parametrize("n_masks", [1, 2, 3])
def test_very_few_masks_give_a_finite_map(n_masks):
    image = np.random.default_rng(0).random((8, 9, 3)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saliency = DistanceExplainer(n_masks=n_masks, random_state=0, progress=False).attribute(
            model, image, model(image[None])[0] + 1)
    assert saliency.shape == (8, 9) and np.all(np.isfinite(saliency))
