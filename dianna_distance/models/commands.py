"""Command-line support for the models: ``explain --preset ... [--caption TEXT ...]`` and ``export``."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dianna_distance.explainer import DistanceExplainer
from dianna_distance.models import EXPORTED_PRESETS, PRESET_FILES, load_image_encoder
from dianna_distance.models.export import SOURCES, export_model
from dianna_distance.models.hub import fetch
from dianna_distance.models.image import check_reference, load_reference
from dianna_distance.models.text import TextEncoder


def add_explain_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--preset``, ``--caption``, ``--text-model``, ``--tokenizer`` and ``--mask-on`` to ``explain``."""
    parser.add_argument("--preset", choices=sorted({*PRESET_FILES, *EXPORTED_PRESETS}),
                        help="preprocess the image as this model wants it; MODEL may then be a local ONNX file or "
                             "the preset's name, to download the registry's file (efficientnet-lite0: to export it "
                             "once from the installed wheels into the cache)")
    parser.add_argument("--caption", action="append",
                        help="reference caption (repeatable: one map per caption), embedded by CLIP's text tower; "
                             "needs --preset clip")
    parser.add_argument("--text-model", default="clip-text",
                        help="CLIP text-tower ONNX file for --caption (default: the registry's clip-text)")
    parser.add_argument("--tokenizer", default="clip-tokenizer",
                        help="tokenizer.json for --caption (default: the registry's clip-tokenizer)")
    parser.add_argument("--mask-on", choices=("pixels", "normalized"), default="pixels",
                        help="mask pixels before normalisation (black) or after it (channel mean); default pixels")


def explain_preset(
    args: argparse.Namespace, **explainer_parameters
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Run ``explain`` with ``--preset``: the image against ``--reference`` (image or ``.npy``) or ``--caption`` texts.

    Args:
        args: Parsed ``explain`` arguments (``model``, ``image``, ``reference``, ``preset``, ``caption``,
            ``text_model``, ``tokenizer``, ``mask_on``).
        **explainer_parameters: Parameters of :class:`~dianna_distance.DistanceExplainer`.

    Returns:
        ``(saliency, pixels, titles)``: the map ``(S, S)`` or ``(K, S, S)``, the cropped RGB image ``(S, S, 3)``
        the map lies over, and one title per map.
    """
    if (args.reference is None) == (not args.caption):
        raise ValueError("give either --reference or --caption (one or more), not both or neither")
    if args.caption and args.preset != "clip":
        raise ValueError(f"--caption needs --preset clip, got --preset {args.preset}")
    encoder = load_image_encoder(args.preset, args.model, mask_on=args.mask_on,
                                 providers=explainer_parameters.get("providers"))
    image, kwargs = encoder.prepare(args.image)
    name = Path(args.image).name
    if args.caption:
        reference = TextEncoder(fetch(args.text_model), fetch(args.tokenizer)).encode(args.caption)
        reference = check_reference(reference, encoder, "caption embeddings")
        titles = [f"{name} vs {caption!r}" for caption in args.caption]
    else:
        path = Path(args.reference)
        is_npy = path.suffix.lower() == ".npy"
        reference = load_reference(path, encoder) if is_npy else encoder.embed(path)
        titles = [f"{name} vs {path.name}"] * (len(reference) if reference.ndim == 2 else 1)
    saliency = DistanceExplainer(**kwargs, **explainer_parameters).attribute(encoder, image, reference)
    return saliency, encoder.load_image(args.image), titles


def add_export_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand."""
    export = commands.add_parser("export", help="write ONNX files from a torchvision, Keras, open_clip or "
                                                "transformers model (that package must be installed), or "
                                                "EfficientNet-Lite0 from its PyPI wheels")
    export.add_argument("source", choices=SOURCES)
    export.add_argument("name", nargs="?",
                        help="model name, e.g. resnet50 (torchvision), ResNet50 (keras), ViT-B-32 (open_clip), "
                             "openai/clip-vit-base-patch32 (transformers); none for efficientnet-lite0")
    export.add_argument("--output-dir", default=".", help="folder to write to (default: the current folder)")
    export.add_argument("--pretrained", help="weights: torchvision weights name or open_clip pretrained tag")


def run_export(args: argparse.Namespace) -> list[Path]:
    """Run the ``export`` subcommand; returns the paths written."""
    return export_model(args.source, args.name, args.output_dir, args.pretrained)
