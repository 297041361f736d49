"""What every ``dianna-distance`` subcommand shares: explainer options, output paths, one-line messages."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from dianna_distance.distances import DISTANCES, WEIGHTINGS, DistanceLike
from dianna_distance.files import check_output_prefix
from dianna_distance.image import DistanceExplainer
from dianna_distance.masks import GENERATORS, check_mask_pairs
from dianna_distance.models import PRESETS

#: The ``--random-state`` value that draws a fresh seed.
RANDOM = "random"


def random_state_option(value: str) -> int | str:
    """``--random-state``: a non-negative integer seed, or ``'random'`` (a fresh seed is drawn when the run starts)."""
    if value.strip().lower() == RANDOM:
        return RANDOM
    try:
        seed = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer seed or {RANDOM!r}, got {value!r}") from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer seed or {RANDOM!r}, got {value!r}")
    return seed


def mask_pairs_option(value: str) -> str | None:
    """``--mask-pairs``: ``auto``, ``none`` (independent masks: None), ``flip`` or ``complement``."""
    try:
        return check_mask_pairs(None if value == "none" else value, allow_auto=True)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be auto, none, flip or complement, got {value!r}") from None


def providers_option(value: str) -> list[str]:
    """``--providers``: one or more comma-separated ONNX Runtime execution provider names."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"must name an ONNX Runtime execution provider, got {value!r}")
    return names


#: Explainer parameters offered as options, name -> (type, what it means, with its allowed values). The help of
#: every explain command is built from this one table by :func:`add_explainer_options`; a command offers the
#: parameters its explainer class takes.
EXPLAINER_OPTIONS: dict[str, tuple[Callable[[str], object], str]] = {
    "n_masks": (int, "number of random masks, i.e. masked inputs the model embeds (at least 1; with --tolerance: "
                     "masks added per round)"),
    "feature_res": (int, "cells per axis of the low-resolution mask grid, at most the image's longer side"),
    "p_keep": (float, "probability that a cell of the mask grid is kept, in (0, 1]"),
    "mask_selection_range_min": (float, "start of the lowest-distance masks averaged as positive evidence, as a "
                                        "fraction 0-1 of the masks ranked by distance (closest first)"),
    "mask_selection_range_max": (float, "end of the lowest-distance masks averaged as positive evidence, as a "
                                        "fraction 0-1 of the ranking"),
    "mask_selection_negative_range_min": (float, "start of the highest-distance masks averaged as negative "
                                                 "evidence, as a fraction 0-1 of the ranking (min == max switches "
                                                 "this side off)"),
    "mask_selection_negative_range_max": (float, "end of the highest-distance masks averaged as negative evidence, "
                                                 "as a fraction 0-1 of the ranking"),
    "weighting": (str, "how the masks enter the map: ranges (the paper's two selection ranges), linear (every "
                       "mask by its rank), normal (normal scores of the ranks) or regression (least squares of the "
                       "distances on every mask: how much the distance falls when a feature is kept)"),
    "batch_size": (int, "masked inputs per model call (at least 1)"),
    "distance": (str, "distance between embeddings: cosine ((1 - cos)/2, in [0, 1]) or euclidean"),
    "random_state": (random_state_option, "seed of the random masks: an integer (same seed, same map), or "
                                          "'random' to draw a fresh seed, which is printed so the run can be "
                                          "repeated"),
    "tolerance": (float, "stop adding --n-masks masks at a time once the map's mean standard error is at most this "
                         "(a positive number, e.g. 0.02)"),
    "max_masks": (int, "with --tolerance: the most masks a run may use (at least --n-masks)"),
    "mask_pairs": (mask_pairs_option, "masks drawn in pairs, the regression fitting each pair's difference: auto "
                                      "(the modality's choice: flip for tables and segments series, none for images "
                                      "and texts), none (independent masks), flip (the second mask flips one cell of "
                                      "the first: a feature the model ignores scores exactly 0) or complement (the "
                                      "second is the first's complement)"),
    "mask_generator": (str, "how image masks are upsampled: vectorized (fast) or dianna (DIANNA's own routine, mask "
                            "by mask: the same masks, slower)"),
}

