"""The command line's options: the same defaults on every command (seed 0, 'random' draws one and prints it), every
explainer option where it applies with help texts that say what it means, parameters checked before any model, and
one explanation's masks spread over a Dask cluster with ``--scheduler``."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import numpy as np
import pytest
from conftest import save_linear_onnx
from PIL import Image

from dianna_distance import __version__
from dianna_distance.cli import build_parser, main
from dianna_distance.models import PRESETS, REGISTRY, RemoteFile, set_cache_dir

QUIET = ["--n-masks", "16", "--feature-res", "3", "--no-progress"]

#: The commands that explain, with the arguments they need besides options (files need not exist to parse).
EXPLAIN_COMMANDS = {
    "explain": ["model.onnx", "image.png"],
    "explain-text": ["model.onnx", "a text"],
    "explain-timeseries": ["model.onnx", "series.csv"],
    "explain-tabular": ["model.onnx", "rows.csv", "--row", "0"],
    "explain-many": ["jobs.csv", "--model", "model.onnx", "--output", "out"],
    "demo": [],
}
IMAGE_COMMANDS = ("explain", "explain-many", "demo")


@pytest.fixture(autouse=True)
def reset_cache_dir():
    yield
    set_cache_dir(None)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A model (N, 3, 6, 8) -> (N, 4), an image, a reference embedding; returns their paths."""
    model = save_linear_onnx(tmp_path / "model.onnx", (3, 6, 8), embedding_length=4)[0]
    image = tmp_path / "image.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)).save(image)
    np.save(tmp_path / "reference.npy", np.arange(1.0, 5.0))
    return model, image, tmp_path / "reference.npy"


def explain(files: tuple[Path, Path, Path], output: Path, *extra: str) -> list[str]:
    model, image, reference = files
    return ["explain", str(model), str(image), "--reference", str(reference), "--output", str(output), *QUIET,
            *extra]


def parse(command: str, *extra: str):
    return build_parser().parse_args([command, *EXPLAIN_COMMANDS[command], *extra])


def one_error_line(capsys, argv: list[str]) -> str:
    """Run main(argv); assert exit code 2, exactly one line on stderr and no traceback; return that line."""
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def help_text(command: str) -> str:
    parser = build_parser()
    subparsers = next(action for action in parser._actions if hasattr(action, "choices") and action.choices
                      and command in action.choices)
    return subparsers.choices[command].format_help()


# -- the seed -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(EXPLAIN_COMMANDS))
def test_every_command_defaults_to_seed_0(command):
    assert parse(command).random_state == 0


def test_two_runs_without_a_seed_write_the_same_map(files, tmp_path):
    assert main(explain(files, tmp_path / "first")) == 0
    assert main(explain(files, tmp_path / "second")) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "first.npy"), np.load(tmp_path / "second.npy"))


def test_a_run_prints_the_seed_it_used(files, tmp_path, capsys):
    assert main(explain(files, tmp_path / "out", "--random-state", "7")) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "random_state=7"
    assert main(explain(files, tmp_path / "out")) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "random_state=0"


def test_random_state_random_draws_a_seed_and_prints_how_to_repeat_the_run(files, tmp_path, capsys):
    assert main(explain(files, tmp_path / "drawn", "--random-state", "random")) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    match = re.fullmatch(r"random_state=(\d+) \(drawn; pass --random-state (\d+) to repeat\)", line)
    assert match is not None and match.group(1) == match.group(2), line
    assert main(explain(files, tmp_path / "repeated", "--random-state", match.group(1))) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "drawn.npy"), np.load(tmp_path / "repeated.npy"))


def test_explain_many_prints_the_seed_in_its_summary(files, tmp_path, capsys):
    model, image, reference = files
    (tmp_path / "jobs.csv").write_text(f"id,item,reference\na,{image.name},{reference.name}\n")
    assert main(["explain-many", str(tmp_path / "jobs.csv"), "--model", str(model), "--output",
                 str(tmp_path / "maps"), *QUIET]) == 0
    assert capsys.readouterr().out.strip().endswith("; random_state=0")


@pytest.mark.parametrize("value", ["soon", "-1", "1.5"])
def test_a_seed_that_is_neither_an_integer_nor_random_is_refused_in_one_line(files, tmp_path, capsys, value):
    line = one_error_line(capsys, explain(files, tmp_path / "out", "--random-state", value))
    assert "--random-state" in line and "'random'" in line
    assert not list(tmp_path.glob("out*"))


# -- options where they apply, and their help -----------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(EXPLAIN_COMMANDS))
@pytest.mark.parametrize("option", ["--tolerance", "--max-masks", "--providers", "--random-state"])
def test_every_explain_command_offers_the_run_options(command, option):
    assert option in help_text(command)


@pytest.mark.parametrize("command", sorted(EXPLAIN_COMMANDS))
def test_the_mask_generator_is_offered_by_the_image_commands_only(command):
    assert ("--mask-generator" in help_text(command)) == (command in IMAGE_COMMANDS)


