"""Image encoders: an ONNX image model plus the preprocessing it was trained with.

An :class:`ImageEncoder` turns an image file or array into the array the Distance Explainer masks and the
preprocess function the explainer applies to each batch of masked images, and it is itself the model::

    encoder = ImageEncoder("resnet50-v1-12.onnx", preset="resnet50")
    image, kwargs = encoder.prepare("bee.jpg")
    reference = encoder.embed("fly.jpg")
    saliency = dianna.explain_image_distance(encoder, image, reference, **kwargs)

Where masking happens (``mask_on``):

- ``"pixels"``: the explainer masks RGB pixels in [0, 1] before normalisation, so masked pixels are black. The
  paper's CLIP runs did this.
- ``"normalized"``: the explainer masks the normalised model input, so masked pixels sit at the channel mean
  (0 after normalisation). The paper's Keras ResNet50 runs did this.

Reading: :func:`read_image` reads every PIL image mode as RGB (or greyscale) in [0, 1] or raises an error that
names the file; see its docstring for what each mode becomes (16-bit images are divided by 65535, float images
must already lie in [0, 1], transparent pixels are composited on black). Greyscale images are replicated to three
channels with a warning; any other channel count of an array is an error.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from dianna_distance.checks import check_bool
from dianna_distance.files import check_input_file, read_npy
from dianna_distance.model import OnnxModel, is_probabilities, softmax
from dianna_distance.models.presets import (
    LAYOUTS,
    MASK_ON,
    NORMALIZATIONS,
    PRESET_EMBEDDING_OUTPUTS,
    PRESETS,
    ImagePreset,
    normalize,
    preprocessing_metadata,
    stated_preset,
)
from dianna_distance.models.reading import RESAMPLING, read_image, read_pixels, resize_pixels, rgb_array

__all__ = ["NORMALIZATIONS", "PRESETS", "ImageEncoder", "ImageLike", "ImagePreset", "check_reference",
           "detect_layout", "ends_in_softmax", "image_list", "load_image", "load_image_for_model", "load_reference",
           "load_reference_for_model", "normalize", "preprocessing_metadata", "read_image", "resize_pixels",
           "softmax", "stated_preset", "PRESET_EMBEDDING_OUTPUTS"]

ImageLike = str | Path | Image.Image | np.ndarray

class ImageEncoder:
    """An ONNX image model with its preprocessing; callable on preprocessed batches.

    Args:
        model: Path to the ONNX file. Its first input takes images ``(N, 3, S, S)`` (NCHW) or ``(N, S, S, 3)``
            (NHWC), with ``S`` the preset's crop size or a symbolic axis.
        preset: Name in :data:`PRESETS` or an :class:`ImagePreset`; None: the preprocessing the file states in
            its metadata (files exported by this package do, see :func:`preprocessing_metadata`). A preset that
            differs from the file's stated preprocessing is used, with a warning.
        mask_on: ``"pixels"`` or ``"normalized"``: where the explainer's masks are applied (see the module).
            Default: what the file states, else ``"pixels"``.
        layout: ``"NCHW"`` or ``"NHWC"``; default: found from the graph's input shape (the axis of length 3).
        output_name: Graph output to return; default ``"image_embeds"`` when the graph has it, else the first.
        providers: ONNX Runtime execution providers.
        embedding_output: An inner tensor of the graph to use as the embedding instead of ``output_name`` (no
            softmax is applied to it), see :mod:`dianna_distance.layers`; ``"preset"``: the preset's layer in
            :data:`PRESET_EMBEDDING_OUTPUTS`.
        embedding_pooling: ``"auto"``, ``"flatten"``, ``"mean"`` or ``"max"`` (see :mod:`dianna_distance.layers`).

    Attributes:
        model_: The :class:`~dianna_distance.model.OnnxModel` running the file.
        preset_: The :class:`ImagePreset` in use.
        mask_on_: ``"pixels"`` or ``"normalized"``, in use.
        layout_: ``"NCHW"`` or ``"NHWC"``.
        softmax_: Whether a softmax is applied to the graph's output.
    """

    def __init__(
        self,
        model: str | Path,
        preset: str | ImagePreset | None = None,
        mask_on: str | None = None,
        layout: str | None = None,
        output_name: str | None = None,
        providers: Sequence[str] | None = None,
        embedding_output: str | None = None,
        embedding_pooling: str = "auto",
    ) -> None:
        self.model = model
        self.preset = preset
        self.mask_on = mask_on
        self.layout = layout
        self.output_name = output_name
        self.providers = providers
        self.embedding_output = embedding_output
        self.embedding_pooling = embedding_pooling
        self._validate()

    def _validate(self) -> None:
        if isinstance(self.preset, str):
            if self.preset not in PRESETS:
                raise ValueError(f"preset must be one of {sorted(PRESETS)} or an ImagePreset, got {self.preset!r}")
            self.preset_ = PRESETS[self.preset]
        elif isinstance(self.preset, ImagePreset):
            self.preset_ = self.preset
        elif self.preset is not None:
            raise TypeError(f"preset must be a str, an ImagePreset or None, got {type(self.preset).__name__}")
        if self.mask_on is not None and self.mask_on not in MASK_ON:
            raise ValueError(f"mask_on must be one of {MASK_ON} or None, got {self.mask_on!r}")
        if self.layout is not None and self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS} or None, got {self.layout!r}")
        if self.embedding_output is not None and self.output_name is not None:
            raise ValueError("give output_name or embedding_output, not both")
        layer = self.embedding_output
        if layer == "preset":
            name = self.preset if isinstance(self.preset, str) else (stated_preset(OnnxModel(
                self.model, providers=self.providers, apply_preprocessing=False)) or (None,))[0]
            if name not in PRESET_EMBEDDING_OUTPUTS:
                raise ValueError(f"embedding_output='preset': preset {name!r} names no layer; presets that do: "
                                 f"{sorted(PRESET_EMBEDDING_OUTPUTS)}")
            layer = PRESET_EMBEDDING_OUTPUTS[name]
        self.model_ = OnnxModel(self.model, providers=self.providers, apply_preprocessing=False,
                                embedding_output=layer, embedding_pooling=self.embedding_pooling)
        stated = stated_preset(self.model_)
        if self.preset is None:
            if stated is None:
                raise ValueError(f"preset: model {str(self.model)!r} states no preprocessing in its metadata; give "
                                 f"a preset (one of {sorted(PRESETS)}) or an ImagePreset")
            self.preset_ = stated[1]
        elif stated is not None and stated[1] != self.preset_:
            warnings.warn(f"model {str(self.model)!r} states the preprocessing of preset {stated[0]!r} "
                          f"({stated[1]}), but preset {self.preset!r} ({self.preset_}) was given and is used; leave "
                          "the preset out to use the file's", UserWarning, stacklevel=3)
        self.mask_on_ = self.mask_on or (stated[2] if stated is not None else "pixels")
        outputs = [output.name for output in self.model_.session.get_outputs()]
        if self.output_name is not None and self.output_name not in outputs:
            raise ValueError(f"output_name {self.output_name!r} is not an output of {str(self.model)!r}; "
                             f"its outputs are {outputs}")
        if layer is None:
            self.model_.output_name = self.output_name or ("image_embeds" if "image_embeds" in outputs else outputs[0])
        stated_layout = (self.model_.preprocessing or {}).get("layout")  # None when the file states nothing
        self.layout_ = self.layout or stated_layout or detect_layout(self.model_.input_shape)
        _check_input_size(self.model_.input_shape, self.layout_, self.preset_.crop, self.model)
        self.softmax_ = layer is None and self.preset_.output == "probabilities" and not ends_in_softmax(
            self.model, self.model_.output_name)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run the model on preprocessed images.

        Args:
            batch: ``(N, 3, S, S)`` or ``(N, S, S, 3)`` as the graph takes it (see :meth:`preprocess`).

        Returns:
            Embeddings or class probabilities ``(N, D)``.
        """
        output = self.model_(batch)
        output = output.reshape(len(output), -1)
        if self.softmax_ and is_probabilities(output):
            self.softmax_ = False
            warnings.warn(f"model {str(self.model)!r} already gives probabilities (its outputs are non-negative and "
                          "sum to 1): no softmax is applied to them", UserWarning, stacklevel=2)
        return softmax(output) if self.softmax_ else output

    def load_image(self, image: ImageLike) -> np.ndarray:
        """Read, convert to RGB, resize the shorter side and centre-crop an image, as the preset says.

        Args:
            image: Path to an image file, a PIL image, or an array ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``:
                uint8 in [0, 255] or float in [0, 1].

        Returns:
            RGB pixels ``(S, S, 3)``, float32 in [0, 1], ready to display.
        """
        return load_image(image, self.preset_)

    def prepare(self, image: ImageLike) -> tuple[np.ndarray, dict]:
        """Turn an image into what the Distance Explainer masks, plus the explainer arguments that go with it.

        Args:
            image: See :meth:`load_image`.

        Returns:
            ``(array, explainer_kwargs)``: the array ``(S, S, 3)`` to mask (RGB pixels in [0, 1] for
            ``mask_on="pixels"``, the normalised input for ``"normalized"``), and ``{"preprocess_function": ...,
            "axis_labels": {2: "channels"}}`` to pass to the explainer with this encoder as the model.
        """
        pixels = self.load_image(image)
        array = pixels if self.mask_on_ == "pixels" else normalize(pixels[None], self.preset_.normalization)[0]
        return array, {"preprocess_function": self.preprocess, "axis_labels": {2: "channels"}}

    def preprocess(self, batch: np.ndarray) -> np.ndarray:
        """The explainer's preprocess function: masked arrays from :meth:`prepare` to the graph's input.

        Args:
            batch: ``(N, S, S, 3)`` as :meth:`prepare` returns (with a batch axis).

        Returns:
            ``(N, 3, S, S)`` or ``(N, S, S, 3)``, float32, as the graph takes it.
        """
        batch = np.asarray(batch, dtype=np.float32)
        if self.mask_on_ == "pixels":
            batch = normalize(batch, self.preset_.normalization)
        return batch.transpose(0, 3, 1, 2) if self.layout_ == "NCHW" else batch

    def embed(self, images: ImageLike | Sequence[ImageLike]) -> np.ndarray:
        """Embed one image, ``(D,)``, or a list of K images, ``(K, D)``: the reference side of an explanation.

        Args:
            images: One image or a list of images (see :meth:`load_image`).

        Returns:
            ``(D,)`` for one image, ``(K, D)`` for a list.
        """
        batch, single = image_list(images)
        if not batch:
            raise ValueError("images must contain at least one image")
        embeddings = self(self.preprocess(np.stack([self.prepare(item)[0] for item in batch])))
        return embeddings[0] if single else embeddings

    @property
    def output_dim(self) -> int:
        """Length D of the output vectors (from the graph when it states it, else by running one image)."""
        shape = next(o.shape for o in self.model_.session.get_outputs() if o.name == self.model_.output_name)
        if shape and isinstance(shape[-1], int) and all(isinstance(n, int) for n in shape[1:]):
            return int(np.prod(shape[1:]))
        size = self.preset_.crop
        return self(self.preprocess(np.zeros((1, size, size, 3), np.float32))).shape[1]


