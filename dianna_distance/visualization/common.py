"""What the plots share: figures that display once in notebooks, whole saves, symmetric colour ranges.

Every plot function of :mod:`dianna_distance.visualization` draws into a ``PlotFigure`` made by
:func:`new_figure` and finishes with :func:`finish_figure`:

* In Jupyter, the figure is displayed exactly once: when the call is the last line of a cell (the returned figure
  is the cell's result), when it is assigned (``fig = plot_...(...)``) or ended by ``;`` (the inline backend draws
  it at the end of the cell), and when ``show_plot=True`` (displayed at once, not again as the cell's result).
* In a script or a test with a non-interactive backend (Agg), the figure has its own Agg canvas and is never held
  by pyplot, so that drawing many figures (a batch of PNGs) keeps no figures open.
* In other interactive sessions (a GUI backend, ``plt.ion()``) the figure stays open, as ``plt.figure`` leaves it.
"""

from __future__ import annotations

import functools
import os
import sys
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The range of each named distance (:data:`dianna_distance.distances.DISTANCES`), written in figure titles. The
#: cosine distance here is ``(1 - cos) / 2``: 0 for embeddings in the same direction, 1 for opposite ones.
DISTANCE_RANGES = {"cosine": "0 to 1", "euclidean": "0 and up"}


def distance_text(distance: float, distance_name: object = "cosine") -> str:
    """``cosine distance 0.448 (0 to 1)``: a distance, its name and its range (a callable's: ``distance 0.448``)."""
    if isinstance(distance_name, str) and distance_name in DISTANCE_RANGES:
        return f"{distance_name} distance {float(distance):.3g} ({DISTANCE_RANGES[distance_name]})"
    return f"distance {float(distance):.3g}"


def pair_title(item: str, reference: str, distance: float | None = None, distance_name: object = "cosine") -> str:
    """A figure's title: the pair and, when given, the distance between them.

    ``pair_title("bee.jpg", "fly.jpg", 0.448)`` is ``"bee.jpg vs fly.jpg — cosine distance 0.448 (0 to 1)"``.

    Args:
        item: What was explained (a file name, a quoted text, a row).
        reference: What it was compared with.
        distance: The distance of the unmasked item to the reference; None: the pair only.
        distance_name: The explainer's ``distance`` (a name in :data:`DISTANCE_RANGES`, or a callable).
    """
    title = f"{item} vs {reference}"
    return title if distance is None else f"{title} — {distance_text(distance, distance_name)}"


