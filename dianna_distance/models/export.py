"""Write ONNX files from torchvision, Keras, open_clip or Hugging Face transformers models.

None of those frameworks is a dependency of dianna-distance: each exporter imports what it needs when called and
says what to install when it is missing. The files written fit the presets of :mod:`dianna_distance.models`:
image graphs take ``(N, 3, 224, 224)`` (NCHW; Keras: ``(N, 224, 224, 3)``), CLIP text graphs take ``input_ids``
``(N, 77)`` (and ``attention_mask`` for transformers), with outputs named ``image_embeds`` / ``text_embeds``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

SOURCES = ("torchvision", "keras", "open_clip", "transformers")
OPSET = 17
_IMAGE_SIZE = 224


def export_model(source: str, name: str, output_dir: str | Path, pretrained: str | None = None) -> list[Path]:
    """Export a model to ONNX file(s) in ``output_dir``.

    Args:
        source: ``"torchvision"`` (``name`` e.g. ``"resnet50"``, ``"vgg16"``), ``"keras"`` (``name`` of a
            ``keras.applications`` model, e.g. ``"ResNet50"``, the paper's model), ``"open_clip"`` (``name`` e.g.
            ``"ViT-B-32"``, with ``pretrained`` e.g. ``"openai"``) or ``"transformers"`` (a CLIP model name or
            local folder, e.g. ``"openai/clip-vit-base-patch32"``).
        name: Model name within the source.
        output_dir: Folder the files are written to (created if needed).
        pretrained: Weights tag: torchvision weights (default ``"DEFAULT"``) or open_clip ``pretrained``.

    Returns:
        Paths written: ``<name>.onnx`` for image classifiers; ``<name>-image.onnx``, ``<name>-text.onnx`` (and
        ``tokenizer.json`` for transformers) for CLIP models.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(name).name
    if source == "torchvision":
        return [export_torchvision(name, output_dir / f"{stem}.onnx", pretrained or "DEFAULT")]
    if source == "keras":
        return [export_keras(name, output_dir / f"{stem}.onnx")]
    if source == "open_clip":
        return export_open_clip(name, pretrained, output_dir)
    return export_transformers_clip(name, output_dir)


def _require(module: str, package: str):
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"exporting from {package} needs it installed: pip install {package}") from error


def _torch_export(module, inputs: tuple, path: Path, input_names: list[str], output_names: list[str]) -> Path:
    torch = _require("torch", "torch")
    dynamic_axes = {name: {0: "N"} for name in input_names + output_names}
    with torch.no_grad():
        torch.onnx.export(module.eval(), inputs, str(path), input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, dynamo=False)
    return path


def export_torchvision(arch: str, path: str | Path, weights: str = "DEFAULT") -> Path:
    """Export a torchvision classifier (logits out; use the ``resnet50``/``vgg16`` presets). Needs torchvision."""
    torch, models = _require("torch", "torch"), _require("torchvision.models", "torchvision")
    model = models.get_model(arch, weights=weights)
    return _torch_export(model, (torch.zeros(1, 3, _IMAGE_SIZE, _IMAGE_SIZE),), Path(path), ["pixels"], ["logits"])


def export_keras(arch: str, path: str | Path) -> Path:
    """Export a ``keras.applications`` model with ImageNet weights (NHWC, softmax out). Needs tensorflow, tf2onnx.

    For ``ResNet50`` and ``VGG16`` use the ``keras-resnet50`` preset (caffe preprocessing).
    """
    tf, tf2onnx = _require("tensorflow", "tensorflow"), _require("tf2onnx", "tf2onnx")
    model = getattr(tf.keras.applications, arch)(weights="imagenet")
    signature = (tf.TensorSpec((None, _IMAGE_SIZE, _IMAGE_SIZE, 3), tf.float32, name="pixels"),)
    tf2onnx.convert.from_keras(model, input_signature=signature, opset=OPSET, output_path=str(path))
    return Path(path)


def export_open_clip(name: str, pretrained: str | None, output_dir: str | Path) -> list[Path]:
    """Export an open_clip model's image and text towers. Needs open_clip_torch.

    open_clip has no ``tokenizer.json``; OpenAI-pretrained CLIP models share the tokenizer of the registry's
    ``clip-tokenizer``. The text graph takes ``input_ids`` ``(N, 77)`` (int64) and no attention mask.
    """
    torch, open_clip = _require("torch", "torch"), _require("open_clip", "open_clip_torch")
    model, _, _ = open_clip.create_model_and_transforms(name, pretrained=pretrained)
    stem, output_dir = Path(name).name, Path(output_dir)
    pixels, ids = torch.zeros(1, 3, _IMAGE_SIZE, _IMAGE_SIZE), torch.zeros(1, 77, dtype=torch.int64)
    image = _torch_export(_tower(model, lambda m, x: m.encode_image(x)), (pixels,), output_dir / f"{stem}-image.onnx",
                          ["pixel_values"], ["image_embeds"])
    text = _torch_export(_tower(model, lambda m, x: m.encode_text(x)), (ids,), output_dir / f"{stem}-text.onnx",
                         ["input_ids"], ["text_embeds"])
    return [image, text]


def export_transformers_clip(name: str, output_dir: str | Path) -> list[Path]:
    """Export a Hugging Face CLIP model's image and text towers and its ``tokenizer.json``. Needs transformers."""
    torch, transformers = _require("torch", "torch"), _require("transformers", "transformers")
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
    return paths


def _features(output):
    return getattr(output, "pooler_output", output)


def _tower(model, call):
    """A torch module holding ``model`` whose forward is ``call(model, *inputs)``."""
    torch = _require("torch", "torch")

    class Tower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return call(self.model, *inputs)

    return Tower()