def image_list(images: ImageLike | Sequence[ImageLike]) -> tuple[list[ImageLike], bool]:
    """``(the images as a list, whether one image was given)``: a str, a Path, a PIL image or an array is one."""
    if isinstance(images, str) or not isinstance(images, Sequence):
        return [images], True
    return list(images), False


def detect_layout(input_shape: Sequence) -> str:
    """Find whether an image graph input is NCHW or NHWC from its declared shape.

    Args:
        input_shape: Declared shape of the graph input, rank 4; symbolic axes as str or None.

    Returns:
        ``"NCHW"`` when axis 1 has length 3, ``"NHWC"`` when axis 3 has.

    Raises:
        ValueError: When the shape is not rank 4, or neither (or both) of axes 1 and 3 has length 3.
    """
    if len(input_shape) != 4:
        raise ValueError(f"model input must be rank 4 (N, C, H, W) or (N, H, W, C); its shape is {list(input_shape)}")
    first, last = input_shape[1] == 3, input_shape[3] == 3
    if first == last:
        raise ValueError(f"cannot tell the channel axis from the model input shape {list(input_shape)}: pass "
                         "layout='NCHW' or layout='NHWC'")
    return "NCHW" if first else "NHWC"


def _check_input_size(input_shape: Sequence, layout: str, crop: int, model: object) -> None:
    spatial = input_shape[2:] if layout == "NCHW" else input_shape[1:3]
    channels = input_shape[1] if layout == "NCHW" else input_shape[3]
    fixed = [n for n in spatial if isinstance(n, int)]
    if any(n != crop for n in fixed) or (isinstance(channels, int) and channels != 3):
        raise ValueError(f"model {str(model)!r} takes input of shape {list(input_shape)} ({layout}), which does "
                         f"not fit the preset: it makes 3-channel images of {crop} x {crop} pixels")


