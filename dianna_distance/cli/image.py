"""``explain``, ``demo`` and ``export``: explain an image against a reference (an ONNX file or a model preset)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dianna_distance.checks import check_positive
from dianna_distance.cli.cluster import add_scheduler_option, check_split
from dianna_distance.cli.common import (
    PRESET_CHOICES,
    STANDARD_ERROR_SUFFIX,
    add_explainer_options,
    dianna_file,
    explainer_parameters,
    output_paths,
    standard_error_path,
)
from dianna_distance.distances import compute_distances
from dianna_distance.files import check_input_file, check_output_prefix, write_together
from dianna_distance.image import MASK_KINDS, DistanceExplainer
from dianna_distance.layers import EMBEDDING_POOLINGS
from dianna_distance.model import OnnxModel
from dianna_distance.models import PRESET_FILES, load_image_encoder
from dianna_distance.models.export import SOURCES, export_model
from dianna_distance.models.hub import fetch, prefetch
from dianna_distance.models.image import (
    check_reference,
    load_image,
    load_image_for_model,
    load_reference_for_model,
    stated_preset,
)
from dianna_distance.models.image import load_reference as load_reference_file
from dianna_distance.models.text import TextEncoder
from dianna_distance.visualization import plot_distance_map


def explain_files(
    model_path: str | Path,
    image_path: str | Path,
    reference_path: str | Path,
    output: str | Path | None = None,
    pixel_max: float = 1.0,
    embedding_output: str | None = None,
    embedding_pooling: str = "auto",
    **explainer_parameters,
) -> tuple[Path, ...]:
    """Explain an image file against a reference file and write the map (``.npy``) and an overlay (``.png``).

    Args:
        model_path: ONNX image model.
        image_path: Image to explain.
        reference_path: Reference as a ``.npy`` embedding or an image file.
        output: Where to write, see :func:`output_paths` (checked before the model runs).
        pixel_max: Value of a white pixel in the model's input.
        embedding_output: Inner tensor of the graph to use as the embedding (see :mod:`dianna_distance.layers`).
        embedding_pooling: How that tensor becomes one vector per image (``"auto"``, ``"flatten"``, ``"mean"``,
            ``"max"``).
        **explainer_parameters: Parameters of :class:`~dianna_distance.DistanceExplainer`.

    Returns:
        The paths of the ``.npy`` and ``.png`` files.
    """
    pixel_max = check_positive(pixel_max, "pixel_max")
    paths = output_paths(output, image_path)
    check_input_file(image_path, "image")
    check_input_file(reference_path, "reference")
    if embedding_output == "preset":
        raise ValueError("--embedding-output preset needs --preset (it names the preset's layer)")
    model = OnnxModel(model_path, providers=explainer_parameters.get("providers"), embedding_output=embedding_output,
                      embedding_pooling=embedding_pooling)
    image = load_image_for_model(image_path, model, pixel_max)
    reference = load_reference_for_model(reference_path, model, pixel_max)
    channels_axis = 0 if model.input_shape[1] in (1, 3) else 2
    explainer = DistanceExplainer(axis_labels={channels_axis: "channels"}, **explainer_parameters)
    saliency = explainer.attribute(model, image, reference)
    titles = reference_titles(Path(image_path).name, Path(reference_path).name,
                              len(saliency) if saliency.ndim == 3 else None)
    summary = run_summary(explainer, model, image, reference)
    stated, preprocessing = stated_preset(model), model.preprocessing
    if stated is not None and preprocessing is not None and preprocessing["mask_on"] == "normalized":
        # the map lies over the pixels
        image, pixel_max = load_image(image_path, stated[1]), 1.0
    return write_map(saliency, image / pixel_max, titles, paths, references=[Path(reference_path)] * len(titles),
                     **summary)


def run_summary(explainer: DistanceExplainer, model: Callable[[np.ndarray], np.ndarray], image: np.ndarray,
                reference: np.ndarray) -> dict:
    """What the figure and the files say about a finished run: error bars, significance, distances, masks used.

    The distance of the unmasked image to each reference costs one more model call.
    """
    batch = image[None]
    if explainer.preprocess_function is not None:
        batch = explainer.preprocess_function(batch)
    embedding = np.asarray(explainer.load_model(model)(batch), dtype=np.float64)
    distances = compute_distances(embedding, np.atleast_2d(reference), explainer.distance)[:, 0]
    spread = float(np.nanmean(explainer.standard_error_))  # infinite when a selection holds a single mask
    return {"standard_error": explainer.standard_error_, "significant": explainer.significant_,
            "distances": distances.tolist(), "distance_name": explainer.distance, "n_masks": explainer.n_masks_used_,
            "spread": spread if np.isfinite(spread) else None}


def reference_titles(image_name: str, reference_name: str, count: int | None) -> list[str]:
    """One title per map: ``"<image> vs <reference>"``; with ``count`` (K maps of a ``(K, D)`` file), its row."""
    if count is None:
        return [f"{image_name} vs {reference_name}"]
    return [f"{image_name} vs {reference_name} [row {index}]" for index in range(count)]


def write_map(
    saliency: np.ndarray,
    image: np.ndarray,
    titles: Sequence[str],
    output: str | Path | tuple[Path, Path],
    references: Sequence[str | Path | np.ndarray] | None = None,
    n_masks: int | None = None,
    standard_error: np.ndarray | None = None,
    significant: np.ndarray | None = None,
    distances: Sequence[float] | None = None,
    spread: float | None = None,
    distance_name: object = "cosine",
) -> tuple[Path, ...]:
    """Write a map (``.npy``) and its figure (``.png``) whole and together; return both paths.

    The figure (:func:`~dianna_distance.visualization.plot_distance_map`) has one row per map: the image, the
    reference (when ``references`` are given) and the map over a greyscale copy of the image, with a legend and one
    colour bar.

    Both files are written to temporary names in their directory and renamed into place one after the other
    (see :func:`dianna_distance.files.write_together`): neither is ever half written, and after the run they
    belong to the same run even when another run writes the same ``--output`` at the same time.

    Args:
        saliency: The map ``(H, W)`` or ``(K, H, W)``.
        image: The image it lies over, ``(H, W, C)``, ``(C, H, W)`` or ``(H, W)``, in [0, 1].
        titles: One title per map.
        output: A path prefix (``.npy`` and ``.png`` are appended) or the two paths from :func:`output_paths`.
        references: One reference per map for the figure: a caption (``str``), a file (:class:`~pathlib.Path`:
            an image is shown as a thumbnail, a ``.npy`` by its name) or an array.
        n_masks: Number of masks used, written on the figure.
        standard_error: The map's per-pixel standard error (the map's shape), written to ``<prefix>_se.npy``
            (:func:`~dianna_distance.cli.common.standard_error_path`) together with the other files.
        significant: Booleans (the map's shape): pixels whose sign the run establishes; the others are hatched.
        distances: Distance of the unmasked image to each reference, in the row titles.
        spread: The map's mean standard error, written on the figure.
        distance_name: The explainer's ``distance`` (named in the row titles with its range).

    Returns:
        The paths written: ``(npy_path, png_path)``, or ``(npy_path, se_path, png_path)`` with ``standard_error``.
    """
    if isinstance(output, tuple):
        npy_path, png_path = output
    else:
        npy_path, _, png_path = check_output_prefix(output, (".npy", STANDARD_ERROR_SUFFIX, ".png"))

    def saver(array: np.ndarray) -> Callable[[Path], None]:
        def save(path: Path) -> None:
            with open(path, "wb") as file:
                np.save(file, array)

        return save

    def save_png(path: Path) -> None:
        plot_distance_map(saliency, image, titles=titles, output_filename=path, references=references,
                          n_masks=n_masks, significant=significant, distances=distances, spread=spread,
                          distance_name=distance_name)

    writers = [(npy_path, saver(saliency)), (png_path, save_png)]
    if standard_error is not None:
        writers.insert(1, (standard_error_path(npy_path), saver(standard_error)))
    return tuple(write_together(writers))


# -- model presets and export ----------------------------------------------------------------------------------


def add_explain_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``explain`` alone: ``--preset``, ``--caption``, ``--mask-kinds`` and the like."""
    parser.add_argument("--preset", choices=PRESET_CHOICES,
                        help="preprocess the image as this model wants it; MODEL may then be a local ONNX file or "
                             "the preset's name (e.g. 'explain clip bee.jpg --preset clip'), to use the registry's "
                             "file, downloaded once (efficientnet-lite0: exported once from the installed wheels into "
                             "the cache; keras-resnet50 has no registry file: give a local one)")
    parser.add_argument("--caption", action="append",
                        help="reference caption (repeatable: one map per caption), embedded by CLIP's text tower; "
                             "needs --preset clip")
    parser.add_argument("--text-model",
                        help="CLIP text-tower ONNX file for --caption (default: the registry's clip-text); only "
                             "with --caption")
    parser.add_argument("--tokenizer",
                        help="tokenizer.json for --caption (default: the registry's clip-tokenizer); only with "
                             "--caption")
    parser.add_argument("--mask-on", choices=("pixels", "normalized"),
                        help="mask pixels before normalisation (black) or after it (channel mean); default pixels; "
                             "only with --preset (a file exported by this package states its own)")
    parser.add_argument("--embedding-output", metavar="TENSOR",
                        help="use this inner tensor of the ONNX graph as the embedding (list them with "
                             "'dianna-distance layers MODEL'); 'preset' with --preset: the preset's layer "
                             "(efficientnet-lite0: pooled 1280 features, resnet50: 2048, vgg16: fc7)")
    parser.add_argument("--embedding-pooling", choices=EMBEDDING_POOLINGS, default="auto",
                        help="how --embedding-output becomes one vector per image: auto (default: spatial tensors "
                             "averaged over height and width, others flattened), flatten, mean or max")
    parser.add_argument("--mask-kinds", choices=MASK_KINDS, default="grid",
                        help="what a mask hides: grid (default: the paper's RISE masks) or superpixels (the "
                             "image's own SLICO superpixels, about FEATURE_RES squared, each kept or hidden whole, "
                             "as LIME masks an image; docs/images.md)")


#: Defaults of the options that only apply with others. argparse leaves them None, so that "given" can be told.
LATE_DEFAULTS = {"text_model": "clip-text", "tokenizer": "clip-tokenizer", "mask_on": "pixels"}


def check_explain_options(args: argparse.Namespace) -> None:
    """Refuse ``explain`` options that cannot apply to the run asked for, then fill in their defaults.

    Raises:
        ValueError: ``--caption`` without ``--preset clip`` (the only preset with a caption model), ``--mask-on``
            without ``--preset``, ``--text-model`` or ``--tokenizer`` without ``--caption``, ``--pixel-max``
            with ``--preset``.
    """
    if args.caption and args.preset != "clip":
        given = f"--preset {args.preset}" if args.preset else "no --preset"
        raise ValueError(f"--caption needs --preset clip, the only preset with a caption model; got {given}")
    for option in ("text_model", "tokenizer"):
        if getattr(args, option) is not None and not args.caption:
            raise ValueError(f"--{option.replace('_', '-')} applies only with --caption (it embeds the captions)")
    if args.mask_on is not None and not args.preset:
        raise ValueError("--mask-on applies only with --preset: a plain ONNX file is fed the image as it is (a file "
                         "exported by this package states where its masks go)")
    if args.preset and args.pixel_max is not None:
        raise ValueError("--pixel-max does not apply with --preset: the preset's normalisation sets the scale of "
                         "the model's input")
    for option, default in LATE_DEFAULTS.items():
        if getattr(args, option) is None:
            setattr(args, option, default)


def explain_preset(
    args: argparse.Namespace, **explainer_parameters
) -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    """Run ``explain`` with ``--preset``: the image against ``--reference`` (image or ``.npy``) or ``--caption`` texts.

    Args:
        args: Parsed ``explain`` arguments (``model``, ``image``, ``reference``, ``preset``, ``caption``,
            ``text_model``, ``tokenizer``, ``mask_on``).
        **explainer_parameters: Parameters of :class:`~dianna_distance.DistanceExplainer`.

    Returns:
        ``(saliency, pixels, titles, summary)``: the map ``(S, S)`` or ``(K, S, S)``, the cropped RGB image
        ``(S, S, 3)`` the map lies over, one title per map, and the keyword arguments of :func:`write_map` that
        describe the run (references, standard error, significance, distances, masks used).
    """
    if (args.reference is None) == (not args.caption):
        raise ValueError("give either --reference or --caption (one or more), not both or neither")
    if args.caption and args.preset != "clip":
        raise ValueError(f"--caption needs --preset clip, got --preset {args.preset}")
    captions = {"--text-model": args.text_model, "--tokenizer": args.tokenizer} if args.caption else {}
    prefetch({"MODEL": preset_model(args.model, args.preset), **captions})  # one error names every file to download
    encoder = load_image_encoder(args.preset, preset_model(args.model, args.preset), mask_on=args.mask_on,
                                 providers=explainer_parameters.get("providers"),
                                 embedding_output=args.embedding_output, embedding_pooling=args.embedding_pooling)
    image, kwargs = encoder.prepare(args.image)
    name = Path(args.image).name
    if args.caption:
        reference = TextEncoder(fetch(args.text_model), fetch(args.tokenizer),
                                providers=explainer_parameters.get("providers")).encode(args.caption)
        reference = check_reference(reference, encoder, "caption embeddings")
        titles = [f"{name} vs {caption!r}" for caption in args.caption]
    else:
        path = Path(args.reference)
        is_npy = path.suffix.lower() == ".npy"
        reference = load_reference_file(path, encoder) if is_npy else encoder.embed(path)
        titles = reference_titles(name, path.name, len(reference) if reference.ndim == 2 else None)
    explainer = DistanceExplainer(**kwargs, **explainer_parameters)
    saliency = explainer.attribute(encoder, image, reference)
    if args.caption:
        references = list(args.caption)
    else:
        references = [Path(args.reference)] * len(titles)
    summary = {"references": references, **run_summary(explainer, encoder, image, reference)}
    return saliency, encoder.load_image(args.image), titles, summary


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
    export.add_argument("source", choices=SOURCES, metavar="SOURCE",
                        help=f"where the model comes from: {', '.join(SOURCES)} (efficientnet-lite0: from "
                             "the installed wheels, no name needed)")
    export.add_argument("name", nargs="?",
                        help="model name, e.g. resnet50 (torchvision), ResNet50 (keras), ViT-B-32 (open_clip), "
                             "openai/clip-vit-base-patch32 (transformers); none for efficientnet-lite0")
    export.add_argument("--output-dir", "-o", default=".", help="folder to write to (default: the current folder)")
    export.add_argument("--pretrained", help="weights: torchvision weights name or open_clip pretrained tag")


def run_export(args: argparse.Namespace) -> list[Path]:
    """Run the ``export`` subcommand; returns the paths written."""
    return export_model(args.source, args.name, args.output_dir, args.pretrained)




def add_explain_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``explain`` subcommand."""
    explain = commands.add_parser("explain", help="explain why an image is close to or far from a reference")
    explain.add_argument("model", nargs="?",
                         help="ONNX image model (input (N, C, H, W) or (N, H, W, C)); a file exported by this package "
                              "(dianna-distance export) brings its preprocessing, so it needs no --preset; may be left "
                              "out with --preset (the preset's own file)")
    explain.add_argument("image", help="image file to explain")
    explain.add_argument("--reference",
                         help="reference: a .npy embedding (D,) or (K, D), or an image file embedded by the model "
                              "(required unless --caption is given)")
    explain.add_argument("--output", "-o", help="where to write: a prefix to which .npy and .png are appended (a "
                                          "trailing .npy or .png is dropped), or an existing directory, which gets "
                                          "<image>_distance.npy/.png (default: <image>_distance in the current "
                                          "directory); checked before the model runs")
    explain.add_argument("--pixel-max", type=float, default=None,
                         help="value of a white pixel in the model's input (default: 1.0); not with --preset, "
                              "whose normalisation sets the input's scale")
    add_explainer_options(explain)
    add_scheduler_option(explain)
    add_explain_options(explain)


def run_explain(args: argparse.Namespace) -> tuple[Path, ...]:
    """Run the ``explain`` subcommand; returns the paths written.

    The explainer's parameters are checked first, before any file is read or model loaded (or downloaded).
    """
    parameters = {**explainer_parameters(args), "mask_kinds": args.mask_kinds}
    if args.model is None:
        if not args.preset:
            raise ValueError("give the MODEL (an ONNX file), or --preset for a preset's own model")
        args.model = args.preset
    check_explain_options(args)
    if args.scheduler is not None:
        return explain_image_on_cluster(args, parameters)
    if args.preset:
        paths = output_paths(args.output, args.image)
        check_input_file(args.image, "image")
        if args.reference is not None:
            check_input_file(args.reference, "reference")
        saliency, pixels, titles, summary = explain_preset(args, **parameters)
        return write_map(saliency, pixels, titles, paths, **summary)
    if args.reference is None:
        raise ValueError("--reference is required without --preset")
    pixel_max = 1.0 if args.pixel_max is None else check_positive(args.pixel_max, "--pixel-max")
    return explain_files(args.model, args.image, args.reference, args.output, pixel_max, args.embedding_output,
                         args.embedding_pooling, **parameters)


def add_demo_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    demo = commands.add_parser("demo", help="explain DIANNA's bundled digit 0 against its digit 1 (blue: what "
                                            "pushes it away) and another 0 (red: what brings it closer) in its "
                                            "bundled MNIST model (no download)")
    demo.add_argument("--output", "-o", default="dianna_distance_demo",
                      help="output prefix or directory, as for explain (default: %(default)s)")
    add_explainer_options(demo, defaults={"n_masks": 500})


def run_demo(args: argparse.Namespace) -> tuple[Path, ...]:
    """Run the ``demo`` subcommand; returns the paths written.

    DIANNA's digit 0 against two references in its binary MNIST model: its digit 1, which the 0's strokes push
    away from (a blue map), and the first 0 of its ``binary-mnist.npz`` test set, which they bring the digit closer
    to (a red map). One pass, a map ``(2, 28, 28)``, a figure with a row each.
    """
    parameters = explainer_parameters(args)
    image_path, one_path = dianna_file("data", "digit0.jpg"), dianna_file("data", "digit1.png")
    paths = output_paths(args.output, image_path)
    model = OnnxModel(dianna_file("models", "mnist_model_tf.onnx"), providers=parameters.get("providers"))
    image = load_image_for_model(image_path, model, 1.0)
    with np.load(dianna_file("data", "binary-mnist.npz")) as digits:
        zeros = digits["X_test"][digits["y_test"] == 0]
    another_zero = zeros[0].reshape(28, 28, 1).astype(np.float32) / 255
    references = np.stack([load_reference_for_model(one_path, model, 1.0), model(another_zero[None])[0]])
    explainer = DistanceExplainer(axis_labels={2: "channels"}, **parameters)
    saliency = explainer.attribute(model, image, references)
    titles = [f"{Path(image_path).name} vs {Path(one_path).name}", f"{Path(image_path).name} vs another 0"]
    return write_map(saliency, image, titles, paths, references=[Path(one_path), another_zero],
                     **run_summary(explainer, model, image, references))


def explain_image_on_cluster(args: argparse.Namespace, parameters: dict) -> tuple[Path, ...]:
    """Run ``explain --scheduler``: the map of :func:`~dianna_distance.batch.explain_split`, with its figure.

    Args:
        args: Parsed ``explain`` arguments, checked by ``check_explain_options``.
        parameters: The checked explainer parameters (with the resolved seed).

    Returns:
        The paths written: the map (``.npy``) and its figure (``.png``).
    """
    from dianna_distance.batch import Job, explain_split
    from dianna_distance.files import check_input_file

    check_split(args.scheduler, parameters)
    if args.reference is None and not args.caption:
        raise ValueError("--reference is required without --caption")
    if args.reference is not None and args.caption:
        raise ValueError("give either --reference or --caption (one or more), not both")
    paths = output_paths(args.output, args.image)
    check_input_file(args.image, "image")
    if args.reference is not None:
        check_input_file(args.reference, "reference")
    image = Path(args.image).resolve()
    reference = None if args.reference is None else str(Path(args.reference).resolve())
    captions = tuple(args.caption) if args.caption else None
    job = Job(image.stem, str(image), reference=reference, caption=captions)
    parameters = dict(parameters)
    if args.embedding_output is not None:
        parameters.update(embedding_output=args.embedding_output, embedding_pooling=args.embedding_pooling)
    model = preset_model(args.model, args.preset) if args.preset else args.model
    saliency = explain_split(job, model, args.scheduler, preset=args.preset,
                             mask_on=args.mask_on if args.preset else None, pixel_max=args.pixel_max,
                             text_model=args.text_model if captions else None,
                             tokenizer=args.tokenizer if captions else None, **parameters)
    pixels = _pixels(args, model, parameters.get("providers"))
    if captions:
        titles = [f"{image.name} vs {caption!r}" for caption in captions]
        references: list[str | Path] = list(captions)
    else:
        assert reference is not None  # checked above: a reference or captions
        titles = reference_titles(image.name, Path(reference).name, len(saliency) if saliency.ndim == 3 else None)
        references = [Path(reference)] * len(titles)
    return write_map(saliency, pixels, titles, paths, references=list(references), n_masks=parameters["n_masks"])


def _pixels(args: argparse.Namespace, model: str, providers: list[str] | None) -> np.ndarray:
    """The image as the map lies over it, in [0, 1] (for a preset, read as the preset says: no model is loaded)."""
    from dianna_distance.models.image import PRESETS, load_image, load_image_for_model, stated_preset

    if args.preset:
        return load_image(args.image, PRESETS[args.preset])
    from dianna_distance.model import OnnxModel

    onnx_model = OnnxModel(model, providers=providers)
    stated, preprocessing = stated_preset(onnx_model), onnx_model.preprocessing
    if stated is not None and preprocessing is not None and preprocessing["mask_on"] == "normalized":
        return load_image(args.image, stated[1])
    pixel_max = 1.0 if args.pixel_max is None else args.pixel_max
    return load_image_for_model(args.image, onnx_model, pixel_max, warn_resize=False) / pixel_max
