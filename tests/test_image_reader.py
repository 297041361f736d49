"""One image reader for every PIL mode: RGB (or greyscale) in [0, 1], or an error naming the file, never black."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import save_linear_onnx
from PIL import Image

from dianna_distance.model import OnnxModel
from dianna_distance.models import PRESETS, load_image, read_image
from dianna_distance.models.image import load_image_for_model

RGB = np.random.default_rng(0).integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
GREY = np.random.default_rng(1).integers(0, 256, size=(6, 8), dtype=np.uint8)
LUMA = np.array([0.299, 0.587, 0.114])


def read_quietly(source, channels=3):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_image(source, channels)


def save(image: Image.Image, path):
    image.save(path)
    return path


# Images whose expected RGB in [0, 1] is known, one per PIL mode; each is also saved as a file where a format
# keeps the mode.
def rgb_image():
    return Image.fromarray(RGB, "RGB"), RGB / 255


def grey_image():
    return Image.fromarray(GREY, "L"), np.repeat(GREY[..., None], 3, axis=2) / 255


def sixteen_bit_image(mode="I;16"):
    values = (np.linspace(0, 65535, 48).reshape(6, 8)).astype(np.uint16)
    dtype = ">u2" if mode == "I;16B" else "<u2"
    image = Image.frombytes(mode, (8, 6), values.astype(dtype).tobytes())
    return image, np.repeat(values[..., None] / 65535, 3, axis=2)


def int32_image():
    values = np.linspace(0, 65535, 48).reshape(6, 8).astype(np.int32)
    return Image.fromarray(values, "I"), np.repeat(values[..., None] / 65535, 3, axis=2)


def float_image():
    values = np.linspace(0, 1, 48, dtype=np.float32).reshape(6, 8)
    return Image.fromarray(values, "F"), np.repeat(values[..., None], 3, axis=2)


def rgba_image():
    alpha = np.random.default_rng(2).integers(0, 256, size=(6, 8, 1), dtype=np.uint8)
    return Image.fromarray(np.concatenate([RGB, alpha], axis=2), "RGBA"), RGB / 255 * (alpha / 255)


def la_image():
    alpha = np.random.default_rng(3).integers(0, 256, size=(6, 8), dtype=np.uint8)
    image = Image.fromarray(np.stack([GREY, alpha], axis=2), "LA")
    return image, np.repeat((GREY / 255 * alpha / 255)[..., None], 3, axis=2)


def palette_image():
    image = Image.fromarray(RGB, "RGB").quantize(16)
    return image, np.asarray(image.convert("RGB")) / 255


def palette_alpha_image():
    image, expected = rgba_image()
    converted = image.convert("PA")
    values = np.asarray(converted.convert("RGBA")) / 255
    return converted, values[..., :3] * values[..., 3:]


def bilevel_image():
    bits = GREY > 128
    return Image.fromarray(bits), np.repeat(bits[..., None], 3, axis=2).astype(float)


def cmyk_image():
    image = Image.fromarray(RGB, "RGB").convert("CMYK")
    return image, np.asarray(image.convert("RGB")) / 255


def ycbcr_image():
    image = Image.fromarray(RGB, "RGB").convert("YCbCr")
    return image, np.asarray(image.convert("RGB")) / 255


MODES = {
    "RGB": rgb_image, "L": grey_image, "I;16": sixteen_bit_image, "I;16B": lambda: sixteen_bit_image("I;16B"),
    "I": int32_image, "F": float_image, "RGBA": rgba_image, "LA": la_image, "P": palette_image,
    "PA": palette_alpha_image, "1": bilevel_image, "CMYK": cmyk_image, "YCbCr": ycbcr_image,
}
# File formats that keep each mode when saved.
FORMATS = {"RGB": "png", "L": "png", "I;16": "png", "I": "tif", "F": "tif", "RGBA": "png", "LA": "png",
           "P": "png", "1": "png", "CMYK": "jpg", "YCbCr": "jpg"}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_mode_reads_as_rgb_in_unit_range(mode):
    image, expected = MODES[mode]()
    assert image.mode == mode
    pixels = read_quietly(image)
    assert pixels.dtype == np.float32 and pixels.shape == (6, 8, 3)
    np.testing.assert_allclose(pixels, expected, atol=1e-6)


@pytest.mark.parametrize("mode", sorted(FORMATS))
def test_every_mode_read_from_a_file_is_not_black(tmp_path, mode):
    image, expected = MODES[mode]()
    path = save(image, tmp_path / f"x.{FORMATS[mode]}")
    pixels = read_quietly(path)
    assert pixels.shape == (6, 8, 3) and 0 <= pixels.min() and pixels.max() <= 1
    assert pixels.max() > 0.5  # the brightest pixel of every test image is bright: nothing became black
    if FORMATS[mode] != "jpg":  # lossless formats give back the values exactly
        np.testing.assert_allclose(pixels, expected, atol=1e-6)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_mode_reads_as_greyscale_for_one_channel(mode):
    image, expected = MODES[mode]()
    pixels = read_quietly(image, channels=1)
    assert pixels.shape == (6, 8, 1) and 0 <= pixels.min() and pixels.max() <= 1
    np.testing.assert_allclose(pixels[..., 0], expected @ LUMA, atol=1 / 255 + 1e-6)


def test_sixteen_bit_png_keeps_its_precision(tmp_path):
    values = np.arange(0, 65535, 1365, dtype=np.uint16)[:48].reshape(6, 8) + 7
    path = save(Image.fromarray(values), tmp_path / "deep.png")
    np.testing.assert_allclose(read_quietly(path, channels=1)[..., 0], values / 65535, rtol=1e-6)


def test_float_image_outside_unit_range_names_the_file(tmp_path):
    path = save(Image.fromarray(np.full((6, 8), 255.0, np.float32), "F"), tmp_path / "hdr.tif")
    with pytest.raises(ValueError, match=r"hdr\.tif.*outside \[0, 1\]"):
        read_image(path)


def test_float_image_with_nan_is_an_error():
    with pytest.raises(ValueError, match="NaN"):
        read_image(Image.fromarray(np.full((6, 8), np.nan, np.float32), "F"))


def test_int32_image_beyond_sixteen_bits_is_an_error():
    with pytest.raises(ValueError, match=r"mode 'I'.*65535"):
        read_image(Image.fromarray(np.full((6, 8), 70000, np.int32), "I"))


def test_int32_image_of_eight_bit_values_warns_that_it_reads_nearly_black():
    with pytest.warns(UserWarning, match="nearly black"):
        read_image(Image.fromarray(GREY.astype(np.int32), "I"))


def test_transparent_pixels_are_composited_on_black_with_a_warning():
    image = Image.new("RGBA", (4, 4), (200, 100, 50, 0))
    with pytest.warns(UserWarning, match="composited on black"):
        assert read_image(image).max() == 0


def test_opaque_rgba_reads_as_its_rgb_without_a_warning():
    image = Image.fromarray(np.concatenate([RGB, np.full((6, 8, 1), 255, np.uint8)], axis=2), "RGBA")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(read_image(image), RGB / 255, atol=1e-6)


def test_lab_image_is_refused():
    with pytest.raises(ValueError, match="LAB"):
        read_image(Image.new("LAB", (4, 4)))


def test_truncated_file_is_an_error_naming_it(tmp_path):
    path = save(Image.fromarray(RGB, "RGB"), tmp_path / "whole.png")
    (tmp_path / "cut.png").write_bytes(path.read_bytes()[:60])
    with pytest.raises(ValueError, match="cut.png"):
        read_image(tmp_path / "cut.png")


def test_directory_is_called_a_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        read_image(tmp_path)


@pytest.mark.parametrize("mode", ["I;16", "F", "LA"])
def test_preset_loader_uses_the_same_reader(tmp_path, mode):
    image, expected = MODES[mode]()
    path = save(image, tmp_path / f"x.{FORMATS.get(mode, 'png')}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pixels = load_image(path, PRESETS["clip"])
    assert pixels.shape == (224, 224, 3)
    assert abs(pixels.mean() - expected.mean()) < 0.05  # the same picture, upsampled: not black, not saturated


@pytest.mark.parametrize(("input_shape", "mode"), [((1, 6, 8), "I;16"), ((6, 8, 3), "F"), ((3, 6, 8), "RGBA")])
def test_command_line_loader_uses_the_same_reader(tmp_path, input_shape, mode):
    model = OnnxModel(save_linear_onnx(tmp_path / "m.onnx", input_shape, embedding_length=3)[0])
    image, expected = MODES[mode]()
    path = save(image, tmp_path / f"x.{FORMATS[mode]}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pixels = load_image_for_model(path, model, pixel_max=255.0)
    channels_first = input_shape[0] in (1, 3)
    pixels = np.moveaxis(pixels, 0, -1) if channels_first else pixels
    if input_shape[0] == 1:
        expected = (expected @ LUMA)[..., None]
    np.testing.assert_allclose(pixels, expected * 255, atol=1e-3)