#: Nodes that pass their first input through without changing its values (only its shape or type), so a graph
#: whose Softmax is followed by them still gives probabilities.
PASS_THROUGH_OPS = ("Identity", "Reshape", "Flatten", "Cast", "Squeeze", "Unsqueeze")


def ends_in_softmax(model: str | Path, output_name: str) -> bool:
    """Whether the graph output ``output_name`` comes from a Softmax node (the file gives probabilities).

    The output is followed back through nodes that only change the shape or type of their input
    (:data:`PASS_THROUGH_OPS`: Identity, Reshape, Flatten, Cast, Squeeze, Unsqueeze) to the node that computed it.

    Args:
        model: Path to the ONNX file.
        output_name: Name of a graph output.
    """
    import onnx

    try:
        graph = onnx.load(str(model), load_external_data=False).graph
    except Exception as error:  # protobuf's DecodeError and others, for a file that is not an ONNX model
        raise ValueError(f"model: {str(model)!r} is not a valid ONNX model ({type(error).__name__}: {error})"
                         ) from error
    producers = {name: node for node in graph.node for name in node.output}
    name, seen = output_name, set()
    while name in producers and name not in seen:
        seen.add(name)
        node = producers[name]
        if node.op_type == "Softmax":
            return True
        if node.op_type not in PASS_THROUGH_OPS or not node.input:
            return False
        name = node.input[0]
    return False