#: The allowed values of the options that have a fixed set.
OPTION_CHOICES: dict[str, tuple[str, ...]] = {"weighting": WEIGHTINGS, "distance": tuple(sorted(DISTANCES)),
                                              "mask_generator": GENERATORS}

#: How a default is shown in the help when the explainer's default (None) means something else.
DEFAULTS_SHOWN = {
    "batch_size": "automatic: about 4 M input values per call, at most 256",
    "tolerance": "off: exactly --n-masks masks",
}

#: The command line's default seed. Every command is reproducible by default (the Python API's default, None,
#: draws a fresh seed each run, as scikit-learn does).
DEFAULT_RANDOM_STATE = 0

#: The help text of ``--providers``.
PROVIDERS_HELP = ("ONNX Runtime execution providers, in order of preference: repeatable or comma-separated, e.g. "
                  "CPUExecutionProvider (default: automatic: CUDA if available, else CPU)")

#: The presets every command that takes ``--preset`` offers, in one place.
PRESET_CHOICES = tuple(sorted(PRESETS))


#: Appended to a run's output prefix for the map's per-feature standard error (``result_se.npy``).
STANDARD_ERROR_SUFFIX = "_se.npy"

#: Suffixes of the files a run writes; an ``--output`` ending in one of them has it dropped.
OUTPUT_SUFFIXES = (".npy", ".png")


def output_prefix(output: str | Path | None, default_stem: str, suffixes: tuple[str, ...]) -> Path:
    """The path prefix of a run's output files, read from ``--output`` as ``explain`` reads it.

    - None: ``default_stem`` in the current directory.
    - An existing directory, or a path ending in a path separator: ``<directory>/<default_stem>``.
    - A path ending in one of ``suffixes`` (any case): that suffix is dropped, so ``result.npy`` is not doubled.
    - Any other path: the prefix itself (``run.v2`` writes ``run.v2.npy``).

    Raises:
        FileNotFoundError: A directory (a path ending in a separator) does not exist.
    """
    if output is None:
        return Path(default_stem)
    if Path(output).is_dir() or str(output).endswith(("/", os.sep)):
        folder = Path(output)
        if not folder.is_dir():
            raise FileNotFoundError(f"output: directory {str(folder)!r} does not exist")
        return folder / default_stem
    prefix = Path(output)
    if prefix.suffix.lower() in suffixes:
        prefix = prefix.with_suffix("")
    return prefix


def output_paths(output: str | Path | None, image_path: str | Path) -> tuple[Path, Path]:
    """Where a run writes its map (``.npy``) and overlay (``.png``), checked before any work is done.

    ``output`` is read as follows:

    - None: ``<image stem>_distance`` in the current directory.
    - An existing directory, or a path ending in a path separator: ``<directory>/<image stem>_distance``.
    - A path ending in ``.npy`` or ``.png`` (any case): that suffix is dropped, so ``result.png`` writes
      ``result.npy`` and ``result.png``.
    - Any other path: a prefix to which ``.npy`` and ``.png`` are appended (``run.v2`` writes ``run.v2.npy``).

    The map's standard error goes beside the map, ``<prefix>_se.npy`` (:func:`standard_error_path`); that path is
    checked too.

    Args:
        output: The ``--output`` given, or None.
        image_path: The image explained (its stem names the default files).

    Returns:
        ``(npy_path, png_path)``.

    Raises:
        FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError: The directory does not exist,
            is a file or is not writable, or an output path is a directory.
    """
    prefix = output_prefix(output, Path(image_path).with_suffix("").name + "_distance", OUTPUT_SUFFIXES)
    npy_path, _, png_path = check_output_prefix(prefix, (".npy", STANDARD_ERROR_SUFFIX, ".png"))
    return npy_path, png_path


def standard_error_path(npy_path: str | Path) -> Path:
    """Where the standard error of the map in ``npy_path`` goes: ``result.npy`` -> ``result_se.npy``."""
    npy_path = Path(npy_path)
    stem = npy_path.name[: -len(".npy")] if npy_path.name.lower().endswith(".npy") else npy_path.name
    return npy_path.with_name(stem + STANDARD_ERROR_SUFFIX)