@pytest.mark.parametrize("command", sorted(EXPLAIN_COMMANDS))
def test_help_texts_say_what_options_mean_and_show_defaults_as_they_behave(command):
    text = " ".join(help_text(command).split())
    assert "None" not in text
    assert "explainer parameter" not in text
    assert "random masks" in text and "'random' to draw a fresh seed" in text
    assert "(default: automatic: CUDA if available, else CPU)" in text


@pytest.mark.parametrize("command", ["explain", "explain-many"])
def test_every_command_with_presets_offers_every_preset(command):
    for preset in PRESETS:
        assert parse(command, "--preset", preset).preset == preset


@pytest.mark.parametrize("command", sorted(set(EXPLAIN_COMMANDS) - {"demo"}))
def test_every_explain_command_takes_the_mask_pairing_by_name(command):
    assert parse(command, "--mask-pairs", "none").mask_pairs is None
    assert parse(command, "--mask-pairs", "flip").mask_pairs == "flip"
    assert parse(command).mask_pairs == "auto"


def test_an_unknown_mask_pairing_is_refused_in_one_line_naming_the_choices(files, tmp_path, capsys):
    line = one_error_line(capsys, explain(files, tmp_path / "out", "--mask-pairs", "pairs"))
    assert "--mask-pairs" in line and "auto, none, flip or complement" in line


def test_explain_tabular_with_mask_pairs_none_writes_the_map_of_independent_masks(tmp_path):
    from dianna_distance import TabularDistanceExplainer
    from dianna_distance.model import load_model

    model = save_linear_onnx(tmp_path / "row_model.onnx", (5,))[0]
    rows = np.random.default_rng(3).normal(size=(12, 5)).round(3)
    (tmp_path / "rows.csv").write_text("a,b,c,d,e\n" + "\n".join(",".join(map(str, row)) for row in rows) + "\n")
    common = ["explain-tabular", str(model), str(tmp_path / "rows.csv"), "--row", "0", "--reference-row", "3",
              "--training-data", str(tmp_path / "rows.csv"), "--n-masks", "40", "--no-progress"]
    assert main([*common, "--output", str(tmp_path / "paired")]) == 0
    assert main([*common, "--output", str(tmp_path / "independent"), "--mask-pairs", "none"]) == 0
    embed = load_model(str(model))
    reference = np.asarray(embed(rows[3:4].astype(np.float32)), np.float64)[0]
    expected = TabularDistanceExplainer(training_data=rows, n_masks=40, mask_pairs=None, random_state=0,
                                        progress=False).attribute(embed, rows[0], reference)
    np.testing.assert_allclose(np.load(tmp_path / "independent.npy"), expected, atol=1e-9)
    assert not np.allclose(np.load(tmp_path / "paired.npy"), expected)


def test_the_dianna_mask_generator_gives_the_map_of_the_vectorized_one(files, tmp_path):
    assert main(explain(files, tmp_path / "vectorized")) == 0
    assert main(explain(files, tmp_path / "dianna", "--mask-generator", "dianna")) == 0
    np.testing.assert_allclose(np.load(tmp_path / "dianna.npy"), np.load(tmp_path / "vectorized.npy"), atol=1e-12)


def test_providers_given_comma_separated_or_repeated_run_the_model(files, tmp_path):
    assert main(explain(files, tmp_path / "plain")) == 0
    assert main(explain(files, tmp_path / "cpu", "--providers", "CPUExecutionProvider")) == 0
    assert main(explain(files, tmp_path / "twice", "--providers", "CPUExecutionProvider,CPUExecutionProvider",
                        "--providers", "CPUExecutionProvider")) == 0
    for name in ("cpu", "twice"):
        np.testing.assert_allclose(np.load(tmp_path / f"{name}.npy"), np.load(tmp_path / "plain.npy"))


def test_an_unknown_provider_is_refused_in_one_line_listing_the_available_ones(files, tmp_path, capsys):
    import onnxruntime

    line = one_error_line(capsys, explain(files, tmp_path / "out", "--providers", "NoSuchExecutionProvider"))
    assert "NoSuchExecutionProvider" in line
    for name in onnxruntime.get_available_providers():
        assert name in line
    assert not list(tmp_path.glob("out*"))


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"dianna-distance {__version__}"


# -- parameters before models -------------------------------------------------------------------------------------


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/vision_model.onnx"


@pytest.mark.parametrize(("option", "value", "named"), [("--p-keep", "2", "--p-keep"), ("--n-masks", "0", "--n-masks")])
def test_a_bad_parameter_fails_before_the_preset_model_is_downloaded(files, tmp_path, monkeypatch, capsys, option,
                                                                     value, named):
    _, image, _ = files
    monkeypatch.setitem(REGISTRY, "resnet50", RemoteFile(closed_port_url(), "resnet50.onnx", None, "test"))
    set_cache_dir(tmp_path / "cache")
    line = one_error_line(capsys, ["explain", "resnet50", str(image), "--preset", "resnet50", "--reference",
                                   str(image), "--output", str(tmp_path / "out"), "--no-progress", option, value])
    assert named in line and "download" not in line
    assert not (tmp_path / "cache").exists() and not list(tmp_path.glob("out*"))


