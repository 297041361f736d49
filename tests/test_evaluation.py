"""Specifications of dianna_distance.evaluation, on tiny models whose right answers are known."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import pytest  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from dianna_distance import DistanceExplainer, RiseMasks, cosine_distance, generate_masks  # noqa: E402
from dianna_distance import evaluation as ev  # noqa: E402
from dianna_distance.visualization import plot_incremental_deletion, plot_randomisation, plot_seed_spread  # noqa: E402

SIZE = 16
BOX = np.zeros((SIZE, SIZE), dtype=bool)
BOX[4:9, 5:11] = True  # the planted box: the only pixels the box model sees


class BoxModel:
    """Embeds (N, H, W) or (N, H, W, C) images from the box pixels only: A @ box pixels + a constant."""

    def __init__(self, seed=0, channels_axis=-1):
        self.weights = np.random.default_rng(seed).normal(size=(4, BOX.sum()))
        self.constant = np.array([0.0, 0.0, 0.0, 1.0])
        self.channels_axis = channels_axis

    def __call__(self, batch):
        batch = np.asarray(batch, dtype=np.float64)
        if batch.ndim == 4:
            batch = batch.mean(axis=self.channels_axis)
        return batch[:, BOX] @ self.weights.T + self.constant


@pytest.fixture
def box_model():
    return BoxModel()


@pytest.fixture
def image():
    return np.random.default_rng(1).uniform(0.2, 0.8, size=(SIZE, SIZE, 3)).astype(np.float32)


@pytest.fixture
def reference(box_model, image):
    return box_model(image[None])[0]


def _toy_onnx(path, seed=0, embedding_length=6):
    """ONNX model image (N, 16, 16) -> Flatten -> Gemm "dense" -> + 0 * Gemm "ignored" -> Relu -> Gemm "head"."""
    rng = np.random.default_rng(seed)
    pixels, length = SIZE * SIZE, embedding_length

    def tensor(name, values):
        return numpy_helper.from_array(np.asarray(values, dtype=np.float32), name)

    initializers = [
        tensor("dense_w", rng.normal(size=(pixels, length))), tensor("dense_b", rng.normal(size=length)),
        tensor("ignored_w", rng.normal(size=(pixels, length))), tensor("ignored_b", rng.normal(size=length)),
        tensor("zero", np.zeros(())),
        tensor("head_w", rng.normal(size=(length, length))), tensor("head_b", rng.normal(size=length)),
        numpy_helper.from_array(np.array([-1, pixels], dtype=np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("Reshape", ["image", "shape"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "dense_w", "dense_b"], ["hidden"], name="dense"),
        helper.make_node("Gemm", ["flat", "ignored_w", "ignored_b"], ["side"], name="ignored"),
        helper.make_node("Mul", ["side", "zero"], ["nothing"], name="times_zero"),
        helper.make_node("Add", ["hidden", "nothing"], ["total"], name="add"),
        helper.make_node("Relu", ["total"], ["active"], name="relu"),
        helper.make_node("Gemm", ["active", "head_w", "head_b"], ["embedding"], name="head"),
    ]
    graph = helper.make_graph(
        nodes, "toy", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", SIZE, SIZE])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", length])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return str(path)


@pytest.fixture(scope="module")
def toy_onnx(tmp_path_factory):
    return _toy_onnx(tmp_path_factory.mktemp("models") / "toy.onnx")


@pytest.fixture(scope="module")
def gray_image():
    return np.random.default_rng(2).uniform(size=(SIZE, SIZE)).astype(np.float32)


@pytest.fixture(scope="module")
def toy_reference(toy_onnx, gray_image):
    from dianna_distance.model import load_model

    return load_model(toy_onnx)(gray_image[None])[0]


@pytest.fixture(scope="module")
def mprt_result(toy_onnx, gray_image, toy_reference):
    return ev.model_parameter_randomisation(toy_onnx, gray_image, toy_reference,
                                            explainer=DistanceExplainer(n_masks=100), random_state=0, progress=False)


# -- incremental deletion -----------------------------------------------------------------------------------------


def test_deleting_the_planted_box_first_raises_the_distance_above_random(box_model, image, reference):
    result = ev.incremental_deletion(box_model, image, reference, BOX.astype(float), n_steps=8, random_state=0,
                                     progress=False)
    assert result.area_lodf > 0
    assert np.all(result.lodf >= result.random_mean - 1e-12)


def test_deleting_the_planted_box_last_keeps_the_distance_below_random(box_model, image, reference):
    result = ev.incremental_deletion(box_model, image, reference, BOX.astype(float), n_steps=8, random_state=0,
                                     progress=False)
    assert result.area_hidf < 0
    assert np.all(result.hidf <= result.random_mean + 1e-12)
    np.testing.assert_allclose(result.hidf[:-1], 0, atol=1e-12)  # the box survives until the last step


def test_a_distance_explainer_map_of_the_box_model_passes_incremental_deletion(box_model, image, reference):
    attribution = DistanceExplainer(n_masks=200, random_state=0, progress=False).attribute(box_model, image,
                                                                                           reference)
    result = ev.incremental_deletion(box_model, image, reference, attribution, n_steps=10, random_state=0,
                                     progress=False)
    assert result.area_lodf > 0 > result.area_hidf


def test_deletion_curves_run_from_the_image_to_the_baseline(box_model, image, reference):
    result = ev.incremental_deletion(box_model, image, reference, BOX.astype(float), n_steps=4, baseline=0.3,
                                     random_state=0, progress=False)
    start = cosine_distance(box_model(image[None]), reference)[0]
    end = cosine_distance(box_model(np.full((1, *image.shape), 0.3)), reference)[0]
    curves = np.vstack([result.lodf, result.hidf, result.random])
    np.testing.assert_allclose(curves[:, 0], start, atol=1e-12)
    np.testing.assert_allclose(curves[:, -1], end, atol=1e-12)
    np.testing.assert_allclose(result.fractions, [0, 0.25, 0.5, 0.75, 1])


def test_deleted_images_replace_whole_superpixels_in_attribution_order(box_model, image, reference):
    attribution = np.arange(SIZE * SIZE, dtype=float).reshape(SIZE, SIZE)  # bottom-right block is most positive
    result = ev.incremental_deletion(box_model, image, reference, attribution, n_steps=16, superpixels=4,
                                     random_state=0, progress=False)
    after_one_step = result.deleted_image("lodf", 1)
    np.testing.assert_array_equal(after_one_step[12:, 12:], 0)
    np.testing.assert_array_equal(after_one_step[:12], image[:12])
    np.testing.assert_array_equal(after_one_step[:, :12], image[:, :12])
    assert result.segments.max() + 1 == 16


def test_a_segmentation_array_defines_the_deleted_units(box_model, image, reference):
    segments = np.where(BOX, 7, 3)  # two segments: the box and the rest
    result = ev.incremental_deletion(box_model, image, reference, BOX.astype(float), n_steps=2,
                                     superpixels=segments, random_state=0, progress=False)
    np.testing.assert_array_equal(result.deleted_image("lodf", 1)[BOX], 0)
    np.testing.assert_array_equal(result.deleted_image("lodf", 1)[~BOX], image[~BOX])


@pytest.mark.parametrize("baseline", ["black", "mean", "blur", 0.25])
def test_fully_deleted_image_is_the_baseline(box_model, image, reference, baseline):
    result = ev.incremental_deletion(box_model, image, reference, BOX.astype(float), n_steps=2, baseline=baseline,
                                     random_state=0, progress=False)
    expected = {
        "black": np.zeros_like(image),
        "mean": np.broadcast_to(image.mean(axis=(0, 1)), image.shape),
        "blur": result.baseline_image,
        0.25: np.full_like(image, 0.25),
    }[baseline]
    np.testing.assert_allclose(result.deleted_image("hidf", 2), expected, rtol=1e-6)


def test_blur_baseline_is_smoother_than_the_image_per_channel(box_model, image, reference):
    result = ev.incremental_deletion(box_model, image, reference, BOX.astype(float), n_steps=2, baseline="blur",
                                     random_state=0, progress=False)
    assert np.all(result.baseline_image.std(axis=(0, 1)) < 0.5 * image.std(axis=(0, 1)))
    np.testing.assert_allclose(result.baseline_image.mean(axis=(0, 1)), image.mean(axis=(0, 1)), atol=0.02)


def test_channels_first_images_give_the_same_curves_as_channels_last(image, reference):
    attribution = np.random.default_rng(3).normal(size=(SIZE, SIZE))
    last = ev.incremental_deletion(BoxModel(channels_axis=-1), image, reference, attribution, n_steps=5,
                                   random_state=0, progress=False)
    first = ev.incremental_deletion(BoxModel(channels_axis=1), np.moveaxis(image, -1, 0), reference, attribution,
                                    n_steps=5, axis_labels=("channels", "height", "width"), random_state=0,
                                    progress=False)
    np.testing.assert_allclose(first.lodf, last.lodf)
    np.testing.assert_allclose(first.random, last.random)


def test_random_orders_are_reproducible_with_random_state(box_model, image, reference):
    def run(seed):
        return ev.incremental_deletion(box_model, image, reference, BOX.astype(float), n_steps=4, n_random=3,
                                       random_state=seed, progress=False).random

    np.testing.assert_array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))


def test_more_steps_than_pixels_is_refused(box_model, image, reference):
    with pytest.raises(ValueError, match="n_steps"):
        ev.incremental_deletion(box_model, image, reference, BOX.astype(float), n_steps=20, superpixels=8,
                                progress=False)


def test_attribution_of_the_wrong_shape_is_refused(box_model, image, reference):
    with pytest.raises(ValueError, match="attribution"):
        ev.incremental_deletion(box_model, image, reference, np.zeros((SIZE, SIZE + 1)), progress=False)


# -- average sensitivity ------------------------------------------------------------------------------------------


def test_a_model_that_ignores_its_input_gives_sensitivity_zero(image):
    def constant_model(batch):
        return np.tile([1.0, 2.0, 3.0], (len(batch), 1))

    result = ev.average_sensitivity(constant_model, image, np.array([3.0, 2.0, 1.0]), nr_samples=3,
                                    explainer=DistanceExplainer(n_masks=50), random_state=0, progress=False)
    assert result.score == 0
    np.testing.assert_array_equal(result.values, 0)


def test_a_constant_explanation_has_sensitivity_zero(box_model, image, reference):
    def constant_explanation(model, image, reference):
        return np.ones((SIZE, SIZE))

    result = ev.average_sensitivity(box_model, image, reference, nr_samples=4, explain_func=constant_explanation,
                                    random_state=0, progress=False)
    assert result.score == 0


def test_sensitivity_matches_a_direct_numpy_computation_of_its_definition():
    size, n_masks = 8, 40
    rng = np.random.default_rng(4)
    weights = rng.normal(size=(3, size * size))
    image = rng.uniform(size=(size, size))
    reference = rng.normal(size=3)
    masks = generate_masks((size, size), n_masks, feature_res=4, random_state=0)

    def model(batch):
        return np.tanh(batch.reshape(len(batch), -1) @ weights.T)

    def distance_map(x):  # the Distance Explainer written out: closest 10% of masks minus farthest 10%
        embeddings = model(x[None] * masks)
        cosine = embeddings @ reference / np.linalg.norm(embeddings, axis=1) / np.linalg.norm(reference)
        order = np.argsort((1 - cosine) / 2, kind="stable")
        return masks[order[:4]].mean(axis=0, dtype=np.float64) - masks[order[-4:]].mean(axis=0, dtype=np.float64)

    result = ev.average_sensitivity(model, image, reference, nr_samples=3, perturb_std=0.1,
                                    explainer=DistanceExplainer(n_masks=n_masks, masks=masks), random_state=0,
                                    progress=False)
    original = distance_map(image)
    expected = [np.linalg.norm(distance_map(x) - original) / np.linalg.norm(original)
                for x in result.perturbed_images]
    np.testing.assert_allclose(result.attribution, original, atol=1e-12)
    np.testing.assert_allclose(result.values, expected, rtol=1e-9)
    assert result.score == pytest.approx(np.mean(expected))


def test_noisy_images_are_clipped_to_the_value_range_by_default(box_model, reference):
    bright = np.full((SIZE, SIZE, 3), 0.95)
    result = ev.average_sensitivity(box_model, bright, reference, nr_samples=2, explain_func=lambda m, x, r: x[..., 0],
                                    random_state=0, progress=False)
    assert result.perturbed_images.max() <= 1.0
    assert result.perturbed_images.min() >= 0.0


def test_without_clipping_noisy_images_leave_the_value_range(box_model, reference):
    bright = np.full((SIZE, SIZE, 3), 0.95)
    result = ev.average_sensitivity(box_model, bright, reference, nr_samples=2, clip=False,
                                    explain_func=lambda m, x, r: x[..., 0], random_state=0, progress=False)
    assert result.perturbed_images.max() > 1.0


def test_noise_standard_deviation_is_a_fraction_of_the_value_range(box_model, reference):
    grey = np.full((32, 32, 3), 127.0)
    result = ev.average_sensitivity(box_model, grey, reference, nr_samples=10, perturb_std=0.1,
                                    value_range=(0.0, 255.0), explain_func=lambda m, x, r: x[..., 0],
                                    random_state=0, progress=False)
    assert np.std(result.perturbed_images - grey) == pytest.approx(25.5, rel=0.03)


def test_uniform_perturbation_adds_noise_uniform_in_plus_minus_lower_bound_in_image_units(box_model, reference):
    grey = np.full((32, 32, 3), 127.0)
    result = ev.average_sensitivity(box_model, grey, reference, nr_samples=10, perturbation="uniform",
                                    lower_bound=0.2, value_range=(0.0, 255.0), explain_func=lambda m, x, r: x[..., 0],
                                    random_state=0, progress=False)
    noise = result.perturbed_images - grey
    assert np.abs(noise).max() <= 0.2
    assert np.abs(noise).max() > 0.199
    assert np.std(noise) == pytest.approx(0.2 / np.sqrt(3), rel=0.03)  # the standard deviation of U(-0.2, 0.2)
    assert np.mean(noise) == pytest.approx(0, abs=0.005)


def test_uniform_perturbation_ignores_perturb_std_and_gaussian_ignores_lower_bound(box_model, reference):
    grey = np.full((16, 16, 3), 0.5)

    def noise(**parameters):
        result = ev.average_sensitivity(box_model, grey, reference, nr_samples=2, value_range=(0.0, 1.0),
                                        explain_func=lambda m, x, r: x[..., 0], random_state=0, progress=False,
                                        **parameters)
        return result.perturbed_images - grey

    np.testing.assert_array_equal(noise(perturbation="uniform", lower_bound=0.01, perturb_std=0.1),
                                  noise(perturbation="uniform", lower_bound=0.01, perturb_std=0.3))
    np.testing.assert_array_equal(noise(lower_bound=0.01), noise(lower_bound=0.5))  # gaussian is the default
    assert np.std(noise()) == pytest.approx(0.1, rel=0.1)


def test_uniform_noise_far_below_the_distance_gaps_leaves_the_map_unchanged(box_model, image, reference):
    # What happened in most of the paper's runs: noise of 0.2 on the 0-255 scale rarely reorders the masks (here
    # 1e-6 on [0, 1], far below the gaps between the distances of 40 masks).
    image = image.astype(np.float64)
    result = ev.average_sensitivity(box_model, image, reference, nr_samples=3, perturbation="uniform",
                                    lower_bound=1e-6, clip=False, explainer=DistanceExplainer(n_masks=40),
                                    random_state=0, progress=False)
    assert np.all(result.perturbed_images != image)
    np.testing.assert_array_equal(result.perturbed_attributions, np.stack([result.attribution] * 3))
    assert result.score == 0


def test_sensitivity_is_reproducible_with_random_state(box_model, image, reference):
    def run():
        return ev.average_sensitivity(box_model, image, reference, nr_samples=2,
                                      explainer=DistanceExplainer(n_masks=30), random_state=7, progress=False).values

    np.testing.assert_array_equal(run(), run())


def test_sensitivity_denominator_options_scale_the_same_differences():
    attribution = np.array([[3.0, 4.0]])
    perturbed = np.array([[[3.0, 4.0]], [[0.0, 0.0]]])
    image = np.array([[6.0, 8.0]])
    np.testing.assert_allclose(ev.sensitivity_values(attribution, perturbed, image, denominator=None), [0, 5])
    np.testing.assert_allclose(ev.sensitivity_values(attribution, perturbed, image, denominator="explanation"), [0, 1])
    np.testing.assert_allclose(ev.sensitivity_values(attribution, perturbed, image, denominator="input"), [0, 0.5])


# -- model parameter randomisation --------------------------------------------------------------------------------


def test_randomisable_layers_are_the_weight_layers_in_graph_order(toy_onnx):
    assert ev.randomisable_layers(toy_onnx) == {
        "dense": ("dense_w", "dense_b"), "ignored": ("ignored_w", "ignored_b"), "head": ("head_w", "head_b")}


def test_shuffling_a_layer_the_output_ignores_leaves_the_map_unchanged(mprt_result):
    step = mprt_result.steps["independent"].index("ignored")
    assert mprt_result.correlations["independent"][step] == pytest.approx(1.0)
    np.testing.assert_array_equal(mprt_result.maps["independent"][step], mprt_result.original)


def test_shuffling_a_used_layer_lowers_the_correlation(mprt_result):
    step = mprt_result.steps["independent"].index("dense")
    assert mprt_result.correlations["independent"][step] < 0.5


def test_cascades_run_in_opposite_directions_and_end_with_every_layer_shuffled(mprt_result):
    assert mprt_result.steps["top_down"] == ("head", "ignored", "dense")
    assert mprt_result.steps["bottom_up"] == ("dense", "ignored", "head")
    np.testing.assert_allclose(mprt_result.maps["top_down"][-1], mprt_result.maps["bottom_up"][-1])


def test_the_first_cascading_step_equals_shuffling_that_layer_alone(mprt_result):
    np.testing.assert_allclose(mprt_result.maps["top_down"][0], mprt_result.maps["independent"][2])
    np.testing.assert_allclose(mprt_result.maps["bottom_up"][0], mprt_result.maps["independent"][0])


def test_the_original_map_is_the_explainers_own_map_of_the_unmodified_model(toy_onnx, gray_image, toy_reference):
    explainer = DistanceExplainer(n_masks=50, random_state=3, progress=False)
    result = ev.model_parameter_randomisation(toy_onnx, gray_image, toy_reference, modes=("independent",),
                                              layers=("ignored",), explainer=explainer, random_state=0,
                                              progress=False)
    np.testing.assert_allclose(result.original, explainer.attribute(toy_onnx, gray_image, toy_reference))


def test_randomisation_leaves_the_model_file_unchanged(tmp_path, gray_image, toy_reference):
    path = _toy_onnx(tmp_path / "model.onnx")
    before = open(path, "rb").read()
    ev.model_parameter_randomisation(path, gray_image, toy_reference, modes=("independent",), layers=("head",),
                                     explainer=DistanceExplainer(n_masks=20), random_state=0, progress=False)
    assert open(path, "rb").read() == before


def test_layers_selects_the_shuffled_layers(toy_onnx, gray_image, toy_reference):
    result = ev.model_parameter_randomisation(toy_onnx, gray_image, toy_reference, modes=("bottom_up",),
                                              layers=("head", "dense"), explainer=DistanceExplainer(n_masks=20),
                                              random_state=0, progress=False)
    assert result.layer_names == ("dense", "head")
    assert result.maps["bottom_up"].shape == (2, SIZE, SIZE)


def test_unknown_layers_are_refused_with_the_available_names(toy_onnx, gray_image, toy_reference):
    with pytest.raises(ValueError, match="dense"):
        ev.model_parameter_randomisation(toy_onnx, gray_image, toy_reference, layers=("conv1",), progress=False)


def test_randomisation_table_has_a_row_per_layer_and_a_column_per_mode(mprt_result):
    lines = ev.randomisation_table(mprt_result).splitlines()
    assert lines[0].split() == ["layer", "top_down", "bottom_up", "independent"]
    assert [line.split()[0] for line in lines[1:]] == ["dense", "ignored", "head"]
    assert float(lines[2].split()[3]) == pytest.approx(1.0)


# -- seed spread and automatic n_masks ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spread_result():
    image = np.random.default_rng(1).uniform(0.2, 0.8, size=(SIZE, SIZE, 3))
    model = BoxModel()
    return ev.seed_spread(model, image, model(image[None])[0], n_masks=[25, 100, 400], n_seeds=3,
                          explainer=DistanceExplainer(axis_labels=("height", "width", "channels")), random_state=0,
                          progress=False)


def test_seed_spread_falls_with_more_masks(spread_result):
    assert np.all(np.diff(spread_result.spread) < 0)


def test_seed_spread_falls_about_as_one_over_root_n_masks(spread_result):
    fitted = spread_result.coefficient / np.sqrt(spread_result.n_masks)
    np.testing.assert_allclose(spread_result.spread, fitted, rtol=0.35)


def test_the_single_run_estimate_tracks_the_spread_across_seeds(spread_result):
    np.testing.assert_allclose(spread_result.estimated_spread, spread_result.spread, rtol=0.5)


def test_seed_spread_keeps_every_map(spread_result):
    assert spread_result.maps.shape == (3, 3, SIZE, SIZE)
    assert len(set(spread_result.seeds.tolist())) == 3


def test_estimate_pixel_spread_is_the_standard_error_of_the_difference_of_means():
    masks = np.random.default_rng(5).uniform(size=(10, 2, 3))
    positive, negative = np.array([0, 1, 2]), np.array([7, 8, 9])
    expected = np.mean(np.sqrt(masks[positive].var(axis=0, ddof=1) / 3 + masks[negative].var(axis=0, ddof=1) / 3))
    assert ev.estimate_pixel_spread(masks, positive, negative) == pytest.approx(expected)


def test_identical_masks_have_no_spread():
    masks = np.tile(np.random.default_rng(6).uniform(size=(1, 4, 4)), (10, 1, 1))
    assert ev.estimate_pixel_spread(masks, np.arange(3), np.arange(7, 10)) == pytest.approx(0, abs=1e-12)


def _embedder(model, image):
    return lambda masks: model(image[None] * masks[..., None])


def test_automatic_n_masks_stops_early_on_an_easy_case_and_reports_the_count(box_model, image, reference):
    masks = RiseMasks((SIZE, SIZE), 2000, random_state=0)
    result = ev.embed_until_converged(_embedder(box_model, image), masks, reference, tolerance=0.15, step=50,
                                      progress=False)
    assert result.converged
    assert result.n_masks < 2000
    assert result.n_masks == result.mask_counts[-1] == len(result.embeddings)
    assert result.spreads[-1] <= 0.15 < result.spreads[-2]


def test_automatic_n_masks_uses_every_mask_when_the_tolerance_is_out_of_reach(box_model, image, reference):
    masks = RiseMasks((SIZE, SIZE), 120, random_state=0)
    result = ev.embed_until_converged(_embedder(box_model, image), masks, reference, tolerance=1e-3, step=50,
                                      progress=False)
    assert not result.converged
    assert result.n_masks == 120
    np.testing.assert_array_equal(result.mask_counts, [50, 100, 120])


def test_automatic_n_masks_embeds_the_first_masks_in_order(box_model, image, reference):
    masks = RiseMasks((SIZE, SIZE), 500, random_state=0)
    result = ev.embed_until_converged(_embedder(box_model, image), masks, reference, tolerance=0.2, step=40,
                                      progress=False)
    np.testing.assert_allclose(result.embeddings, box_model(image[None] * masks[: result.n_masks][..., None]))


# -- parameter checks ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("metric", "error", "name"), [
    (ev.IncrementalDeletion(n_steps=0), ValueError, "n_steps"),
    (ev.IncrementalDeletion(baseline="white"), ValueError, "baseline"),
    (ev.IncrementalDeletion(value_range=(1, 0)), ValueError, "value_range"),
    (ev.IncrementalDeletion(superpixels=2.5), TypeError, "superpixels"),
    (ev.IncrementalDeletion(random_state="seed"), TypeError, "random_state"),
    (ev.AverageSensitivity(perturb_std=0), ValueError, "perturb_std"),
    (ev.AverageSensitivity(perturb_std=float("nan")), ValueError, "perturb_std"),
    (ev.AverageSensitivity(perturb_std=float("inf")), ValueError, "perturb_std"),
    (ev.AverageSensitivity(perturbation="laplace"), ValueError, "perturbation"),
    (ev.AverageSensitivity(perturbation="uniform", lower_bound=float("nan")), ValueError, "lower_bound"),
    (ev.AverageSensitivity(perturbation="uniform", lower_bound=float("inf")), ValueError, "lower_bound"),
    (ev.AverageSensitivity(perturbation="uniform", lower_bound=-0.2), ValueError, "lower_bound"),
    (ev.AverageSensitivity(denominator="l1"), ValueError, "denominator"),
    (ev.AverageSensitivity(explainer="rise"), TypeError, "explainer"),
    (ev.AverageSensitivity(explainer=DistanceExplainer(), explain_func=np.ones), ValueError, "explain_func"),
    (ev.SeedSpread(n_seeds=1), ValueError, "n_seeds"),
    (ev.SeedSpread(n_masks=100), TypeError, "n_masks"),
    (ev.ModelParameterRandomisation(modes=("sideways",)), ValueError, "modes"),
    (ev.ModelParameterRandomisation(progress="yes"), TypeError, "progress"),
])
def test_invalid_parameters_are_refused_naming_the_parameter(metric, error, name, box_model, image, reference,
                                                             toy_onnx):
    arguments = {ev.IncrementalDeletion: (box_model, image, reference, BOX.astype(float)),
                 ev.ModelParameterRandomisation: (toy_onnx, image[..., 0], reference)}.get(
        type(metric), (box_model, image, reference))
    with pytest.raises(error, match=name):
        metric(*arguments)


# -- plots -----------------------------------------------------------------------------------------------------------


def test_deletion_plot_shows_two_rows_of_images_and_the_curves(box_model, image, reference):
    result = ev.incremental_deletion(box_model, image, reference, BOX.astype(float), n_steps=5, random_state=0,
                                     progress=False)
    figure = plot_incremental_deletion(result, steps=[0, 2, 5])
    assert len(figure.axes) == 2 * 3 + 1
    assert len(figure.axes[-1].lines) == 3


def test_randomisation_plot_draws_a_row_of_maps_per_mode(mprt_result):
    figure = plot_randomisation(mprt_result)
    assert len([ax for ax in figure.axes if ax.get_label() != "<colorbar>"]) == 3 * (1 + 3)


def test_seed_spread_plot_draws_measured_estimated_and_fitted_spread(spread_result, tmp_path):
    figure = plot_seed_spread(spread_result, output_filename=tmp_path / "spread.png")
    assert len(figure.axes[0].lines) == 3
    assert (tmp_path / "spread.png").stat().st_size > 0
