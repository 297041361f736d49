"""Image encoders: preprocessing against the documented formulas, layout, outputs, references, bad input."""

from __future__ import annotations

from pathlib import Path

import dianna
import numpy as np
import pytest
from conftest_models import image_model_output, save_image_model
from PIL import Image

import dianna_distance
from dianna_distance.models import (
    PRESETS,
    ImageEncoder,
    ImagePreset,
    detect_layout,
    embed_image,
    load_image,
    load_reference,
)

BEE = Path(dianna.__file__).parent / "data" / "bee.jpg"
IMAGENET_MEAN, IMAGENET_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
CLIP_MEAN, CLIP_STD = np.array([0.48145466, 0.4578275, 0.40821073]), np.array([0.26862954, 0.26130258, 0.27577711])


@pytest.fixture
def square_image() -> np.ndarray:
    """A uint8 RGB image already 224 x 224, so the clip and keras-resnet50 presets leave its pixels as they are."""
    return np.random.default_rng(3).integers(0, 256, size=(224, 224, 3), dtype=np.uint8)


@pytest.fixture
def image_256() -> np.ndarray:
    """A uint8 RGB image already 256 x 256: the resnet50 and vgg16 presets only crop its centre 224 x 224."""
    return np.random.default_rng(4).integers(0, 256, size=(256, 256, 3), dtype=np.uint8)


@pytest.fixture
def nchw_model(tmp_path):
    path = tmp_path / "nchw.onnx"
    return path, save_image_model(path, "NCHW", head="logits")


def test_torchvision_normalisation_follows_formula_on_centre_crop(nchw_model, image_256):
    encoder = ImageEncoder(nchw_model[0], "resnet50", mask_on="normalized")
    prepared, _ = encoder.prepare(image_256)
    expected = (image_256[16:240, 16:240] / 255 - IMAGENET_MEAN) / IMAGENET_STD
    np.testing.assert_allclose(prepared, expected, rtol=1e-5, atol=1e-5)


def test_efficientnet_lite0_preset_is_bicubic_256_then_224_centre_crop_with_torchvision_normalisation(nchw_model):
    picture = np.random.default_rng(5).integers(0, 256, size=(300, 400, 3), dtype=np.uint8)
    encoder = ImageEncoder(nchw_model[0], "efficientnet-lite0", mask_on="normalized")
    resized = np.asarray(Image.fromarray(picture).resize((341, 256), Image.Resampling.BICUBIC), np.float32) / 255
    expected = (resized[16:240, 58:282] - IMAGENET_MEAN) / IMAGENET_STD
    np.testing.assert_allclose(encoder.prepare(picture)[0], expected, rtol=1e-5, atol=1e-5)


def test_clip_normalisation_follows_formula(nchw_model, square_image):
    encoder = ImageEncoder(nchw_model[0], "clip", mask_on="normalized")
    prepared, _ = encoder.prepare(square_image)
    np.testing.assert_allclose(prepared, (square_image / 255 - CLIP_MEAN) / CLIP_STD, rtol=1e-5, atol=1e-5)


def test_caffe_normalisation_is_bgr_minus_imagenet_mean(nchw_model, square_image):
    encoder = ImageEncoder(nchw_model[0], "keras-resnet50", mask_on="normalized")
    prepared, _ = encoder.prepare(square_image)
    expected = square_image[..., ::-1].astype(np.float64) - np.array([103.939, 116.779, 123.68])
    np.testing.assert_allclose(prepared, expected, atol=1e-3)