def load_image(image: ImageLike, preset: ImagePreset) -> np.ndarray:
    """Read an image as RGB and resize its shorter side to ``preset.resize``, then centre-crop ``preset.crop``.

    The resize keeps the aspect ratio (the longer side is truncated to an int, as torchvision does) and uses
    ``preset.resample``. 8-bit images (uint8 arrays, and files or PIL images of 8-bit modes without alpha) are
    resized as 8-bit RGB, where PIL saturates overshoot of the bicubic filter at 0 and 255; all others channel by
    channel in 32-bit float, with that overshoot clipped to [0, 1] likewise.

    Args:
        image: Path to an image file or a PIL image of any mode (see :func:`read_image`), or an array ``(H, W)``,
            ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``: uint8 in [0, 255] or float in [0, 1]. Greyscale is
            replicated to RGB and RGBA is composited on black, with a warning.
        preset: The :class:`ImagePreset`.

    Returns:
        ``(crop, crop, 3)`` float32 RGB in [0, 1].

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is not an image, or the array's shape or values do not fit.
    """
    resample = RESAMPLING[preset.resample]
    if isinstance(image, (str, Path, Image.Image)):
        array = read_pixels(image, channels=3)
    elif isinstance(image, np.ndarray):
        array = rgb_array(image)
    else:
        raise TypeError(f"image must be a path, a PIL image or a NumPy array, got {type(image).__name__}")
    if array.dtype == np.uint8:
        return _resize_crop_channels([Image.fromarray(array, "RGB")], preset, resample)
    channels = [Image.fromarray(np.ascontiguousarray(array[..., c], dtype=np.float32), "F") for c in range(3)]
    return _resize_crop_channels(channels, preset, resample)