def quoted(text: str, limit: int = 40) -> str:
    """A text in curly quotes, shortened to about ``limit`` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return f"“{text if len(text) <= limit else text[: limit - 1].rstrip() + '…'}”"


#: The Jupyter cell (execution count) in which ``show_plot=True`` displayed each figure.
_SHOWN_IN_CELL: weakref.WeakKeyDictionary[Figure, int] = weakref.WeakKeyDictionary()


def __getattr__(name: str) -> type:
    if name == "PlotFigure":  # made on first use, so that importing the package does not import matplotlib
        return plot_figure_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def plot_figure_class() -> type:
    """``PlotFigure``: the matplotlib figure of every plot, which Jupyter displays once.

    Jupyter displays it once whether it is the cell's result or left open in pyplot for the inline backend: when
    it is displayed as a result, it is closed in pyplot first. The class is made on first use (matplotlib is
    imported then) and is importable as ``dianna_distance.visualization.common.PlotFigure``.
    """
    from matplotlib.figure import Figure

    class PlotFigure(Figure):
        def _ipython_display_(self) -> None:
            import matplotlib.pyplot as plt
            from IPython.display import display

            shell = _ipython_shell()
            if shell is not None and _SHOWN_IN_CELL.get(self) == shell.execution_count:
                return  # show_plot=True displayed it in this cell already
            if not _inline_backend():
                display({"text/plain": repr(self)}, raw=True)  # a GUI or widget backend shows the figure itself
                return
            from IPython.core.pylabtools import print_figure

            plt.close(self)  # the inline backend would draw it again at the end of the cell
            display({"image/png": print_figure(self, "png", bbox_inches="tight"), "text/plain": repr(self)},
                    raw=True)

    PlotFigure.__module__, PlotFigure.__qualname__ = __name__, "PlotFigure"
    return PlotFigure


def new_figure(figsize: tuple[float, float], layout: str | None = "constrained") -> Figure:
    """A new ``PlotFigure`` (see :func:`plot_figure_class`) of ``figsize`` inches.

    In a Jupyter kernel or an interactive session it is made by pyplot (and stays open there, so that the inline
    backend or the GUI shows it); otherwise it gets its own Agg canvas and pyplot never holds it.
    """
    if _ipython_shell() is None and not _interactive_session():
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = plot_figure_class()(figsize=figsize, layout=layout)
        FigureCanvasAgg(fig)
        return fig
    import matplotlib.pyplot as plt

    return plt.figure(figsize=figsize, FigureClass=plot_figure_class(), layout=layout)


def finish_figure(fig: Figure, output_filename: str | Path | None, show_plot: bool, **save_kwargs) -> Figure:
    """Save the figure whole (when ``output_filename``), show it (when ``show_plot``), and return it.

    See the module's docstring for when the figure is displayed.
    """
    import matplotlib.pyplot as plt

    if output_filename is not None:
        save_figure(fig, output_filename, **save_kwargs)
    shell = _ipython_shell()
    if show_plot:
        if shell is not None and isinstance(fig, plot_figure_class()):
            from IPython.display import display

            display(fig)
            _SHOWN_IN_CELL[fig] = shell.execution_count
        else:
            plt.show()
    return fig


def save_figure(fig: Figure, output_filename: str | Path, **kwargs) -> None:
    """Save a figure whole: to a temporary name in the same folder, then renamed."""
    path = Path(output_filename)
    temporary = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(temporary, **kwargs)
    os.replace(temporary, path)


def symmetric_range(scores: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """``(-m, m)`` with ``m`` the largest absolute score (1 when every score is 0 or there are none)."""
    values = np.abs(np.asarray(scores, dtype=float))
    values = values[np.isfinite(values)]  # NaN scores (words the model never saw) do not set the colour scale
    largest = float(np.max(values)) if values.size else 0.0
    largest = largest if largest > 0 else 1.0
    return -largest, largest


def draw_deletion_curves(ax, result, names: tuple[str, str], style: str, xlabel: str) -> None:
    """The LoDF, HiDF and mean random curves (with the random orders' spread) of a deletion result on ``ax``."""
    percent = 100 * result.fractions
    ax.plot(percent, result.lodf, "r" + style, label=f"{names[0]} (area vs random {result.area_lodf:+.3f})")
    ax.plot(percent, result.hidf, "b" + style, label=f"{names[1]} (area vs random {result.area_hidf:+.3f})")
    ax.plot(percent, result.random_mean, "k--", label=f"random (mean ± std of {len(result.random)})")
    ax.fill_between(percent, result.random_mean - result.random_std, result.random_mean + result.random_std,
                    color="k", alpha=0.15)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("distance to reference")


def _ipython_shell():
    """The running IPython kernel's shell, or None outside a Jupyter kernel."""
    if "IPython" not in sys.modules or "ipykernel" not in sys.modules:
        return None
    shell = sys.modules["IPython"].get_ipython()
    return shell if shell is not None and "zmq" in type(shell).__name__.lower() else None


def _inline_backend() -> bool:
    import matplotlib

    return "inline" in matplotlib.get_backend().lower()


def _interactive_session() -> bool:
    """Whether pyplot figures are meant to stay open: interactive mode, or an interactive (GUI) backend."""
    import matplotlib

    if matplotlib.is_interactive():
        return True
    backend = matplotlib.get_backend().lower()
    try:
        from matplotlib.backends import BackendFilter, backend_registry

        interactive = backend_registry.list_builtin(BackendFilter.INTERACTIVE)
    except ImportError:  # matplotlib < 3.9
        from matplotlib import rcsetup

        interactive = getattr(rcsetup, "interactive_bk", [])  # removed in 3.11, so not in the installed stubs
    return backend in {name.lower() for name in interactive}
