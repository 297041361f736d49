"""``--scheduler`` for the single-explanation commands: one explanation's masks spread over a Dask cluster.

:func:`~dianna_distance.batch.explain_split` embeds ranges of the masks on the cluster's workers and makes the map
on this machine; the map is the one a local run with the same parameters and seed makes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dianna_distance.cli.common import output_paths

#: The help of ``--scheduler``, the same on ``explain-many`` and the single-explanation commands.
SCHEDULER_HELP = ("Dask scheduler address (e.g. tcp://host:8786): run on that cluster's workers (needs "
                  "dianna-distance[dask]; the files must be readable from the workers)")


def add_scheduler_option(parser: argparse.ArgumentParser, split: bool = True) -> None:
    """Add ``--scheduler``; ``split``: the masks of the one explanation are spread over the workers."""
    detail = ("; the masks of this one explanation are spread over the workers and the map is the one a local run "
              "with the same --random-state makes (its standard error is not computed: no _se.npy, no hatching); "
              "not with --tolerance") if split else ""
    parser.add_argument("--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP + detail)


#: Why a split run refuses ``--tolerance``.
TOLERANCE_REFUSED = "--tolerance cannot be combined with --scheduler: a split run embeds a fixed --n-masks"


def check_split(scheduler: str | None, parameters: dict) -> None:
    """Refuse what a run spread over a cluster cannot do, before any file is read or model loaded.

    Raises:
        ValueError: ``--tolerance`` with ``--scheduler``.
    """
    if scheduler is not None and parameters.get("tolerance") is not None:
        raise ValueError(TOLERANCE_REFUSED)


def split_map(kind: str, item: np.ndarray, reference: np.ndarray, model: str | Path, scheduler: str,
              parameters: dict) -> np.ndarray:
    """The map of one explanation of an array item against reference embedding(s), its masks embedded on a cluster.

    Args:
        kind: The job kind (``"timeseries"``, ``"tabular"``).
        item: The item as the explainer takes it (a series ``(T, C)``, a row ``(F,)``): it travels to the workers.
        reference: The reference embedding(s) ``(D,)`` or ``(K, D)``.
        model: The ONNX file (readable from the workers).
        scheduler: The Dask scheduler's address.
        parameters: The explainer parameters, with ``providers`` and ``progress``; values must be numbers,
            strings or None (a batch run's parameters).
    """
    from dianna_distance.batch import Job, explain_split

    check_split(scheduler, parameters)
    parameters = dict(parameters)
    providers = parameters.pop("providers", None)
    job = Job("item", item, reference=reference, kind=kind)
    return explain_split(job, str(Path(model).resolve()), scheduler, providers=providers, **parameters)


def explain_image_on_cluster(args: argparse.Namespace, parameters: dict) -> tuple[Path, ...]:
    """Run ``explain --scheduler``: the map of :func:`~dianna_distance.batch.explain_split`, with its figure.

    Args:
        args: Parsed ``explain`` arguments, checked by ``check_explain_options``.
        parameters: The checked explainer parameters (with the resolved seed).

    Returns:
        The paths written: the map (``.npy``) and its figure (``.png``).
    """
    from dianna_distance.batch import Job, explain_split
    from dianna_distance.cli.image import preset_model, reference_titles, write_map
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
    """The image as the map lies over it, in [0, 1]."""
    if args.preset:
        from dianna_distance.models import load_image_encoder

        return load_image_encoder(args.preset, model, mask_on=args.mask_on, providers=providers).load_image(args.image)
    from dianna_distance.model import OnnxModel
    from dianna_distance.models.image import load_image, load_image_for_model, stated_preset

    onnx_model = OnnxModel(model, providers=providers)
    stated, preprocessing = stated_preset(onnx_model), onnx_model.preprocessing
    if stated is not None and preprocessing is not None and preprocessing["mask_on"] == "normalized":
        return load_image(args.image, stated[1])
    pixel_max = 1.0 if args.pixel_max is None else args.pixel_max
    return load_image_for_model(args.image, onnx_model, pixel_max, warn_resize=False) / pixel_max
