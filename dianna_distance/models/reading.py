"""Reading images: every PIL mode as RGB (or greyscale) in [0, 1], or an error that names the file.

:func:`read_image` reads files and PIL images; :func:`rgb_array` checks and converts arrays; :func:`resize_pixels`
resizes float pixels. :mod:`dianna_distance.models.image` builds the models' preprocessing on them (and
re-exports them, so ``from dianna_distance.models.image import read_image`` keeps working).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from dianna_distance.files import check_input_file

#: PIL resampling filters by name.
RESAMPLING = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}

#: PIL modes of one channel with more than 8 bits: 16-bit unsigned ints (divided by 65535).
_16BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
#: PIL modes with an alpha channel (composited on black), and what PIL converts each to first.
_ALPHA_MODES = {"RGBA": "RGBA", "RGBa": "RGBA", "PA": "RGBA", "LA": "LA", "La": "LA"}
#: PIL modes of one colour channel (greyscale).
_GREY_MODES = ("1", "L", "LA", "La", "I", "F", *_16BIT_MODES)


def read_image(source: str | Path | Image.Image, channels: int = 3) -> np.ndarray:
    """Read an image file or PIL image of any mode as RGB (``channels=3``) or greyscale (``channels=1``) in [0, 1].

    What each PIL mode becomes:

    - ``"RGB"``, ``"L"``, ``"1"``, ``"P"``, ``"RGBX"``, ``"YCbCr"``, ``"HSV"``, ``"CMYK"`` (8 bits per channel):
      PIL's conversion to RGB (or ``"L"``), divided by 255. CMYK uses PIL's plain formula, without a colour
      profile, with a warning. ``"LAB"`` is refused (convert it with :mod:`PIL.ImageCms` first).
    - ``"I;16"`` and its byte orders (16-bit files, e.g. 16-bit PNG and TIFF): divided by 65535.
    - ``"I"`` (32-bit signed integers): taken as 16-bit data, divided by 65535, when every value lies in
      [0, 65535] (older Pillow versions and some formats store 16-bit files this way); other values are an error.
    - ``"F"`` (32-bit float): taken as it is; every value must be finite and in [0, 1], else an error.
    - Alpha (``"RGBA"``, ``"LA"``, ``"PA"``, ``"RGBa"``, ``"La"``, ``"P"`` with a transparent colour):
      composited on black (each colour value times the alpha fraction), so transparent pixels are black, like
      the explainer's masked pixels; with a warning when some pixel is not opaque.
    - One colour channel read for ``channels=3`` is repeated to RGB, with a warning; colour read for
      ``channels=1`` is turned into luma (ITU-R 601-2, PIL's ``"L"`` conversion), with a warning.

    Args:
        source: Path to an image file Pillow can read, or a :class:`PIL.Image.Image`. A multi-frame file gives
            its first frame.
        channels: 3 for RGB, 1 for greyscale.

    Returns:
        Float32 ``(H, W, channels)`` in [0, 1].

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError: The path is missing, a directory or unreadable.
        ValueError: The file is not an image Pillow can decode, or its mode or values cannot be read as
            [0, 1] pixels; the message names the file.
    """
    pixels = read_pixels(source, channels)
    return pixels.astype(np.float32) / 255 if pixels.dtype == np.uint8 else pixels


def read_pixels(source: str | Path | Image.Image, channels: int) -> np.ndarray:
    """:func:`read_image`, but 8-bit sources without alpha come back as uint8 ``(H, W, channels)`` as stored."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    if isinstance(source, Image.Image):
        image, name = source, "image"
    elif isinstance(source, (str, Path)):
        image, name = open_image(Path(source)), f"image {str(source)!r}"
    else:
        raise TypeError(f"image must be a path or a PIL image, got {type(source).__name__}")
    mode = image.mode
    if mode in _16BIT_MODES or mode in ("I", "F"):
        values = np.asarray(image)
        if mode == "F":
            if not np.all(np.isfinite(values)):
                raise ValueError(f"{name} has mode 'F' (floating point) with NaN or infinite values")
            if values.min() < 0 or values.max() > 1:
                raise ValueError(f"{name} has mode 'F' (floating point) with values outside [0, 1] (from "
                                 f"{values.min():g} to {values.max():g}); scale it to [0, 1]")
            pixels = values.astype(np.float32)
        else:
            if mode == "I" and (values.min() < 0 or values.max() > 65535):
                raise ValueError(f"{name} has mode 'I' (32-bit integers) with values from {values.min()} to "
                                 f"{values.max()}: only values in [0, 65535] (16-bit data) can be read as pixels")
            if mode == "I" and 0 < values.max() <= 255:
                warnings.warn(f"{name} has mode 'I' with values of at most 255; read as 16-bit data (divided by "
                              "65535) it is nearly black: if it holds 8-bit data, convert it to mode 'L' first",
                              stacklevel=3)
            pixels = (values.astype(np.float64) / 65535).astype(np.float32)
        pixels = pixels[..., None]
        if channels == 3:
            _warn_grey(name, mode)
            pixels = np.repeat(pixels, 3, axis=2)
        return pixels
    if mode == "LAB":
        raise ValueError(f"{name} has mode 'LAB', which PIL cannot convert to RGB faithfully; convert it with "
                         "PIL.ImageCms first")
    if mode == "P" and "transparency" in image.info:
        image, mode = image.convert("RGBA"), "PA"
    if mode in _ALPHA_MODES:
        return _composite_on_black(image.convert(_ALPHA_MODES[mode]), mode, name, channels)
    if mode == "CMYK":
        warnings.warn(f"{name} has mode 'CMYK'; converted to RGB with PIL's plain formula (no colour profile)",
                      stacklevel=3)
    target = "L" if channels == 1 else "RGB"
    if channels == 3 and mode in _GREY_MODES:
        _warn_grey(name, mode)
    elif channels == 1 and mode not in _GREY_MODES and mode != "P":
        warnings.warn(f"{name} has mode {mode!r}; converted to greyscale (luma)", stacklevel=3)
    try:
        converted = image if mode == target else image.convert(target)
    except ValueError as error:
        raise ValueError(f"{name} has mode {mode!r}, which cannot be converted to {target} ({error})") from error
    pixels = np.asarray(converted, dtype=np.uint8)
    return pixels[..., None] if pixels.ndim == 2 else pixels


def _warn_grey(name: str, mode: str) -> None:
    warnings.warn(f"{name} has mode {mode!r} (greyscale); converted to RGB by repeating its channel", stacklevel=4)


def _composite_on_black(image: Image.Image, mode: str, name: str, channels: int) -> np.ndarray:
    """Colour times alpha, in [0, 1], of an "RGBA" or "LA" image: transparent pixels become black."""
    values = np.asarray(image, dtype=np.float32) / 255
    colour, alpha = values[..., :-1], values[..., -1:]
    if np.any(alpha < 1):
        warnings.warn(f"{name} has mode {mode!r} with transparent pixels; converted to RGB composited on black "
                      "(transparent pixels are black, like masked pixels)", stacklevel=4)
    if channels == 3 and colour.shape[-1] == 1:
        _warn_grey(name, mode)
        colour = np.repeat(colour, 3, axis=2)
    elif channels == 1 and colour.shape[-1] == 3:
        warnings.warn(f"{name} has mode {mode!r}; converted to greyscale (luma)", stacklevel=4)
        colour = colour @ np.array([[0.299], [0.587], [0.114]], dtype=np.float32)
    return (colour * alpha).astype(np.float32)


def resize_pixels(pixels: np.ndarray, size: tuple[int, int], resample: str = "bilinear") -> np.ndarray:
    """Resize pixels to ``size`` (width, height), channel by channel in 32-bit float, clipped to [0, 1].

    Args:
        pixels: ``(H, W, C)`` float in [0, 1].
        size: ``(width, height)`` in pixels, each at least 1.
        resample: ``"nearest"``, ``"bilinear"`` or ``"bicubic"``.

    Returns:
        Float32 ``(height, width, C)`` in [0, 1].
    """
    if len(size) != 2 or not all(isinstance(n, int) and n >= 1 for n in size):
        raise ValueError(f"size must be (width, height) of positive ints, got {size!r}")
    planes = [Image.fromarray(np.ascontiguousarray(pixels[..., c], dtype=np.float32), "F")
              .resize(size, RESAMPLING[resample]) for c in range(pixels.shape[-1])]
    return np.clip(np.stack([np.asarray(plane) for plane in planes], axis=-1), 0, 1).astype(np.float32)


def open_image(path: Path) -> Image.Image:
    """Open and decode an image file; every failure is an error that names the file."""
    check_input_file(path, "image")
    try:
        with Image.open(path) as opened:
            opened.load()
            return opened
    except UnidentifiedImageError as error:
        raise ValueError(f"image: {str(path)!r} is not an image file PIL can read") from error
    except Image.DecompressionBombError as error:
        raise ValueError(f"image: {str(path)!r} is too large to read safely ({error})") from error
    except PermissionError as error:
        raise PermissionError(f"image: no permission to read {str(path)!r}") from error
    except (OSError, SyntaxError) as error:  # PIL raises OSError for truncated files, SyntaxError for some headers
        raise ValueError(f"image: {str(path)!r} could not be decoded: it is truncated or corrupt ({error})") from error


def rgb_array(array: np.ndarray) -> np.ndarray:
    """An image array as RGB: uint8 kept as it is, float checked to lie in [0, 1]; grey repeated, RGBA composited."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        warnings.warn("image is greyscale; its channel is replicated to RGB", stacklevel=4)
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {array.shape}")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating):
            raise TypeError(f"image array must be uint8 in [0, 255] or float in [0, 1], got dtype {array.dtype}")
        if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
            raise ValueError("a float image array must hold finite values in [0, 1]")
    if array.shape[2] == 4:
        warnings.warn("image is RGBA; composited on black (transparent pixels become black)", stacklevel=4)
        values = array.astype(np.float32) / (255 if array.dtype == np.uint8 else 1)
        return values[..., :3] * values[..., 3:]
    return array
