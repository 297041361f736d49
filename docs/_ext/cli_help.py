"""The ``cli-help`` directive: the ``--help`` text of ``dianna-distance`` or one of its commands, as printed.

Usage in a MyST page::

    ```{cli-help} explain
    ```

The text comes from the parser itself, so the reference can never drift from the command line.
"""

from __future__ import annotations

import argparse
import os

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


def command_help(command: str | None) -> str:
    """The help text of ``dianna-distance [command]`` at a fixed width of 88 columns (the width of the page)."""
    from dianna_distance.cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"
    try:
        parser = build_parser()
        if command:
            commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
            if command not in commands.choices:
                raise ValueError(f"cli-help: unknown command {command!r}; the commands are {sorted(commands.choices)}")
            parser = commands.choices[command]
        return parser.format_help()
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous


class CliHelp(SphinxDirective):
    """Insert the help text of a ``dianna-distance`` command as a literal block."""

    optional_arguments = 1

    def run(self) -> list[nodes.Node]:
        """Build the literal block."""
        command = self.arguments[0] if self.arguments else None
        try:
            text = command_help(command)
        except ValueError as error:
            return [self.state.document.reporter.warning(str(error), line=self.lineno)]
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def setup(app):
    """Register the directive."""
    app.add_directive("cli-help", CliHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
