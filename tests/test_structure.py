"""The package's structure as docs/architecture.md describes it: layers, no cycles, no private imports, small files."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "dianna_distance"
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def type_checking_nodes(tree: ast.AST) -> set[ast.AST]:
    """The statements under ``if TYPE_CHECKING:``: imports for annotations only, never run."""
    nodes: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                nodes.update(ast.walk(statement))
    return nodes


def imports(name: str, at_run_time: bool = False) -> list[tuple[str, str | None]]:
    """(imported module, imported name or None) for every import of the package in a module, at any depth.

    ``at_run_time``: leave out the imports under ``if TYPE_CHECKING:``, which annotations need but nothing runs.
    """
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    tree = ast.parse(path.read_text())
    skipped = type_checking_nodes(tree) if at_run_time else set()
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.append((submodule, None) if submodule in MODULES else (target, alias.name))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names)
    return [(target, imported) for target, imported in found if target.split(".")[0] == "dianna_distance"]


def layer_of_file() -> dict[str, int]:
    """The row of the architecture's layer table that names each file or folder (``core.py``, ``batch/``)."""
    table = ARCHITECTURE.split("## Layers, bottom to top", 1)[1].split("\n\n```", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| layer")]
    layers = {}
    for number, row in enumerate(rows):
        for file in re.findall(r"`([\w]+(?:\.py|/))`", row.split("|")[2]):
            layers[file] = number
    return layers


def layer(name: str, layers: dict[str, int]) -> int:
    parts = name.split(".")
    if len(parts) == 1:
        return layers["__init__.py"]
    key = parts[1] + "/" if (PACKAGE / parts[1]).is_dir() else parts[1] + ".py"
    return layers[key]


def test_the_layer_table_names_every_module_of_the_package():
    layers = layer_of_file()
    for name in MODULES:
        assert layer(name, layers) is not None, name


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_module_imports_only_its_own_layer_or_layers_before_it(name):
    layers = layer_of_file()
    own = layer(name, layers)
    for target, _ in imports(name):
        if target == "dianna_distance" and name.startswith("dianna_distance.cli"):
            continue  # the command line reads the version, dianna_distance.__version__
        assert layer(target, layers) <= own, f"{name} imports {target}, a layer after its own in docs/architecture.md"


def test_no_module_imports_another_modules_private_names():
    offenders = [(name, target, imported) for name in MODULES for target, imported in imports(name)
                 if imported and imported.startswith("_") and not imported.startswith("__") and target != name]
    assert not offenders


def test_there_is_no_import_cycle_at_run_time():
    graph = {name: {target for target, _ in imports(name, at_run_time=True) if target in MODULES and target != name}
             for name in MODULES}
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in graph[node]:
            assert state.get(target) != "open", "import cycle: " + " -> ".join(path[path.index(target):] + [target])
            if target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for name in MODULES:
        if name not in state:
            visit(name, [name])


def test_no_module_is_over_600_lines():
    lengths = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert max(lengths.values()) <= 600, {name: n for name, n in lengths.items() if n > 600}


def test_the_lowest_batch_module_imports_no_other_batch_module_not_even_for_annotations():
    batch_imports = {target for target, _ in imports("dianna_distance.batch.jobs")
                     if target.startswith("dianna_distance.batch")}
    assert not batch_imports