def _resize_crop_channels(images: list[Image.Image], preset: ImagePreset, resample: int) -> np.ndarray:
    """Resize the shorter side and centre-crop each PIL image (one RGB image, or one "F" image per channel)."""
    width, height = images[0].size
    scale = preset.resize / min(width, height)
    size = (preset.resize, int(height * scale)) if width <= height else (int(width * scale), preset.resize)
    left, top = round((size[0] - preset.crop) / 2), round((size[1] - preset.crop) / 2)
    box = (left, top, left + preset.crop, top + preset.crop)
    arrays = [np.asarray(image.resize(size, resample).crop(box), dtype=np.float32) for image in images]
    if len(arrays) == 1:
        return arrays[0] / 255
    return np.clip(np.stack(arrays, axis=-1), 0, 1)


def check_reference(reference: np.ndarray, model: Callable | ImageEncoder, name: str = "reference") -> np.ndarray:
    """Check that a reference embedding fits an encoder's output: ``(D,)`` or ``(K, D)`` with matching D.

    Args:
        reference: ``(D,)`` or ``(K, D)``.
        model: An :class:`ImageEncoder` (or anything with an ``output_dim``).
        name: Name used in error messages.

    Returns:
        The reference as a float array.

    Raises:
        ValueError: Wrong rank, non-finite values, or a D that differs from the encoder's.
    """
    reference = np.asarray(reference, dtype=np.float64)
    if reference.ndim not in (1, 2) or reference.shape[-1] == 0:
        raise ValueError(f"{name} must be (D,) or (K, D), got shape {reference.shape}")
    if not np.all(np.isfinite(reference)):
        raise ValueError(f"{name} contains NaN or infinite values")
    output_dim = getattr(model, "output_dim", None)
    if not isinstance(output_dim, int):
        raise TypeError(f"model must be an ImageEncoder (or have an int output_dim) to check the {name} against, "
                        f"got {type(model).__name__}")
    if reference.shape[-1] != output_dim:
        raise ValueError(f"{name} has dimension {reference.shape[-1]}, but the encoder's output has dimension "
                         f"{output_dim}")
    return reference


def load_reference(path: str | Path, model: ImageEncoder) -> np.ndarray:
    """Load a pre-computed reference embedding from a ``.npy`` file and check its dimension against ``model``.

    Args:
        path: ``.npy`` file holding ``(D,)`` or ``(K, D)``.
        model: The :class:`ImageEncoder` the image side goes through.

    Returns:
        ``(D,)`` or ``(K, D)``.
    """
    return check_reference(read_npy(path, "reference"), model, name=f"reference {str(path)!r}")


# -- plain ONNX image models (no preset) -----------------------------------------------------------------------


#: Models already warned that their input size changes images' aspect ratio (the warning comes once per model).
_ASPECT_WARNED: weakref.WeakSet = weakref.WeakSet()


