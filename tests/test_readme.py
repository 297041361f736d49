"""Every code block of README.md and of the user guide (docs/) runs as written, from a clone, with its own files.

Each document runs on its own, its blocks in order in a fresh namespace (a page's blocks import what they use):
``python`` blocks are executed; ``dianna-distance ...`` commands run through the command line's entry point
(:func:`dianna_distance.cli.main`, what the installed script calls); ``pip`` commands are checked against
``pyproject.toml`` (not run: they would install) and ``python -m pytest`` is checked to name this suite; a ``csv``
block must be the repository file it shows (``examples/jobs.csv``). They run in a temporary copy of the files the
examples name (``data/images/``, ``examples/``), with the repository's and the installed packages' real models:
EfficientNet-Lite0 (exported from the ``test`` extra's wheels, once per session), MiniLM, the wine and season
models, DIANNA's MNIST model.

Two things differ from a user's run, to keep the suite fast and offline: mask counts are lowered (:data:`MASKS`),
and the presets that are downloaded (ResNet50, CLIP) are stand-ins in the cache under the registry's file names,
with the registry's checksums replaced by the stand-ins' own.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
from pathlib import Path

import matplotlib
import pytest
from conftest_models import save_image_model, save_text_model, save_tokenizer

from dianna_distance.cli import build_parser, main
from dianna_distance.models import REGISTRY, RemoteFile, set_cache_dir

matplotlib.use("Agg")

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
GUIDE = ("install", "images", "parameters", "models", "texts", "tables", "timeseries", "pairs", "evaluation",
         "batch", "dashboard", "development")
DOCUMENTS = [ROOT / "README.md", *(ROOT / "docs" / f"{page}.md" for page in GUIDE)]
BLOCK = re.compile(r"```(python|bash|csv)\n(.*?)```", flags=re.DOTALL)
BLOCKS = [block for document in DOCUMENTS for block in BLOCK.findall(document.read_text())]
#: The one change made to the examples: fewer masks (the maps are not looked at here, only that the code runs).
MASKS = 40
#: Fewer masks for a regression on superpixels: more than its (about 64) cells, as the explainer requires.
REGRESSION_MASKS = 140
EXPLAIN_COMMANDS = ("explain", "explain-text", "explain-tabular", "explain-many", "explain-timeseries")
EMBEDDING = 5


def fewer_masks(code: str) -> str:
    """The code with :data:`MASKS` masks (``n_masks=``, ``--n-masks``) and a mask budget for ``tolerance``."""
    code = re.sub(r"n_masks=\d+(?=[^)]*weighting=\"regression\")", f"n_masks={REGRESSION_MASKS}", code)
    code = re.sub(rf"n_masks=(?!{REGRESSION_MASKS}\b)\d+", f"n_masks={MASKS}", code)
    code = re.sub(r"--n-masks \d+", f"--n-masks {MASKS}", code)
    return re.sub(r"tolerance=([\d.]+)", rf"tolerance=\1, max_masks={2 * MASKS}", code)


def test_the_guide_pages_are_the_sites_user_guide_in_its_order():
    index = (ROOT / "docs" / "index.md").read_text()
    toctree = index.split(":caption: User guide", 1)[1].split("```", 1)[0].split()
    assert [page for page in toctree if page != "cli"] == list(GUIDE[:-1])  # development is under Reference


def test_readme_has_python_and_bash_blocks():
    kinds = [kind for kind, _ in BLOCK.findall(README)]
    assert kinds.count("python") >= 2 and kinds.count("bash") >= 3


@pytest.fixture
def clone(tmp_path, monkeypatch, effnet_file):
    """A copy of the files the examples use, the cwd set to it; the cache: EfficientNet-Lite0 and stand-ins.

    The cache holds the session's EfficientNet-Lite0 export (linked, not exported again) and stand-ins for the
    registry files of ResNet50 and CLIP (their checksums in the registry replaced by the stand-ins').
    """
    shutil.copytree(ROOT / "data" / "images", tmp_path / "data" / "images")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / effnet_file.name).symlink_to(effnet_file)
    makers = {
        "resnet50": lambda path: save_image_model(path, head="logits", dim=10),
        "clip-image": lambda path: save_image_model(path, head="embeds", dim=EMBEDDING),
        "clip-text": lambda path: save_text_model(path, dim=EMBEDDING),
        "clip-tokenizer": save_tokenizer,
    }
    for name, make in makers.items():
        remote = REGISTRY[name]
        make(cache / remote.fname)
        digest = hashlib.sha256((cache / remote.fname).read_bytes()).hexdigest()
        stand_in = RemoteFile("http://127.0.0.1:9/unreachable", remote.fname, digest, "README test stand-in")
        monkeypatch.setitem(REGISTRY, name, stand_in)
    set_cache_dir(cache)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    set_cache_dir(None)


def run_document(document: Path, capsys) -> dict:
    """Run a document's blocks in order in a fresh namespace; return the namespace."""
    namespace: dict = {}
    for number, (kind, code) in enumerate(BLOCK.findall(document.read_text())):
        where = f"{document.name} block {number}"
        if kind == "python":
            exec(compile(fewer_masks(code), where, "exec"), namespace)
        elif kind == "csv":
            assert code == (ROOT / "examples" / "jobs.csv").read_text(), f"{where} must be examples/jobs.csv"
        else:
            for command in commands_of(fewer_masks(code)):
                if command[0] == "dianna-distance":
                    run_command(command, where, capsys)
    return namespace


def run_command(command: list[str], where: str, capsys) -> None:
    arguments = command[1:]
    if "--scheduler" in arguments:  # needs a running Dask cluster: only parsed
        assert build_parser().parse_args(arguments).scheduler
        return
    if arguments[0] == "dashboard":  # a server that runs until stopped: only parsed (tests/test_dashboard*.py)
        assert build_parser().parse_args(arguments).command == "dashboard"
        return
    if arguments[0] in EXPLAIN_COMMANDS and "--n-masks" not in arguments:
        arguments = [*arguments, "--n-masks", str(MASKS)]
    assert main(arguments) == 0, (where, command, capsys.readouterr().err)


@pytest.mark.filterwarnings("ignore:tolerance=.*was not reached")  # the lowered mask budget: expected
@pytest.mark.parametrize("document", DOCUMENTS, ids=[document.name for document in DOCUMENTS])
def test_each_documents_examples_run_as_written_from_a_clone(document, clone, capsys):
    run_document(document, capsys)
    if document.name == "README.md":
        assert (clone / "map.png").stat().st_size > 0 and (clone / "bee_vs_fly.png").stat().st_size > 0
        assert (clone / "dianna_distance_demo.png").exists() and len(list((clone / "maps").glob("*.npy"))) == 2


def commands_of(code: str) -> list[list[str]]:
    """The commands of a bash block: lines without comments, split at ``&&``."""
    commands = []
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words:
            head, _, words = _split_at(words, "&&")
            commands.append(head)
    return [command for command in commands if command]


def bash_commands():
    """Every command of the bash blocks of every document."""
    return [command for kind, code in BLOCKS if kind == "bash" for command in commands_of(code)]


def _split_at(words, separator):
    if separator in words:
        index = words.index(separator)
        return words[:index], separator, words[index + 1 :]
    return words, None, []


def test_bash_blocks_contain_only_commands_this_test_knows():
    known = {"dianna-distance", "pip", "python"}
    assert {command[0] for command in bash_commands()} <= known


def test_pip_commands_name_extras_that_exist_and_one_torch_version():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = set(project["optional-dependencies"])
    pip_commands = [command for command in bash_commands() if command[0] == "pip"]
    assert pip_commands
    torch_pins = set()
    for command in pip_commands:
        assert command[1] in ("install", "uninstall")
        for word in command[2:]:
            match = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", word)
            if match and match.group(1):
                assert set(match.group(1).split(",")) <= extras, word
            elif word.startswith("torch=="):
                torch_pins.add(word)
    assert len(torch_pins) == 1
    cpu_installs = [c for c in pip_commands if "--extra-index-url" in c]
    assert cpu_installs and not [c for c in pip_commands if "--index-url" in c]  # the registry is always reachable
    for command in cpu_installs:  # the CPU index is an extra one, given up on at once where it cannot be reached
        assert command[command.index("--extra-index-url") + 1] == "https://download.pytorch.org/whl/cpu"
        assert command[command.index("--retries") + 1] == "0"


def test_ci_runs_the_quick_start_exactly_as_the_readme_writes_it():
    import subprocess
    import sys

    printed = subprocess.run([sys.executable, str(ROOT / ".ci" / "quickstart.py")], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    quick_start = README.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert printed == [line for line in quick_start if line.strip()]
    assert printed[-1] == "python -m pytest -q" and "dianna-distance demo" in printed[0]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "quickstart.py" in ci and 'eval "${QUICK_START[0]}"' in ci and 'eval "${QUICK_START[1]}"' in ci


def test_python_commands_run_this_test_suite():
    commands = [command for command in bash_commands() if command[0] == "python"]
    assert commands and all(command[1:3] == ["-m", "pytest"] for command in commands)
    assert (ROOT / "tests").is_dir()