def dianna_file(*parts: str) -> Path:
    """A file inside the installed ``dianna`` package."""
    import dianna

    return Path(dianna.__file__).parent.joinpath(*parts)


def add_explainer_options(parser: argparse.ArgumentParser, explainer_class: type = DistanceExplainer,
                          defaults: dict | None = None, meanings: dict[str, str] | None = None,
                          choices: dict[str, tuple[str, ...]] | None = None) -> None:
    """Add an option for every parameter of :data:`EXPLAINER_OPTIONS` that ``explainer_class`` takes.

    Defaults come from the class's signature (``defaults`` overrides them), except ``--random-state``, whose
    default is :data:`DEFAULT_RANDOM_STATE` on every command. ``meanings`` replaces a help text where a modality
    reads a parameter its own way (a time series' ``feature_res``), ``choices`` the allowed values where a class
    allows others than :data:`OPTION_CHOICES` (a pair's weightings). Also adds ``--providers`` and ``--no-progress``.
    """
    defaults = defaults or {}
    meanings = meanings or {}
    allowed = {**OPTION_CHOICES, **(choices or {})}
    signature = inspect.signature(explainer_class).parameters
    for name, (kind, meaning) in EXPLAINER_OPTIONS.items():
        if name not in signature:
            continue
        default = DEFAULT_RANDOM_STATE if name == "random_state" else defaults.get(name, signature[name].default)
        shown = DEFAULTS_SHOWN.get(name, default) if default is None else default
        metavar = {"random_state": "{SEED,random}", "mask_pairs": "{auto,none,flip,complement}"}.get(name)
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default, choices=allowed.get(name),
                            metavar=metavar, help=f"{meanings.get(name, meaning)} (default: {shown})")
    if "providers" in signature:
        parser.add_argument("--providers", type=providers_option, action="append", metavar="PROVIDER",
                            help=PROVIDERS_HELP)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def explainer_parameters(args: argparse.Namespace, explainer_class: type = DistanceExplainer,
                         **fixed: object) -> dict:
    """The explainer parameters given on the command line, checked before any model is loaded or input read.

    The seed is resolved here (``--random-state random`` draws one, stored back in ``args.random_state`` with
    ``args.seed_drawn = True``), ``--providers`` is checked against ONNX Runtime's, and the explainer's own
    ``check_parameters`` judges the rest (with ``fixed``, parameters the command sets itself).

    Raises:
        ValueError, TypeError: A parameter is out of range or of the wrong type; the message names it.
    """
    signature = inspect.signature(explainer_class).parameters
    parameters = {name: getattr(args, name) for name in EXPLAINER_OPTIONS if name in signature}
    if parameters.get("random_state") == RANDOM:
        args.random_state = parameters["random_state"] = int(np.random.SeedSequence().generate_state(1)[0])
        args.seed_drawn = True
    if "providers" in signature:
        parameters["providers"] = check_providers(getattr(args, "providers", None))
    parameters["progress"] = not args.no_progress
    with warnings.catch_warnings():  # the run itself warns, once
        warnings.simplefilter("ignore")
        explainer_class(**parameters, **fixed).check_parameters()
    return parameters


def check_providers(given: Sequence[Sequence[str]] | None) -> list[str] | None:
    """The providers of ``--providers`` (given once or more, each comma-separated) as one list; None: automatic.

    Raises:
        ValueError: A name is not one of ONNX Runtime's available providers (the message lists them).
    """
    if not given:
        return None
    names = [name for group in given for name in group]
    import onnxruntime

    available = onnxruntime.get_available_providers()
    unknown = [name for name in names if name not in available]
    if unknown:
        raise ValueError(f"--providers: unknown execution provider{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(unknown)}; available: {', '.join(available)}")
    return names


