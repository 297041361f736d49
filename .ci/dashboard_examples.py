"""Open every dashboard page's example from the installed wheel and run it (called by ``.ci/wheel``).

Run from a folder outside the checkout, in the wheel's environment (with the ``dashboard`` extra): each page's
example must load and explain with the files and packages the wheel and its extra install, never with the
checkout's ``data/`` or ``examples/``. Downloads and exports go to a temporary cache (``DIANNA_DISTANCE_CACHE``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import dianna_distance

PAGES = {"Images": "images", "Texts": "texts", "Time series": "timeseries", "Tables": "tables"}


def main() -> None:
    """Run each page's example with a few masks (both of the Pairs page's); exit naming the first that fails."""
    package = Path(dianna_distance.__file__).resolve().parent
    if "site-packages" not in package.parts:
        sys.exit(f"dianna_distance is imported from {package}, not from an installed wheel")
    os.environ.setdefault("DIANNA_DISTANCE_CACHE", tempfile.mkdtemp(prefix="dianna-distance-cache-"))
    from streamlit.testing.v1 import AppTest

    for page, key in PAGES.items():
        started = time.perf_counter()
        app = AppTest.from_file(str(package / "dashboard" / "app.py"), default_timeout=600)
        app.run()
        app.sidebar.radio(key="page").set_value(page).run()
        problems = [element.value for element in (*app.exception, *app.error, *app.info)]
        if problems:
            sys.exit(f"dashboard page {page}: its example did not load from the wheel: {problems}")
        app.number_input(key=f"{key}_n_masks").set_value(60)  # tables: more pairs than features
        app.button(key=f"{key}_explain").click().run()
        problems = [element.value for element in (*app.exception, *app.error)]
        run = app.session_state[f"{key}_run"] if f"{key}_run" in app.session_state else None
        if problems or run is None:
            sys.exit(f"dashboard page {page}: its example did not run from the wheel: {problems or 'no run'}")
        print(f"dashboard page {page}: the example ran from the wheel ({len(run['explainer'].embeddings_)} masks, "
              f"{time.perf_counter() - started:.0f} s)")
    for source in ("MiniLM", "ConSE"):
        started = time.perf_counter()
        app = AppTest.from_file(str(package / "dashboard" / "app.py"), default_timeout=600)
        app.run()
        app.sidebar.radio(key="page").set_value("Pairs").run()
        choice = next(option for option in app.radio(key="pairs_source").options if option.startswith(source))
        app.radio(key="pairs_source").set_value(choice).run()
        app.number_input(key="pairs_n_masks").set_value(200)
        app.button(key="pairs_explain").click().run()
        problems = [element.value for element in (*app.exception, *app.error)]
        if problems or "pairs_run" not in app.session_state:
            sys.exit(f"dashboard page Pairs ({source}): its example did not run from the wheel: {problems or 'no run'}")
        print(f"dashboard page Pairs ({source}): the example ran from the wheel "
              f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
