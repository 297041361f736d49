"""Build checks beyond Sphinx's own warnings, and short cross-references within the package.

- A public name without a docstring and a tutorial with a stored error output are reported as Sphinx warnings, so
  that ``sphinx-build -W`` fails on them.
- Docstrings name other objects of the package by their short name (``:func:`explain_many``` in ``split.py``). Such a
  reference resolves when exactly one documented object of the package has that name; otherwise it stays a
  warning (a broken or ambiguous cross-reference).
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

from sphinx.util import logging
from sphinx.util.nodes import make_refnode

logger = logging.getLogger(__name__)

CHECKED = {"module", "class", "exception", "function", "method", "property"}


def warn_on_missing_docstring(app, what, name, obj, options, lines) -> None:
    """Warn when a public object of the package has no docstring of its own."""
    if what not in CHECKED or not name.startswith("dianna_distance"):
        return
    if any(part.startswith("_") for part in name.split(".")):
        return
    if not any(line.strip() for line in lines):
        logger.warning(f"public {what} {name} has no docstring", type="docstring", subtype="missing")


def warn_on_failed_tutorials(app) -> None:
    """Warn for every stored error output of a rendered notebook (the tutorials are rendered as committed)."""
    for notebook in sorted(Path(app.srcdir).glob("tutorials/*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        for number, cell in enumerate(cells, start=1):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    logger.warning(f"{notebook.name}: cell {number} stored an error: {output.get('ename')}: "
                                   f"{output.get('evalue')}", type="notebook", subtype="error")


def where_defined(target: str) -> str | None:
    """``module.qualname`` of the package object that a dotted name reaches by import (re-exports included)."""
    if not target.startswith("dianna_distance."):
        return None
    parts = target.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            obj = getattr(obj, attribute, None)
            if obj is None:
                return None
        module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        return f"{module}.{qualname}" if module and qualname else None
    return None


def skip_imported(app, what, name, obj, skip, options):
    """Leave out classes and functions a module imports from elsewhere (``Callable``): they belong to their module."""
    if inspect.isclass(obj) or inspect.isfunction(obj):
        if not getattr(obj, "__module__", "").startswith("dianna_distance"):
            return True
    return None


def resolve_short_name(app, env, node, contnode):
    """Resolve a Python reference by its short name when exactly one object of the package has that name."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    domain = env.get_domain("py")
    defined_at = where_defined(target)
    if defined_at in domain.objects:
        matches = [defined_at]
    else:
        matches = [name for name in domain.objects
                   if name.startswith("dianna_distance.") and name.endswith("." + target)]
    if not matches and target.startswith("dianna_distance.") and "." in target:
        # a re-exported constant (``dianna_distance.models.PRESETS``): the one of that name inside that package
        package, _, short = target.rpartition(".")
        matches = [name for name in domain.objects if name.startswith(package + ".") and name.endswith("." + short)]
    if len(matches) != 1:
        return None
    name = matches[0]
    entry = domain.objects[name]
    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, name)


def setup(app):
    """Connect the checks."""
    app.connect("missing-reference", resolve_short_name)
    app.connect("autodoc-skip-member", skip_imported)
    app.connect("autodoc-process-docstring", warn_on_missing_docstring)
    app.connect("builder-inited", warn_on_failed_tutorials)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
