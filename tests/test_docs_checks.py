"""The documentation build's own checks (docs/_ext): each turns a defect into a Sphinx warning, which -W makes fatal."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("sphinx")  # the docs extra; .ci/run installs it before the tests run

sys.path.insert(0, str(Path(__file__).parent.parent / "docs" / "_ext"))

import cli_help  # noqa: E402
import docstring_check  # noqa: E402

from dianna_distance.cli import build_parser  # noqa: E402


@pytest.fixture
def warnings_logged(caplog):
    caplog.set_level(logging.WARNING, logger="sphinx.docstring_check")
    return caplog


def test_a_public_function_without_a_docstring_is_a_warning(warnings_logged):
    docstring_check.warn_on_missing_docstring(None, "function", "dianna_distance.core.new_function", None, {}, [])
    assert "public function dianna_distance.core.new_function has no docstring" in warnings_logged.text


def test_private_names_and_documented_names_are_not_warned_about(warnings_logged):
    docstring_check.warn_on_missing_docstring(None, "function", "dianna_distance.core._helper", None, {}, [])
    docstring_check.warn_on_missing_docstring(None, "class", "dianna_distance.core.Documented", None, {},
                                              ["What it is."])
    assert warnings_logged.text == ""


def test_a_tutorial_with_a_stored_error_output_is_a_warning(tmp_path, warnings_logged):
    (tmp_path / "tutorials").mkdir()
    cell = {"cell_type": "code", "source": "1/0", "metadata": {}, "execution_count": 1,
            "outputs": [{"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero",
                         "traceback": []}]}
    (tmp_path / "tutorials" / "broken.ipynb").write_text(json.dumps({"cells": [cell]}))
    docstring_check.warn_on_failed_tutorials(SimpleNamespace(srcdir=str(tmp_path)))
    assert "broken.ipynb: cell 1 stored an error: ZeroDivisionError: division by zero" in warnings_logged.text


def test_the_committed_tutorials_have_no_stored_error(warnings_logged):
    docstring_check.warn_on_failed_tutorials(SimpleNamespace(srcdir=str(Path(__file__).parent.parent / "docs")))
    assert warnings_logged.text == ""


def test_a_reexported_name_resolves_to_where_it_is_defined():
    assert docstring_check.where_defined("dianna_distance.DistanceExplainer") == \
        "dianna_distance.image.DistanceExplainer"
    assert docstring_check.where_defined("dianna_distance.no_such_name") is None


def test_the_cli_reference_shows_each_commands_own_help():
    help_text = cli_help.command_help("explain-many")
    assert help_text.startswith("usage: dianna-distance explain-many")
    commands = build_parser()._subparsers._group_actions[0].choices
    assert all(cli_help.command_help(command).startswith(f"usage: dianna-distance {command}")
               for command in commands)


def test_an_unknown_command_in_the_cli_reference_is_an_error_naming_the_commands():
    with pytest.raises(ValueError, match="unknown command 'explane'; the commands are"):
        cli_help.command_help("explane")


def test_the_committed_cli_reference_is_what_the_parser_prints():
    # docs/cli.md is committed rendered, so that GitHub shows it; rewrite it with: python docs/_ext/cli_help.py
    assert cli_help.PAGE.read_text(encoding="utf-8") == cli_help.render_page()