def load_image_for_model(
    path: str | Path, model: OnnxModel, pixel_max: float = 1.0, warn_resize: bool = True
) -> np.ndarray:
    """Read an image file and lay it out as one input item of an image model.

    A file that states its preprocessing in its metadata (files exported by this package, see
    :func:`preprocessing_metadata`) gets it: the shorter side resized with the stated filter, the stated centre
    crop, RGB in [0, 1] (the model normalises it, see :class:`~dianna_distance.model.OnnxModel`; normalised
    here when the file states ``mask_on="normalized"``). ``pixel_max`` must then be 1.

    For any other file, the layout (channels first or last), the number of channels (1: greyscale, 3: RGB) and,
    where the graph fixes them, the height and width come from the model's input shape ``(N, C, H, W)`` or
    ``(N, H, W, C)``. The file is read by :func:`~dianna_distance.models.image.read_image` (every PIL mode, to
    [0, 1]), resized bilinearly to a fixed input size, and scaled to ``[0, pixel_max]``. A resize that changes
    the image's aspect ratio is warned about once per model, even with ``warn_resize=False``.

    Args:
        path: Image file readable by Pillow.
        model: The ONNX model the image is for.
        pixel_max: Value of a white pixel.
        warn_resize: Warn when the image is resized to the model's input size (batch runs, which resize every
            photograph, switch this off and say so in their documentation).

    Returns:
        Float32 array ``(C, H, W)`` or ``(H, W, C)``.
    """
    check_bool(warn_resize, "warn_resize")
    stated = stated_preset(model) if isinstance(model, OnnxModel) else None
    if stated is not None:
        if pixel_max != 1:
            raise ValueError(f"pixel_max does not apply to model {str(model.path)!r}: it states its preprocessing "
                             f"(preset {stated[0]!r}), whose normalisation sets the scale of its input")
        pixels, spec = load_image(path, stated[1]), model.preprocessing
        assert spec is not None  # stated_preset read the preset from it
        if spec["mask_on"] == "normalized" or not model.applies_preprocessing:
            pixels = model.normalize(np.moveaxis(pixels, -1, 0)[None] if spec["layout"] == "NCHW" else pixels[None])[0]
            return pixels
        return np.moveaxis(pixels, -1, 0) if spec["layout"] == "NCHW" else pixels
    shape = model.input_shape
    if len(shape) != 4 or not (shape[1] in (1, 3) or shape[3] in (1, 3)):
        raise ValueError(f"model: input shape {shape} of {str(model.path)!r} is not an image batch "
                         "(N, C, H, W) or (N, H, W, C) with C of 1 or 3")
    channels_first = shape[1] in (1, 3)
    channels, height, width = (shape[1], shape[2], shape[3]) if channels_first else (shape[3], shape[1], shape[2])
    pixels = read_image(path, channels=channels)
    fixed = isinstance(height, int) and isinstance(width, int)
    if fixed and (height < 1 or width < 1):
        raise ValueError(f"model: input shape {shape} of {str(model.path)!r} has an image axis of length 0")
    if fixed and pixels.shape[:2] != (height, width):
        aspect, model_aspect = pixels.shape[1] / pixels.shape[0], width / height
        if abs(aspect / model_aspect - 1) > 0.01 and model not in _ASPECT_WARNED:
            _ASPECT_WARNED.add(model)
            warnings.warn(f"{Path(path).name} ({pixels.shape[1]}x{pixels.shape[0]}) is resized to the model's fixed "
                          f"input size {width}x{height}, which changes its aspect ratio; {str(model.path)!r} states "
                          "no preprocessing, so if it was trained on centre crops, use its preset (--preset, or "
                          "dianna_distance.models.ImageEncoder) or crop the images first", UserWarning, stacklevel=2)
        elif warn_resize:
            warnings.warn(f"resizing {Path(path).name} from {pixels.shape[1]}x{pixels.shape[0]} to the model's "
                          f"{width}x{height}", UserWarning, stacklevel=2)
        pixels = resize_pixels(pixels, (width, height), "bilinear")
    pixels = pixels * np.float32(pixel_max)
    return np.moveaxis(pixels, -1, 0) if channels_first else pixels


def load_reference_for_model(
    path: str | Path, model: OnnxModel, pixel_max: float = 1.0, warn_resize: bool = True
) -> np.ndarray:
    """A reference embedding from a ``.npy`` file ``(D,)`` / ``(K, D)``, or by embedding an image file."""
    path = check_input_file(path, "reference")
    if path.suffix.lower() == ".npy":
        return read_npy(path, "reference")
    return np.asarray(model(load_image_for_model(path, model, pixel_max, warn_resize)[None]))[0]
