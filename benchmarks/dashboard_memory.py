"""Does the dashboard's memory grow with every rerun of its script (issue 19)?

Drives the Images page with Streamlit's ``AppTest`` in this process, on the bee vs fly example (EfficientNet-Lite0):
one run, then ``--reselections`` re-selections (the positive range moved back and forth), then ``--runs`` more runs
(each replaces the last). Prints this process's resident memory (``VmRSS``) after each step, and the growth over
the second half of each phase, which should be near zero: one ONNX Runtime session per model (cached), one run per
page in the session state.

Usage::

    python benchmarks/dashboard_memory.py
"""

from __future__ import annotations

import argparse
import gc
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "dianna_distance" / "dashboard" / "app.py"


def rss_mb() -> float:
    """This process's resident memory in MB."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-masks", type=int, default=200)
    parser.add_argument("--reselections", type=int, default=20)
    parser.add_argument("--runs", type=int, default=6)
    args = parser.parse_args()
    app = AppTest.from_file(str(APP), default_timeout=600)
    app.run()
    app.number_input(key="images_n_masks").set_value(args.n_masks)
    app.button(key="images_explain").click().run()
    assert not app.exception, app.exception
    print(f"after the first run: {rss_mb():.0f} MB")
    reselections = []
    for step in range(args.reselections):
        app.slider(key="images_positive").set_value((0.0, 0.1 + 0.05 * (step % 4))).run()
        reselections.append(rss_mb())
    runs = []
    for step in range(args.runs):
        app.number_input(key="images_seed").set_value(step + 1)
        app.button(key="images_explain").click().run()
        runs.append(rss_mb())
    half = len(reselections) // 2
    print("after each re-selection (MB):", " ".join(f"{value:.0f}" for value in reselections))
    print("after each new run (MB):     ", " ".join(f"{value:.0f}" for value in runs))
    late_runs = len(runs) // 2
    print(f"growth over the last {len(reselections) - half} re-selections: "
          f"{reselections[-1] - reselections[half]:+.0f} MB; over the last {len(runs) - late_runs} runs: "
          f"{runs[-1] - runs[late_runs]:+.0f} MB")


if __name__ == "__main__":
    main()