def test_pixels_masking_prepares_rgb_in_unit_range_and_normalises_in_preprocess(nchw_model, image_256):
    encoder = ImageEncoder(nchw_model[0], "resnet50", mask_on="pixels")
    prepared, kwargs = encoder.prepare(image_256)
    crop = image_256[16:240, 16:240] / 255
    np.testing.assert_allclose(prepared, crop, atol=1e-6)
    batch = kwargs["preprocess_function"](prepared[None])
    expected = ((crop - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)[None]
    np.testing.assert_allclose(batch, expected, rtol=1e-5, atol=1e-5)


def test_masked_pixels_are_black_with_pixels_and_at_channel_mean_with_normalized(nchw_model, square_image):
    masked = np.zeros((1, 224, 224, 3), np.float32)  # what a mask of zeros leaves
    on_pixels = ImageEncoder(nchw_model[0], "clip", mask_on="pixels").preprocess(masked)
    on_normalized = ImageEncoder(nchw_model[0], "clip", mask_on="normalized").preprocess(masked)
    np.testing.assert_allclose(on_pixels[0, :, 0, 0], -CLIP_MEAN / CLIP_STD, rtol=1e-5)
    np.testing.assert_allclose(on_normalized, 0)


def test_shorter_side_is_resized_then_centre_cropped_with_the_preset_filter():
    preset = ImagePreset(resize=8, crop=6, resample="bicubic", normalization="none")
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8))
    expected = np.asarray(picture.resize((13, 8), Image.Resampling.BICUBIC), np.float32)[1:7, 4:10] / 255
    np.testing.assert_allclose(load_image(picture, preset), expected)


def test_float_and_uint8_arrays_give_nearly_the_same_pixels(square_image):
    preset = PRESETS["clip"]
    wide = np.concatenate([square_image, square_image[:, :100]], axis=1)
    from_uint8, from_float = load_image(wide, preset), load_image(wide / 255, preset)
    assert from_uint8.shape == from_float.shape == (224, 224, 3)
    np.testing.assert_allclose(from_float, from_uint8, atol=2 / 255)


@pytest.mark.parametrize(("shape", "layout"), [(["N", 3, 224, 224], "NCHW"), (["N", 224, 224, 3], "NHWC"),
                                               ([None, 3, "h", "w"], "NCHW")])
def test_layout_is_found_from_the_input_shape(shape, layout):
    assert detect_layout(shape) == layout


def test_ambiguous_layout_asks_for_the_layout_parameter():
    with pytest.raises(ValueError, match="layout="):
        detect_layout(["N", 3, 3, 3])


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_encoder_output_matches_model_on_preprocessed_image(tmp_path, square_image, layout):
    weights = save_image_model(tmp_path / "m.onnx", layout, head="embeds")
    encoder = ImageEncoder(tmp_path / "m.onnx", "clip")
    expected = image_model_output(weights, ((square_image / 255 - CLIP_MEAN) / CLIP_STD).transpose(2, 0, 1)[None])
    assert encoder.layout_ == layout
    np.testing.assert_allclose(encoder.embed(square_image), expected[0], rtol=1e-4, atol=1e-4)


