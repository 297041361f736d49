"""Inputs that would make a map meaningless give the right map, or an error or a warning: never a silent wrong map."""

import warnings

import numpy as np
import onnx
import pytest
from conftest import BOX, CHANNELS, HEIGHT, WIDTH, BoxModel, save_linear_onnx
from onnx import TensorProto, helper, numpy_helper

from dianna_distance import DistanceExplainer, cosine_distance, euclidean_distance, generate_masks
from dianna_distance.distances import rank_weights, select_masks, selection_weights
from dianna_distance.model import OnnxModel

CHANNELS_LAST = {2: "channels"}


def explainer(**parameters) -> DistanceExplainer:
    return DistanceExplainer(**{"n_masks": 60, "random_state": 0, "progress": False, "axis_labels": CHANNELS_LAST,
                                **parameters})


class SaturatingModel:
    """Embeds the mean of the box's pixels quantised to quarters: most masked images tie with others."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        level = np.round(np.asarray(batch)[:, BOX[0], BOX[1], :].mean(axis=(1, 2, 3)) * 4) / 4
        return np.stack([level, np.ones(len(level))], axis=1)


# -- ties in the ranking -----------------------------------------------------------------------------------------


def test_tied_masks_across_a_boundary_share_its_weight_equally():
    distances = np.array([0.1, 0.2, 0.2, 0.2, 0.9, 0.9])  # ranks 1-3 tied across the positive boundary at 2
    weights, positive, negative = select_masks(distances, (0.0, 2 / 6), (4 / 6, 1.0))
    np.testing.assert_allclose(weights, [0.5, 0.5 / 3, 0.5 / 3, 0.5 / 3, -0.5, -0.5])
    assert list(positive) == [0, 1, 2, 3] and list(negative) == [4, 5]


def test_without_ties_the_weights_are_the_plain_ranked_selection():
    distances = np.random.default_rng(0).random(50)
    weights = selection_weights(distances, rank_weights(50, "ranges", (0.0, 0.1), (0.9, 1.0)))
    order = np.argsort(distances)
    expected = np.zeros(50)
    expected[order[:5]], expected[order[45:]] = 0.2, -0.2
    np.testing.assert_allclose(weights, expected)


def test_map_of_a_saturating_model_does_not_depend_on_the_order_of_the_masks(image):
    model = SaturatingModel()
    masks = generate_masks((HEIGHT, WIDTH), 80, random_state=1)
    reference = model(image[None])[0]
    permutation = np.random.default_rng(2).permutation(80)
    first = explainer(n_masks=80, masks=masks)
    in_order = first.attribute(model, image, reference)
    assert len(np.unique(first.distances_)) <= 4  # the model really ties
    shuffled = explainer(n_masks=80, masks=masks[permutation]).attribute(model, image, reference)
    np.testing.assert_allclose(in_order, shuffled, atol=1e-12)


def test_a_model_whose_output_never_changes_gives_a_zero_map_and_a_warning(image):
    def constant_model(batch):
        return np.tile([1.0, 2.0, 3.0], (len(batch), 1))

    with pytest.warns(UserWarning, match="did not change under masking"):
        saliency = explainer().attribute(constant_model, image, np.array([3.0, 2.0, 1.0]))
    np.testing.assert_array_equal(saliency, 0.0)


def test_the_zero_map_warning_holds_for_one_sided_selections_too(image):
    def constant_model(batch):
        return np.ones((len(batch), 2))

    with pytest.warns(UserWarning, match="did not change"):
        saliency = explainer(mask_selection_negative_range_min=1.0).attribute(constant_model, image, np.ones(2))
    np.testing.assert_array_equal(saliency, 0.0)


# -- lossy casts into the model ------------------------------------------------------------------------------------


def save_uint8_onnx(path) -> tuple:
    """An ONNX model taking uint8 images (N, H, W, C) and embedding them linearly."""
    weights = np.random.default_rng(0).normal(size=(HEIGHT * WIDTH * CHANNELS, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Cast", ["image"], ["as_float"], to=TensorProto.FLOAT),
         helper.make_node("Flatten", ["as_float"], ["flat"], axis=1),
         helper.make_node("MatMul", ["flat", "weights"], ["embedding"])],
        "uint8_embedding",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", HEIGHT, WIDTH, CHANNELS])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(weights, "weights")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path, weights


def test_fractional_values_into_an_integer_graph_are_rounded_with_a_warning(tmp_path, image):
    path, weights = save_uint8_onnx(tmp_path / "uint8.onnx")
    pixels = image * 255
    with pytest.warns(UserWarning, match="rounded to the nearest integer"):
        embeddings = OnnxModel(path)(pixels[None])
    np.testing.assert_allclose(embeddings, np.rint(pixels).reshape(1, -1) @ weights, rtol=1e-5)


def test_values_outside_an_integer_graphs_range_are_an_error(tmp_path, image):
    path, _ = save_uint8_onnx(tmp_path / "uint8.onnx")
    with pytest.raises(ValueError, match=r"outside \[0, 255\]"):
        OnnxModel(path)((image * 1000)[None])


def test_values_that_overflow_a_float16_graph_are_an_error(tmp_path, image):
    path, _, _ = save_linear_onnx(tmp_path / "half.onnx", (HEIGHT, WIDTH, CHANNELS), dtype=TensorProto.FLOAT16)
    with pytest.raises(ValueError, match="overflows"):
        OnnxModel(path)((image * 1e6)[None])


# -- distances ------------------------------------------------------------------------------------------------------


def test_cosine_distance_is_scale_free_for_any_finite_values():
    rng = np.random.default_rng(0)
    embeddings, reference = rng.normal(size=(5, 8)), rng.normal(size=8)
    expected = cosine_distance(embeddings, reference)
    for scale in (1e-300, 1e150, 1e300):
        np.testing.assert_allclose(cosine_distance(embeddings * scale, reference * scale), expected, rtol=1e-12)


def test_euclidean_distance_does_not_overflow_for_large_finite_values():
    distances = euclidean_distance(np.array([[1e300, 0.0]]), np.array([0.0, 1e300]))
    np.testing.assert_allclose(distances, [np.sqrt(2) * 1e300])


@pytest.mark.parametrize("bad_distance", [
    lambda embeddings, reference: np.full(len(embeddings), np.nan),
    lambda embeddings, reference: np.full(len(embeddings), np.inf),
    lambda embeddings, reference: np.zeros(len(embeddings) + 1),
    lambda embeddings, reference: np.zeros((len(embeddings), 2)),
])
def test_a_custom_distance_returning_nan_inf_or_the_wrong_shape_is_an_error_naming_distance(box_model, image,
                                                                                            bad_distance):
    with pytest.raises(ValueError, match="distance"):
        explainer(distance=bad_distance).attribute(box_model, image, box_model(image[None])[0])


# -- embedding dtypes -----------------------------------------------------------------------------------------------


def test_embeddings_are_kept_as_floats_whatever_each_batch_returns(image):
    box = BoxModel()
    calls = []

    def mixed_model(batch):
        embeddings = box(batch) * 1000
        calls.append(len(calls))
        return embeddings.astype(np.int64) if len(calls) == 1 else embeddings.astype(np.float16)

    explained = explainer(n_masks=40, batch_size=20)
    explained.attribute(mixed_model, image, box(image[None])[0])
    assert explained.embeddings_.dtype == np.float64
    assert not np.array_equal(explained.embeddings_[20:], np.round(explained.embeddings_[20:]))  # not truncated


@pytest.mark.parametrize("where", ["image", "reference", "model output"])
def test_complex_numbers_anywhere_are_a_type_error(box_model, image, where):
    reference = box_model(image[None])[0]
    model = (lambda batch: box_model(batch) + 1j) if where == "model output" else box_model
    image = image + 0j if where == "image" else image
    reference = reference + 0j if where == "reference" else reference
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        with pytest.raises(TypeError, match="complex|real"):
            explainer().attribute(model, image, reference)


def test_an_embedding_length_that_changes_between_batches_blames_the_model(image):
    def unstable_model(batch):
        return np.ones((len(batch), 4 if batch[0].sum() > 0 and len(batch) == 20 else 5)) + batch[:, :1, 0, 0]

    with pytest.raises(ValueError, match="model returned embeddings of length 4 for one batch and 5"):
        explainer(n_masks=30, batch_size=20).attribute(unstable_model, image, np.ones(4))


# -- running ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixed", [1, 3])
def test_a_graph_with_a_fixed_batch_size_runs_with_any_n_masks(tmp_path, image, fixed):
    path, weights, bias = save_linear_onnx(tmp_path / "fixed.onnx", (HEIGHT, WIDTH, CHANNELS), batch_axis=fixed)
    model = OnnxModel(path)
    batch = np.stack([image * scale for scale in (1.0, 0.5, 0.2, 0.1)])
    np.testing.assert_allclose(model(batch), batch.reshape(4, -1) @ weights + bias, rtol=1e-4)
    np.testing.assert_allclose(model(image[None]), image.reshape(1, -1) @ weights + bias, rtol=1e-4)
    saliency = explainer(n_masks=11, batch_size=4).attribute(path, image, image.reshape(-1) @ weights + bias)
    assert saliency.shape == (HEIGHT, WIDTH)


def test_providers_given_as_one_string_are_one_provider(linear_onnx):
    model = OnnxModel(linear_onnx[0], providers="CPUExecutionProvider")
    assert model.providers == ["CPUExecutionProvider"]
    with pytest.raises(TypeError, match="providers"):
        OnnxModel(linear_onnx[0], providers=42)


def test_tolerance_mode_treats_max_masks_as_a_ceiling_not_an_allocation(box_model, image):
    # Drawing 10**9 grids up front would need 64 GB (a MemoryError here); masks are drawn as they are used.
    explained = explainer(n_masks=50, tolerance=0.2, max_masks=10**9)
    explained.attribute(box_model, image, box_model(image[None])[0])
    assert explained.converged_ and explained.n_masks_used_ < 10**4


def test_a_run_that_cannot_fit_in_memory_fails_at_once_naming_n_masks(box_model, image):
    with pytest.raises(ValueError, match=r"n_masks is too large: .* GiB"):
        explainer(n_masks=10**12).attribute(box_model, image, box_model(image[None])[0])


def test_masks_indexed_by_the_selections_of_k_references_give_k_stacks(box_model, image):
    explained = explainer()
    references = box_model(np.stack([image, image[::-1]]))
    explained.attribute(box_model, image, references)
    selected = explained.masks_[explained.positive_indices_]
    assert selected.shape == (2, 6, HEIGHT, WIDTH)
