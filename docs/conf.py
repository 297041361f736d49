"""Sphinx configuration of the dianna-distance documentation site (``sphinx-build -W docs docs/_build/html``)."""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))

import dianna_distance  # noqa: E402 - after the path is set

project = "dianna-distance"
author = "dianna-distance developers"
copyright = "2025-2026, dianna-distance developers"  # noqa: A001 - Sphinx's name
release = version = dianna_distance.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_nb",
    "cli_help",
    "docstring_check",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "tutorials/*.png", "tutorials/*.html"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

# API reference: one page per module, generated from the docstrings (docs/api.md starts the recursion).
autosummary_generate = True
autosummary_ignore_module_all = True  # each object is documented once, in the module that defines it
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_class_signature = "separated"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # "Attributes:" as fields: a NamedTuple's fields are then described once

# Every cross-reference must resolve (-W turns a broken one into an error). The site is built offline, so other
# projects' inventories (intersphinx) cannot be fetched: references into them are not checked, ours are.
nitpicky = True
EXTERNAL = (
    "numpy", "np", "onnx", "onnxruntime", "ort", "dask", "distributed", "matplotlib", "PIL", "tokenizers", "pandas",
    "pathlib", "argparse", "collections", "typing", "os", "io", "concurrent", "threading", "streamlit", "torch",
    "dianna", "scipy", "tqdm", "pooch", "types", "enum", "dataclasses", "abc", "json", "warnings", "contextlib",
    "numpy.typing", "IPython", "skimage", "importlib", "subprocess", "ssl", "http", "urllib", "tempfile", "shutil",
    "random", "hashlib",
)
nitpick_ignore_regex = [
    (r"py:.*", rf"({'|'.join(EXTERNAL)})(\..*)?"),
    # Python's builtins and typing's names, as they appear in signatures without a module
    (r"py:.*", r"(int|float|str|bytes|bool|None|NoneType|object|type|list|dict|tuple|set|frozenset|slice|range|"
               r"Exception|ValueError|TypeError|FileNotFoundError|ImportError|ModuleNotFoundError|RuntimeError|"
               r"ConnectionError|KeyError|OSError|UserWarning|Warning|Path|PathLike|Any|Callable|Iterable|Iterator|"
               r"Sequence|Mapping|Literal|Optional|Union|Generator|ndarray|ArrayLike|NDArray|Figure|Axes|"
               r"InferenceSession|Client|LocalCluster|Tokenizer|Encoding|ModelProto|Image|Namespace|ArgumentParser|"
               r"_SubParsersAction|TextIO|IO|Protocol|ClassVar|TypeAlias|Self|Hashable|MutableMapping|Future|"
               r"np\.ndarray|np\.random\.Generator|numpy\.random\.Generator|Generator\[.*\]|optional|"
               r"array-like|array_like|callable|default .*|one of .*|shape .*|\(.*\)|[0-9].*)"),
]

# Notebooks: the tutorials are rendered with the outputs committed with them; the test suite executes each of them
# (tests/test_tutorials.py), and docs/_ext/docstring_check.py fails the build on a stored error output.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

html_theme = "sphinx_rtd_theme"
html_title = f"dianna-distance {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]  # table cells wrap (docs/_static/custom.css)
html_show_sourcelink = False


def setup(app):
    """``csv`` code blocks (the jobs files of batch runs) are shown as plain text: Pygments has no CSV lexer."""
    from pygments.lexers.special import TextLexer
    from sphinx.highlighting import lexers

    lexers["csv"] = TextLexer()
