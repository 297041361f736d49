"""The ``dianna-distance`` command line: ``explain``, ``explain-text``, ``explain-tabular``, ``explain-many``, ...

(also ``export`` and ``demo``).

Also ``explain-timeseries`` (:mod:`~dianna_distance.cli.timeseries`) and ``explain-pair``
(:mod:`~dianna_distance.cli.pair`).

One module per subcommand family (:mod:`~dianna_distance.cli.image`, :mod:`~dianna_distance.cli.text`,
:mod:`~dianna_distance.cli.many`, :mod:`~dianna_distance.cli.tabular`); :mod:`~dianna_distance.cli.common` holds
what they share. This module builds the parser and turns expected failures into one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from dianna_distance import __version__
from dianna_distance.cli.common import (
    OUTPUT_SUFFIXES,
    one_line,
    one_line_warnings,
    onnxruntime_errors,
    option_names,
    output_paths,
    seed_line,
    speak_options,
)
from dianna_distance.cli.dashboard import add_dashboard_command, run_dashboard
from dianna_distance.cli.image import (
    add_demo_command,
    add_explain_command,
    add_export_command,
    explain_files,
    run_demo,
    run_explain,
    run_export,
    write_map,
)
from dianna_distance.cli.layers import add_layers_command, run_layers
from dianna_distance.cli.many import add_explain_many_command, run_explain_many
from dianna_distance.cli.pair import add_explain_pair_command, run_explain_pair
from dianna_distance.cli.tabular import add_explain_tabular_command, run_explain_tabular
from dianna_distance.cli.text import add_explain_text_command, explain_text_files, load_text_model, run_explain_text
from dianna_distance.cli.timeseries import add_explain_timeseries_command, run_explain_timeseries
from dianna_distance.files import describe_os_error

__all__ = ["OUTPUT_SUFFIXES", "build_parser", "explain_files", "explain_text_files", "load_text_model", "main",
           "output_paths", "write_map"]


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit code 2), as every expected failure is."""

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: error: <message>`` and where the help is, on one line; exit with code 2."""
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dianna-distance`` (its subcommands' parsers are :class:`OneLineParser` too)."""
    parser = OneLineParser(prog="dianna-distance", description="Explain distances in embedded spaces "
                                     "with the Distance Explainer (a DIANNA plugin).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    add_explain_command(commands)
    add_export_command(commands)
    add_explain_text_command(commands)
    add_explain_tabular_command(commands)
    add_explain_many_command(commands)
    add_explain_timeseries_command(commands)
    add_explain_pair_command(commands)
    add_demo_command(commands)
    add_layers_command(commands)
    add_dashboard_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Expected failures (a missing, unreadable or corrupt file, a directory where a file belongs, an output
    location that does not exist or cannot be written, a bad parameter, an offline download) print one line on
    stderr naming the path or parameter and the cause, and return 2 (130 on Ctrl-C); nothing is written then.
    Messages (errors and warnings) name the command's options, not the Python parameters behind them
    (``--training-data``, not ``training_data``; see :func:`~dianna_distance.cli.common.speak_options`).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    options = option_names(_command_parser(parser, args.command))
    args.option_names = options
    expected: tuple[type[BaseException], ...] = (ValueError, TypeError, ImportError, MemoryError,
                                                  *onnxruntime_errors())
    if args.command == "dashboard":
        return run_dashboard(args)
    try:
        with one_line_warnings(options):
            if args.command == "explain-many":
                return run_explain_many(args)
            paths = _run(args)
    except KeyboardInterrupt:
        print("dianna-distance: interrupted; nothing was written", file=sys.stderr)
        return 130
    except OSError as error:  # FileNotFoundError, PermissionError, IsADirectoryError, ConnectionError, ...
        print(f"dianna-distance: error: {speak_options(describe_os_error(error), options)}", file=sys.stderr)
        return 2
    except expected as error:
        print(f"dianna-distance: error: {speak_options(one_line(error), options)}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {path}")
    if hasattr(args, "random_state"):  # the seed used, so that the run can be repeated
        print(seed_line(args))
    return 0


def _command_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The subcommand's own parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]
    return parser


def _run(args: argparse.Namespace) -> Sequence[Path]:
    if args.command == "export":
        return run_export(args)
    if args.command == "explain-text":
        return run_explain_text(args)
    if args.command == "explain-tabular":
        return run_explain_tabular(args)
    if args.command == "explain-timeseries":
        return run_explain_timeseries(args)
    if args.command == "explain-pair":
        return run_explain_pair(args)
    if args.command == "demo":
        return run_demo(args)
    if args.command == "layers":
        return run_layers(args)
    return run_explain(args)


if __name__ == "__main__":
    sys.exit(main())
