"""The command-line reference, ``docs/cli.md``: the ``--help`` text of ``dianna-distance`` and of each command.

The page is committed rendered (plain ``text`` blocks), so that it reads on GitHub as on the site; it is written
from the parser itself by ``python docs/_ext/cli_help.py``, and ``tests/test_docs_checks.py`` checks that the
committed page is what the parser prints, so the reference cannot drift from the command line.

The ``cli-help`` directive (``{cli-help} explain`` in a MyST page) inserts one command's help at build time.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

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


PAGE = Path(__file__).resolve().parents[1] / "cli.md"
INTRODUCTION = """# Command-line reference

Every command of `dianna-distance`, with its help text as the command prints it (`dianna-distance COMMAND --help`).
This page is written from the command line's parser by `python docs/_ext/cli_help.py` (a test checks that it is up
to date).
"""


def commands() -> list[str]:
    """The commands of ``dianna-distance``, in the parser's order."""
    from dianna_distance.cli import build_parser

    parser = build_parser()
    return list(next(action for action in parser._actions
                     if isinstance(action, argparse._SubParsersAction)).choices)


def render_page() -> str:
    """The text of ``docs/cli.md``: the introduction, the program's help, then a section per command."""
    parts = [INTRODUCTION, f"```text\n{command_help(None)}```\n"]
    for command in commands():
        parts.append(f"## `{command}`\n\n```text\n{command_help(command)}```\n")
    return "\n".join(parts)


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


if __name__ == "__main__":
    sys.path.insert(0, str(PAGE.parents[1]))
    PAGE.write_text(render_page(), encoding="utf-8")
    print(f"wrote {PAGE}")
