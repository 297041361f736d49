"""What every ``dianna-distance`` subcommand shares: explainer options, output paths, one-line messages."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from dianna_distance.distances import WEIGHTINGS
from dianna_distance.explainer import DistanceExplainer
from dianna_distance.files import check_output_prefix

# Explainer parameters offered as options, with their types (defaults come from DistanceExplainer itself).
EXPLAINER_OPTIONS = {
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
    "tolerance": float,
    "max_masks": int,
}

#: What a default of None means, for the help texts.
_NONE_MEANS = {
    "batch_size": "automatic",
    "random_state": "a fresh seed each run",
    "tolerance": "off: exactly --n-masks masks; recommended: e.g. 0.02, adding --n-masks masks at a time until the "
                 "map's mean standard error is at most this",
}


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


def add_explainer_options(parser: argparse.ArgumentParser, defaults: dict | None = None) -> None:
    """Add an option for every image explainer parameter (defaults from :class:`DistanceExplainer`)."""
    defaults = defaults or {}
    signature = inspect.signature(DistanceExplainer).parameters
    for name, kind in EXPLAINER_OPTIONS.items():
        default = defaults.get(name, signature[name].default)
        choices = WEIGHTINGS if name == "weighting" else None
        shown = _NONE_MEANS.get(name, default) if default is None else default
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default, choices=choices,
                            help=f"explainer parameter {name} (default: {shown})")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def explainer_parameters(args: argparse.Namespace) -> dict:
    """The explainer parameters given on the command line."""
    parameters = {name: getattr(args, name) for name in EXPLAINER_OPTIONS}
    parameters["progress"] = not args.no_progress
    return parameters



def onnxruntime_errors() -> tuple[type[BaseException], ...]:
    """ONNX Runtime's exception types for a model that fails to load or run (they derive from Exception only)."""
    try:
        from onnxruntime.capi import onnxruntime_pybind11_state as state
    except ImportError:
        return ()
    names = ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile", "NoModel",
             "RuntimeException", "NotImplemented", "EPFail")
    return tuple(getattr(state, name) for name in names if hasattr(state, name))


def one_line(error: BaseException) -> str:
    """An error's message on one line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines) if lines else type(error).__name__


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Print warnings as ``dianna-distance: warning: ...`` lines, without source lines, while running."""
    with warnings.catch_warnings():
        def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
            print(f"dianna-distance: warning: {one_line(message)}", file=sys.stderr)

        warnings.showwarning = show
        yield
