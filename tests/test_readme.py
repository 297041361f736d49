"""Every code block of README.md and of the user guide (docs/) runs as written, against small stand-in models and files.

The documents are read in the order of ``DOCUMENTS`` (the README, then the guide in the site's order), as one text.

``python`` blocks run in order in one namespace, in a folder holding ``model.onnx``, ``image.jpg``,
``reference.npy``, ... (and ``jobs.csv``, the README's ``csv`` block).
``bash`` blocks: ``dianna-distance ...`` commands run through the command line's entry
point (:func:`dianna_distance.cli.main`, what the installed ``dianna-distance`` script calls); ``pip`` commands are
checked against ``pyproject.toml`` (not run: they would install); ``python -m pytest`` is checked to name this suite.
Registry files (ResNet50, CLIP) are stand-ins put in the cache under the registry's file names, with the registry's
checksums replaced by the stand-ins' own.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from pathlib import Path

import dianna
import matplotlib
import numpy as np
import pytest
from conftest import save_linear_onnx
from conftest_models import save_image_model, save_text_model, save_tokenizer
from conftest_text import save_sentence_model, save_wordpiece_tokenizer
from PIL import Image

import dianna_distance.models.sentence as sentence
from dianna_distance.cli import build_parser, main
from dianna_distance.models import REGISTRY, RemoteFile, set_cache_dir

matplotlib.use("Agg")

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
GUIDE = ("install", "images", "parameters", "models", "texts", "tables", "timeseries", "pairs", "evaluation",
         "batch", "dashboard", "development")
DOCUMENTS = [ROOT / "README.md", *(ROOT / "docs" / f"{page}.md" for page in GUIDE)]
TEXT = "\n".join(document.read_text() for document in DOCUMENTS)
BLOCKS = re.findall(r"```(python|bash)\n(.*?)```", TEXT, flags=re.DOTALL)
CSV_BLOCKS = re.findall(r"```csv\n(.*?)```", TEXT, flags=re.DOTALL)
SIDE, EMBEDDING = 32, 5


def test_the_guide_pages_are_the_sites_user_guide_in_its_order():
    index = (ROOT / "docs" / "index.md").read_text()
    toctree = index.split(":caption: User guide", 1)[1].split("```", 1)[0].split()
    assert [page for page in toctree if page != "cli"] == list(GUIDE[:-1])  # development is under Reference


def test_readme_has_python_and_bash_blocks():
    kinds = [kind for kind, _ in BLOCKS]
    assert kinds.count("python") >= 3 and kinds.count("bash") >= 4


@pytest.fixture
def readme_folder(tmp_path, monkeypatch):
    """A folder with every file the README names, model stand-ins where it fetches files, and the cwd set to it.

    Every embedding has length 5, so that a ``.npy`` reference fits every model. Registry files are stand-ins in
    the cache (their checksums in the registry replaced by the stand-ins'); EfficientNet-Lite0's export is a
    stand-in in the cache under the exported file's name; MiniLM's two files are stand-ins returned by
    ``minilm_files`` in place of the installed wheels' files.
    """
    rng = np.random.default_rng(0)
    save_linear_onnx(tmp_path / "model.onnx", (SIDE, SIDE, 3), embedding_length=EMBEDDING)
    (tmp_path / "images").mkdir()
    (tmp_path / "embeddings").mkdir()
    for name in ("image.jpg", "other_image.jpg", "fly.jpg", "images/fly.jpg"):
        Image.fromarray(rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)).save(tmp_path / name)
    for name in ("bee.jpg", "bee2.jpg", "images/bee.jpg"):
        Image.open(Path(dianna.__file__).parent / "data" / "bee.jpg").save(tmp_path / name)
    for name in ("reference.npy", "query.npy", "fly.npy", "embeddings/fly.npy"):
        np.save(tmp_path / name, rng.normal(size=EMBEDDING))
    np.save(tmp_path / "references.npy", rng.normal(size=(3, EMBEDDING)))
    for csv in CSV_BLOCKS:
        (tmp_path / "jobs.csv").write_text(csv)
    save_sentence_model(tmp_path / "text_model.onnx", dim=EMBEDDING)
    save_wordpiece_tokenizer(tmp_path / "tokenizer.json")
    save_text_model(tmp_path / "clip-text.onnx", dim=EMBEDDING)
    save_tokenizer(tmp_path / "clip-tokenizer.json")
    save_image_model(tmp_path / "clip-image.onnx", head="embeds", dim=EMBEDDING)

    cache = tmp_path / "cache"
    cache.mkdir()
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
    save_image_model(cache / "efficientnet-lite0.onnx", head="logits", dim=1000)  # 1000 classes, as ConSE needs
    save_sentence_model(cache / "minilm.onnx", dim=EMBEDDING)
    save_wordpiece_tokenizer(cache / "minilm-tokenizer.json")
    monkeypatch.setattr(sentence, "minilm_files", lambda: (cache / "minilm.onnx", cache / "minilm-tokenizer.json"))
    set_cache_dir(cache)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    set_cache_dir(None)


def test_python_blocks_run_in_order(readme_folder):
    namespace: dict = {}
    for number, (kind, code) in enumerate(BLOCKS):
        if kind == "python":
            exec(compile(code, f"README.md / docs python block {number}", "exec"), namespace)
    assert (readme_folder / "map.png").stat().st_size > 0
    assert namespace["maps"].shape[0] == 3


def bash_commands():
    """Every command of the bash blocks: lines without comments, split at ``&&``."""
    commands = []
    for kind, code in BLOCKS:
        if kind != "bash":
            continue
        for line in code.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words:
                head, _, words = _split_at(words, "&&")
                commands.append(head)
    return [command for command in commands if command]


def _split_at(words, separator):
    if separator in words:
        index = words.index(separator)
        return words[:index], separator, words[index + 1 :]
    return words, None, []


def test_bash_blocks_contain_only_commands_this_test_knows():
    known = {"dianna-distance", "pip", "python"}
    assert {command[0] for command in bash_commands()} <= known


def test_dianna_distance_commands_run(readme_folder, capsys):
    commands = [command for command in bash_commands() if command[0] == "dianna-distance"]
    assert commands
    for command in commands:
        if "--scheduler" in command:  # needs a running Dask cluster: only parsed
            assert build_parser().parse_args(command[1:]).scheduler
            continue
        if command[1] == "dashboard":  # a server that runs until stopped: only parsed (tests/test_dashboard*.py)
            assert build_parser().parse_args(command[1:]).command == "dashboard"
            continue
        assert main(command[1:]) == 0, (command, capsys.readouterr().err)
    assert (readme_folder / "bee_vs_fly.npy").exists()
    assert (readme_folder / "dianna_distance_demo.png").exists()
    assert (readme_folder / "bee_distance.npy").exists() and (readme_folder / "text_distance.npy").exists()


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
