"""Image presets: how each model wants its images (resizing, crop, normalisation, output), and how files state it.

:class:`ImagePreset` and :data:`PRESETS` describe the preprocessing of the paper's models;
:func:`preprocessing_metadata` writes it into an ONNX file's metadata, :func:`stated_preset` reads it back, and
:func:`normalize` applies a normalisation. :mod:`dianna_distance.models.image` builds its encoders on these (and
offers the same names).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from dianna_distance.model import PREPROCESSING_KEY, OnnxModel
from dianna_distance.models.reading import RESAMPLING

__all__ = ["LAYOUTS", "MASK_ON", "NORMALIZATIONS", "OUTPUTS", "PRESETS", "PRESET_EMBEDDING_OUTPUTS", "ImagePreset",
           "normalize", "preprocessing_metadata", "stated_preset"]

#: Per-channel constants of each normalisation, in the channel order the model takes.
NORMALIZATIONS = {
    "torchvision": {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)},
    "clip": {"mean": (0.48145466, 0.4578275, 0.40821073), "std": (0.26862954, 0.26130258, 0.27577711)},
    "caffe": {"mean": (103.939, 116.779, 123.68)},  # BGR order, on pixel values in [0, 255]
    "none": {},
}
OUTPUTS = ("embedding", "probabilities")
MASK_ON = ("pixels", "normalized")
LAYOUTS = ("NCHW", "NHWC")


@dataclass(frozen=True)
class ImagePreset:
    """How a model wants its images.

    Args:
        resize: Length in pixels the shorter image side is resized to, keeping the aspect ratio.
        crop: Side of the square centre crop taken after resizing; the model's input is ``crop x crop``.
        resample: PIL resampling filter for the resize: ``"nearest"``, ``"bilinear"`` or ``"bicubic"``.
        normalization: ``"torchvision"`` (``(x - mean) / std`` on RGB in [0, 1], ImageNet mean/std),
            ``"clip"`` (the same formula with CLIP's mean/std), ``"caffe"`` (Keras "caffe" mode: RGB to BGR, then
            the ImageNet BGR mean subtracted from values in [0, 255]) or ``"none"`` (RGB in [0, 1]).
        output: ``"embedding"`` (the graph's output as it is) or ``"probabilities"`` (a softmax over the
            output, unless the graph already ends in a Softmax node).
    """

    resize: int
    crop: int
    resample: str
    normalization: str
    output: str = "embedding"

    def __post_init__(self) -> None:
        for name in ("resize", "crop"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.crop > self.resize:
            raise ValueError(f"crop ({self.crop}) must not exceed resize ({self.resize})")
        for name, allowed in (("resample", RESAMPLING), ("normalization", NORMALIZATIONS), ("output", OUTPUTS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {sorted(allowed)}, got {getattr(self, name)!r}")


#: Presets of the paper's models. ``resnet50`` and ``vgg16`` match the ONNX Model Zoo files (torchvision-style
#: preprocessing, logits out); ``keras-resnet50`` matches a Keras ``ResNet50`` export (caffe preprocessing, ends
#: in a softmax), the model of the paper's image-vs-image runs; ``clip`` matches CLIP ViT-B/32's image tower;
#: ``efficientnet-lite0`` matches ``dianna-distance export efficientnet-lite0`` (torchvision normalisation, ends in a
#: softmax; bicubic resize to 256 then a 224 centre crop, as EfficientNet's own evaluation crops with 32 pixels of
#: padding and a bicubic filter).
PRESETS = {
    "resnet50": ImagePreset(resize=256, crop=224, resample="bilinear", normalization="torchvision",
                            output="probabilities"),
    "vgg16": ImagePreset(resize=256, crop=224, resample="bilinear", normalization="torchvision",
                         output="probabilities"),
    "keras-resnet50": ImagePreset(resize=224, crop=224, resample="nearest", normalization="caffe",
                                  output="probabilities"),
    "clip": ImagePreset(resize=224, crop=224, resample="bicubic", normalization="clip", output="embedding"),
    "efficientnet-lite0": ImagePreset(resize=256, crop=224, resample="bicubic", normalization="torchvision",
                                      output="probabilities"),
}

#: The inner layer of each preset's file that ``embedding_output="preset"`` takes: EfficientNet-Lite0's pooled 1280
#: features (``(B, 1280, 1, 1)`` in the export of :func:`~dianna_distance.models.export_model`), ResNet50's pooled
#: 2048 (``resnetv17_pool1_fwd``, ``(B, 2048, 1, 1)``) and VGG16's fc7 after its ReLU (``vgg0_dense1_relu_fwd``,
#: ``(B, 4096)``) in the ONNX Model Zoo files of the registry.
PRESET_EMBEDDING_OUTPUTS = {"efficientnet-lite0": "/model/_avg_pooling/GlobalAveragePool_output_0",
                            "resnet50": "resnetv17_pool1_fwd", "vgg16": "vgg0_dense1_relu_fwd"}


def preprocessing_metadata(preset: str | ImagePreset, mask_on: str = "pixels", layout: str = "NCHW",
                           name: str | None = None) -> dict[str, str]:
    """The ONNX ``metadata_props`` entry that states a preset's preprocessing in a file this package exports.

    Args:
        preset: Name in :data:`PRESETS` or an :class:`ImagePreset`.
        mask_on: Where masks go by default (see the module).
        layout: ``"NCHW"`` or ``"NHWC"``, the graph input's layout.
        name: Preset name written for an :class:`ImagePreset` (default: the preset's name, or None).

    Returns:
        ``{PREPROCESSING_KEY: JSON}`` with the preset, its normalisation (named and as per-channel
        ``mean``/``std``/``scale``/``channel_order``), input size (``crop``), resizing (``resize``,
        ``resample``), ``output``, ``mask_on`` and ``layout``; see :data:`dianna_distance.model.PREPROCESSING_KEY`.
    """
    if isinstance(preset, str):
        name, preset = preset, PRESETS[preset]
    if mask_on not in MASK_ON or layout not in LAYOUTS:
        raise ValueError(f"mask_on must be one of {MASK_ON} and layout one of {LAYOUTS}, got {mask_on!r}, "
                         f"{layout!r}")
    constants = NORMALIZATIONS[preset.normalization]
    caffe = preset.normalization == "caffe"
    spec = {"preset": name, "normalization": preset.normalization,
            "mean": list(constants.get("mean", (0.0, 0.0, 0.0))), "std": list(constants.get("std", (1.0, 1.0, 1.0))),
            "scale": 255.0 if caffe else 1.0, "channel_order": "BGR" if caffe else "RGB",
            "resize": preset.resize, "crop": preset.crop, "resample": preset.resample, "output": preset.output,
            "mask_on": mask_on, "layout": layout}
    return {PREPROCESSING_KEY: json.dumps(spec)}


def stated_preset(model: OnnxModel) -> tuple[str | None, ImagePreset, str] | None:
    """The preprocessing an ONNX file states in its metadata, as ``(preset name, ImagePreset, mask_on)``, or None.

    Raises:
        ValueError: The entry cannot be an :class:`ImagePreset` (its message names the file).
    """
    spec = model.preprocessing
    if spec is None:
        return None
    try:
        preset = ImagePreset(resize=spec["resize"], crop=spec["crop"], resample=spec["resample"],
                             normalization=spec["normalization"], output=spec["output"])
    except ValueError as error:
        raise ValueError(f"model: {str(model.path)!r} has a damaged {PREPROCESSING_KEY!r} metadata entry "
                         f"({error})") from error
    return spec["preset"], preset, spec["mask_on"]


def normalize(pixels: np.ndarray, normalization: str) -> np.ndarray:
    """Apply a normalisation from :data:`NORMALIZATIONS` to RGB pixels.

    Args:
        pixels: ``(N, H, W, 3)`` RGB in [0, 1].
        normalization: ``"torchvision"``, ``"clip"``, ``"caffe"`` or ``"none"`` (see :class:`ImagePreset`).

    Returns:
        ``(N, H, W, 3)`` float32; BGR for ``"caffe"``.
    """
    constants = NORMALIZATIONS[normalization]
    pixels = np.asarray(pixels, dtype=np.float32)
    if normalization == "caffe":
        return pixels[..., ::-1] * 255 - np.array(constants["mean"], dtype=np.float32)
    if normalization == "none":
        return pixels
    return (pixels - np.array(constants["mean"], dtype=np.float32)) / np.array(constants["std"], dtype=np.float32)