def unmasked_distances(explainer: object, run_model: Callable, batch: object, references: np.ndarray) -> list[float]:
    """The distance of the unmasked item to each reference (one more model call), for the figure titles.

    Args:
        explainer: The run's explainer: its ``distance``, and its ``preprocess_function`` where it has one.
        run_model: The model as the explainer runs it.
        batch: A batch of one item, as the explainer takes it (before its ``preprocess_function``).
        references: The reference embedding(s), ``(D,)`` or ``(K, D)``.
    """
    from dianna_distance.distances import compute_distances

    preprocess = getattr(explainer, "preprocess_function", None)
    if preprocess is not None:
        batch = preprocess(batch)
    embedding = np.asarray(run_model(batch), dtype=np.float64)
    distance: DistanceLike = getattr(explainer, "distance", "cosine")
    return compute_distances(embedding, np.atleast_2d(np.asarray(references, dtype=np.float64)),
                             distance)[:, 0].tolist()


def seed_line(args: argparse.Namespace) -> str:
    """The line that says which seed a run used (and, for a drawn one, how to repeat the run)."""
    seed = args.random_state
    if getattr(args, "seed_drawn", False):
        return f"random_state={seed} (drawn; pass --random-state {seed} to repeat)"
    return f"random_state={seed}"


def onnxruntime_errors() -> tuple[type[BaseException], ...]:
    """ONNX Runtime's exception types for a model that fails to load or run (they derive from Exception only)."""
    try:
        from onnxruntime.capi import onnxruntime_pybind11_state as state
    except ImportError:
        return ()
    names = ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile", "NoModel",
             "RuntimeException", "NotImplemented", "EPFail")
    return tuple(getattr(state, name) for name in names if hasattr(state, name))


#: The options of the Python parameter names whose command-line option has another name (a message names the first
#: of them that the command has).
PARAMETER_OPTIONS = {
    "embedded_reference": ("--reference", "--reference-row", "--reference-text", "--reference-series",
                           "--caption"),
    "output_dir": ("--output", "--output-dir"),
    "output_filename": ("--output",),
    "output_prefix": ("--output",),
    "training_data": ("--training-data",),
}


def option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """The option each Python parameter name stands for on a (sub)command's command line.

    Every option's destination with an underscore (``n_masks`` -> ``--n-masks``), and the names of
    :data:`PARAMETER_OPTIONS` that the command has an option for. Names without an underscore (``model``, ``row``)
    are words as much as parameters, and are left as they are.
    """
    options: dict[str, str] = {}
    for action in parser._actions:
        long = [option for option in action.option_strings if option.startswith("--")]
        if long and "_" in action.dest:
            options[action.dest] = long[0]
    every_option = {option for action in parser._actions for option in action.option_strings}
    for name, candidates in PARAMETER_OPTIONS.items():
        present = [option for option in candidates if option in every_option]
        if present:
            options[name] = present[0]
    return options


def speak_options(message: str, options: Mapping[str, str]) -> str:
    """A library message in the command line's words: each Python parameter name replaced by its option.

    Only whole names are replaced, not parts of paths, quoted values or longer names (``'training_data.csv'``
    stays as it is).

    Args:
        message: The message.
        options: Parameter name -> option (see :func:`option_names`).
    """
    if not options:
        return message
    names = "|".join(re.escape(name) for name in sorted(options, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w'\"./\\-])({names})(?![\w'\"/\\-]|\.\w)")
    return pattern.sub(lambda match: options[match.group(1)], message)


def plural(count: int, noun: str) -> str:
    """``1 item``, ``2 items``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def one_line(error: BaseException) -> str:
    """An error's message on one line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines) if lines else type(error).__name__


@contextlib.contextmanager
def one_line_warnings(options: Mapping[str, str] | None = None) -> Iterator[None]:
    """Print warnings as ``dianna-distance: warning: ...`` lines, without source lines, while running.

    Args:
        options: Parameter name -> option, to name options instead of parameters (see :func:`speak_options`).
    """
    with warnings.catch_warnings():
        def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
            print(f"dianna-distance: warning: {speak_options(one_line(message), options or {})}", file=sys.stderr)

        warnings.showwarning = show
        yield
