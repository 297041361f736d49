"""Command-line messages name the command's options, not the Python parameters behind them; records say what was
done."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from conftest import HEIGHT, WIDTH, save_linear_onnx
from PIL import Image
from test_tabular import wine, write_csv

from dianna_distance.cli import build_parser, main
from dianna_distance.cli.common import option_names, speak_options
from dianna_distance.data import WINE_MODEL

ROOT = Path(__file__).resolve().parents[1]


def test_a_tabular_run_without_background_rows_warns_in_option_names_and_records_the_zero_fill(tmp_path, capsys):
    names, rows, _ = wine()
    table = write_csv(tmp_path / "wine.csv", names, rows[:20])
    assert main(["explain-tabular", str(WINE_MODEL), str(table), "--row", "0", "--reference-row", "13",
                 "--n-masks", "40", "--no-progress", "--output", str(tmp_path / "out")]) == 0
    warning = capsys.readouterr().err
    assert "no --training-data: masked features are set to 0" in warning and "training_data" not in warning
    assert "--mask-type" in warning and "mask_type" not in warning
    assert json.loads((tmp_path / "out.json").read_text())["mask_type"] == 0.0  # what was done, not "sample"


def test_a_tabular_run_with_background_rows_records_the_mask_type_asked_for(tmp_path):
    names, rows, _ = wine()
    table = write_csv(tmp_path / "wine.csv", names, rows[:20])
    assert main(["explain-tabular", str(WINE_MODEL), str(table), "--row", "0", "--reference-row", "13",
                 "--training-data", str(table), "--mask-type", "sample", "--n-masks", "40", "--no-progress",
                 "--output", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out.json").read_text())["mask_type"] == "sample"


def test_a_reference_of_the_wrong_length_is_named_as_the_reference_option(tmp_path, capsys):
    save_linear_onnx(tmp_path / "model.onnx", (HEIGHT, WIDTH, 3), embedding_length=6)
    Image.fromarray(np.zeros((HEIGHT, WIDTH, 3), np.uint8)).save(tmp_path / "image.png")
    np.save(tmp_path / "reference.npy", np.ones(4))
    assert main(["explain", str(tmp_path / "model.onnx"), str(tmp_path / "image.png"), "--reference",
                 str(tmp_path / "reference.npy"), "--n-masks", "10", "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "--reference has length 4" in error and "embedded_reference" not in error


def test_an_explain_many_output_that_is_a_file_is_named_as_the_output_option(tmp_path, capsys):
    save_linear_onnx(tmp_path / "model.onnx", (HEIGHT, WIDTH, 3), embedding_length=6)
    (tmp_path / "jobs.csv").write_text("id,item,reference\na,image.png,image.png\n")
    (tmp_path / "maps").write_text("a file")
    assert main(["explain-many", str(tmp_path / "jobs.csv"), "--model", str(tmp_path / "model.onnx"), "--output",
                 str(tmp_path / "maps"), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "--output" in error and "is a file, not a folder" in error and "output_dir" not in error


def test_messages_keep_paths_quoted_values_and_longer_names_as_they_are():
    options = option_names(build_parser()._subparsers._group_actions[0].choices["explain-tabular"])
    assert options["training_data"] == "--training-data" and options["embedded_reference"] == "--reference"
    assert speak_options("training_data 'training_data.csv' in /data/training_data/x", options) == (
        "--training-data 'training_data.csv' in /data/training_data/x")
    assert speak_options("n_masks_used 3", options) == "n_masks_used 3"


def _commands():
    return build_parser()._subparsers._group_actions[0].choices


def test_every_command_with_an_output_option_takes_o_for_it():
    outputs = {name: action.option_strings for name, command in _commands().items() for action in command._actions
               if {"--output", "--output-dir"} & set(action.option_strings)}
    assert len(outputs) >= 7
    assert all("-o" in options for options in outputs.values()), outputs


def test_every_positional_argument_has_help():
    positionals = [(name, action.dest) for name, command in _commands().items() for action in command._actions
                   if not action.option_strings and not action.help]
    assert positionals == []


def test_explain_with_a_preset_needs_no_model_argument(effnet_file, tmp_path):
    bee = ROOT / "data" / "images" / "bee.jpg"
    assert main(["explain", "--preset", "efficientnet-lite0", str(bee), "--reference", str(bee), "--n-masks", "20",
                 "--no-progress", "--output", str(tmp_path / "bee")]) == 0
    assert np.load(tmp_path / "bee.npy").shape == (224, 224)


def test_explain_without_a_model_or_a_preset_says_what_to_give(capsys):
    assert main(["explain", "bee.jpg", "--reference", "fly.jpg"]) == 2
    assert "give the MODEL (an ONNX file), or --preset" in capsys.readouterr().err