def test_probabilities_preset_applies_softmax_to_logits(nchw_model, image_256):
    path, weights = nchw_model
    crop = image_256[16:240, 16:240] / 255
    logits = image_model_output(weights, ((crop - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)[None])
    probabilities = ImageEncoder(path, "resnet50").embed(image_256)
    expected = np.exp(logits[0] - logits[0].max()) / np.exp(logits[0] - logits[0].max()).sum()
    np.testing.assert_allclose(probabilities, expected, rtol=1e-4)


def test_softmax_is_not_applied_twice_to_a_graph_ending_in_softmax(tmp_path, square_image):
    weights = save_image_model(tmp_path / "soft.onnx", "NHWC", head="softmax")
    encoder = ImageEncoder(tmp_path / "soft.onnx", "keras-resnet50")
    logits = image_model_output(weights, (square_image[..., ::-1] - np.array([103.939, 116.779, 123.68]))
                                .transpose(2, 0, 1)[None].astype(np.float32))
    expected = np.exp(logits[0] - logits[0].max()) / np.exp(logits[0] - logits[0].max()).sum()
    assert not encoder.softmax_
    np.testing.assert_allclose(encoder.embed(square_image), expected, rtol=1e-4)


def test_embed_list_gives_one_row_per_image(nchw_model, square_image):
    embeddings = embed_image(ImageEncoder(nchw_model[0], "vgg16"), [square_image, BEE])
    assert embeddings.shape == (2, 6)
    assert not np.allclose(embeddings[0], embeddings[1])


def test_explain_image_distance_runs_with_prepared_image(tmp_path):
    save_image_model(tmp_path / "clip.onnx", "NCHW", head="embeds")
    encoder = ImageEncoder(tmp_path / "clip.onnx", "clip")
    image, kwargs = encoder.prepare(BEE)
    references = encoder.embed([BEE, np.zeros((64, 64, 3), np.uint8) + 200])
    saliency = dianna.explain_image_distance(encoder, image, references, n_masks=20, random_state=0,
                                             progress=False, **kwargs)
    assert saliency.shape == (2, 224, 224)
    assert np.all(np.isfinite(saliency))
    assert dianna_distance.DistanceExplainer is not None


def test_input_size_that_does_not_fit_the_preset_is_rejected(tmp_path):
    save_image_model(tmp_path / "big.onnx", "NCHW", size=288)
    with pytest.raises(ValueError, match="does not fit the preset"):
        ImageEncoder(tmp_path / "big.onnx", "resnet50")


def test_reference_of_wrong_dimension_is_rejected(nchw_model, tmp_path):
    np.save(tmp_path / "ref.npy", np.ones(7))
    with pytest.raises(ValueError, match="dimension 7.*dimension 6"):
        load_reference(tmp_path / "ref.npy", ImageEncoder(nchw_model[0], "resnet50"))


def test_reference_of_right_dimension_loads_as_saved(nchw_model, tmp_path):
    np.save(tmp_path / "refs.npy", np.arange(12.0).reshape(2, 6))
    loaded = load_reference(tmp_path / "refs.npy", ImageEncoder(nchw_model[0], "resnet50"))
    np.testing.assert_array_equal(loaded, np.arange(12.0).reshape(2, 6))


def test_missing_image_file_is_a_file_not_found_error(nchw_model, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.jpg"):
        ImageEncoder(nchw_model[0], "resnet50").prepare(tmp_path / "nothing.jpg")


def test_file_that_is_not_an_image_is_a_value_error(nchw_model, tmp_path):
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(ValueError, match="not an image"):
        ImageEncoder(nchw_model[0], "resnet50").prepare(tmp_path / "notes.jpg")


@pytest.mark.parametrize(("mode", "message"), [("L", "converted to RGB"), ("RGBA", "converted to RGB")])
def test_greyscale_and_rgba_files_are_converted_with_a_warning(tmp_path, mode, message):
    Image.new(mode, (30, 40), color=128 if mode == "L" else (10, 20, 30, 40)).save(tmp_path / "x.png")
    with pytest.warns(UserWarning, match=message):
        pixels = load_image(tmp_path / "x.png", PRESETS["resnet50"])
    assert pixels.shape == (224, 224, 3)


@pytest.mark.parametrize(("array", "message"), [(np.zeros((9, 9)), "greyscale"), (np.zeros((9, 9, 4)), "RGBA")])
def test_greyscale_and_rgba_arrays_are_converted_with_a_warning(array, message):
    with pytest.warns(UserWarning, match=message):
        assert load_image(array, PRESETS["clip"]).shape == (224, 224, 3)


def test_float_image_outside_unit_range_is_rejected():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        load_image(np.full((9, 9, 3), 255.0), PRESETS["clip"])


def test_unknown_preset_is_rejected(nchw_model):
    with pytest.raises(ValueError, match="preset must be one of"):
        ImageEncoder(nchw_model[0], "resnet51")


def test_preset_with_crop_larger_than_resize_is_rejected():
    with pytest.raises(ValueError, match="crop"):
        ImagePreset(resize=200, crop=224, resample="bilinear", normalization="torchvision")


def test_reference_check_against_a_model_without_output_dim_is_a_type_error_naming_model():
    from dianna_distance.models import check_reference

    with pytest.raises(TypeError, match="model must be an ImageEncoder .* got function"):
        check_reference(np.ones(4), lambda batch: batch)


def test_embed_takes_any_sequence_of_images_as_a_list_and_a_path_str_as_one_image(tmp_path):
    save_image_model(tmp_path / "model.onnx", head="embeds", dim=4)
    encoder = ImageEncoder(tmp_path / "model.onnx", "clip")
    one = encoder.embed(str(BEE))
    assert one.shape == (4,)
    for images in ([BEE, BEE], (BEE, BEE), sequence_of(BEE, 2)):
        np.testing.assert_allclose(encoder.embed(images), np.stack([one, one]), rtol=1e-6)


def sequence_of(image: Path, n: int):
    """A Sequence of ``n`` copies of ``image`` that is neither a list nor a tuple."""
    from collections import UserList

    return UserList([image] * n)