@pytest.mark.parametrize("command", sorted(EXPLAIN_COMMANDS))
def test_a_bad_parameter_fails_before_any_file_is_read(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # none of the command's files exists here
    line = one_error_line(capsys, [command, *EXPLAIN_COMMANDS[command], "--n-masks", "0", "--no-progress"])
    assert "--n-masks" in line and "does not exist" not in line
    assert not list(tmp_path.iterdir())


# -- one explanation on a Dask cluster ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scheduler():
    """The address of a LocalCluster with two single-threaded workers in this process."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                                  dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def test_explain_with_a_scheduler_writes_the_map_of_a_local_run(files, tmp_path, scheduler, capsys):
    assert main(explain(files, tmp_path / "local", "--random-state", "5", "--batch-size", "4")) == 0
    assert main(explain(files, tmp_path / "split", "--random-state", "5", "--batch-size", "4", "--scheduler",
                        scheduler)) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "random_state=5"
    np.testing.assert_array_equal(np.load(tmp_path / "split.npy"), np.load(tmp_path / "local.npy"))
    assert (tmp_path / "split.png").stat().st_size > 0


def test_explain_with_a_scheduler_refuses_a_tolerance_before_connecting(files, tmp_path, capsys):
    line = one_error_line(capsys, explain(files, tmp_path / "out", "--tolerance", "0.1", "--scheduler",
                                          "tcp://127.0.0.1:9"))
    assert "--tolerance" in line and "--scheduler" in line
    assert not list(tmp_path.glob("out*"))


def test_explain_and_explain_many_describe_the_scheduler_alike():
    def scheduler_help(command: str) -> str:
        text = " ".join(help_text(command).split())
        return text[text.index("--scheduler ADDRESS Dask") :]

    assert scheduler_help("explain").startswith(scheduler_help("explain-many")[:120])


def test_explain_timeseries_with_a_scheduler_writes_the_map_of_a_local_run(tmp_path, scheduler):
    model = save_linear_onnx(tmp_path / "series_model.onnx", (20, 2))[0]
    rng = np.random.default_rng(2)
    np.save(tmp_path / "series.npy", rng.normal(size=(20, 2)))
    (tmp_path / "other.csv").write_text("a,b\n" + "\n".join(f"{x},{y}" for x, y in rng.normal(size=(20, 2))) + "\n")
    common = ["explain-timeseries", str(model), str(tmp_path / "series.npy"), "--reference-series",
              str(tmp_path / "other.csv"), "--mask-kinds", "time", "--n-masks", "24", "--batch-size", "8",
              "--no-progress"]
    assert main([*common, "--output", str(tmp_path / "local")]) == 0
    assert main([*common, "--output", str(tmp_path / "split"), "--scheduler", scheduler]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "split.npy"), np.load(tmp_path / "local.npy"))
    assert sorted(path.name for path in tmp_path.glob("split*")) == ["split.npy", "split.png"]


def test_explain_tabular_with_a_scheduler_writes_the_scores_of_a_local_run(tmp_path, scheduler):
    model = save_linear_onnx(tmp_path / "row_model.onnx", (5,))[0]
    rows = np.random.default_rng(3).normal(size=(12, 5)).round(3)
    (tmp_path / "rows.csv").write_text("a,b,c,d,e\n" + "\n".join(",".join(map(str, row)) for row in rows) + "\n")
    common = ["explain-tabular", str(model), str(tmp_path / "rows.csv"), "--row", "0", "--reference-row", "3",
              "--reference-row", "4", "--training-data", str(tmp_path / "rows.csv"), "--categorical-features", "1",
              "--n-masks", "24", "--batch-size", "8", "--no-progress"]
    assert main([*common, "--output", str(tmp_path / "local")]) == 0
    assert main([*common, "--output", str(tmp_path / "split"), "--scheduler", scheduler]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "split.npy"), np.load(tmp_path / "local.npy"))
    assert sorted(path.name for path in tmp_path.glob("split*")) == ["split.json", "split.npy", "split.png"]


@pytest.mark.parametrize("command", ["explain-timeseries", "explain-tabular"])
def test_the_other_single_explanation_commands_refuse_a_tolerance_with_a_scheduler(command, tmp_path, monkeypatch,
                                                                                  capsys):
    monkeypatch.chdir(tmp_path)  # none of the command's files exists here
    line = one_error_line(capsys, [command, *EXPLAIN_COMMANDS[command], "--reference", "ref.npy", "--tolerance",
                                   "0.1", "--scheduler", "tcp://127.0.0.1:9", "--no-progress"])
    assert "--tolerance" in line and "--scheduler" in line
    assert not list(tmp_path.iterdir())
