"""The dashboard in a real browser (issue 26): from a selection slider step to the new map, and the server memory.

Starts ``dianna-distance dashboard`` on a free port of 127.0.0.1, opens it in Chromium (Debian's
``chromium-headless-shell`` or ``chromium``) with Playwright, runs bee vs fly (EfficientNet-Lite0) with
``--n-masks`` masks, then moves the positive selection's upper handle one step at a time (a key press, as a person
using the keyboard would) and times each step until the map's image changes. With ``--sessions`` it then opens that
many more sessions (each runs the example once) and prints the server's resident memory after each.

Usage::

    python benchmarks/dashboard_browser.py [--steps 8] [--sessions 0] [--settle 0]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAP = '[data-testid="stMain"] [data-testid="stImage"] img, [data-testid="stMain"] [data-testid="stImageContainer"] img'


def browser_path() -> str:
    """Debian's Chromium."""
    for name in ("chromium-headless-shell", "chromium", "chromium-browser"):
        if shutil.which(name):
            return str(shutil.which(name))
    sys.exit("no Chromium here: apt-get install chromium-headless-shell")


def start_dashboard(log: Path) -> tuple[subprocess.Popen, str]:
    """``dianna-distance dashboard`` on a free port; its process and URL once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "dianna_distance.cli", "dashboard", "--port", str(port)],
                               stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2).read()
            return process, url
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit("the dashboard did not start: " + log.read_text()[-2000:])
            time.sleep(0.5)


def server_pids(process: subprocess.Popen) -> list[int]:
    """The command and its children (the Streamlit server)."""
    pids = [process.pid]
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    if children.exists():
        pids += [int(child) for child in children.read_text().split()]
    return pids


def server_cpu_seconds(process: subprocess.Popen) -> float:
    """CPU time (user + system) the command and the Streamlit server have used so far, in seconds.

    Unlike the wall time of a step, it hardly depends on what else the machine is running.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in server_pids(process):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def server_rss_mb(process: subprocess.Popen) -> float:
    """Resident memory of the command and its children (the Streamlit server), in MB."""
    total = 0
    for pid in server_pids(process):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def map_source(page) -> str:
    """The source of the first image of the page's main area (the map)."""
    return page.locator(MAP).first.get_attribute("src") or ""


def run_example(page, url: str, n_masks: int) -> None:
    """Open the dashboard, run bee vs fly with ``n_masks`` masks, wait for the exploration."""
    page.goto(url)
    page.get_by_text("Explain", exact=True).wait_for(timeout=180_000)
    page.get_by_text("Explainer parameters").click()
    masks = page.get_by_label("n_masks")
    masks.fill(str(n_masks))
    masks.press("Enter")
    time.sleep(1.5)
    page.get_by_role("button", name="Explain").click()
    page.get_by_text("Explore the run (no model calls)").wait_for(timeout=600_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
    time.sleep(1.0)


def slider_step_seconds(page, steps: int, process: subprocess.Popen | None = None) -> tuple[list[float], list[float]]:
    """Press the positive selection's upper handle right ``steps`` times.

    Returns the seconds from each press to the new map, and the server's CPU seconds for each step (press to
    settled page; empty without ``process``).
    """
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="positive selection")
    handle = slider.get_by_role("slider").nth(1)
    times, cpu = [], []
    for _ in range(steps):
        before = map_source(page)
        handle.focus()
        used = server_cpu_seconds(process) if process is not None else 0.0
        start = time.perf_counter()
        handle.press("ArrowRight")
        page.wait_for_function(f"(before) => {{ const image = document.querySelector('{MAP}'); "
                               "return image && image.src && image.src !== before; }", arg=before, timeout=60_000,
                               polling=10)
        times.append(time.perf_counter() - start)
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                               timeout=60_000)
        time.sleep(0.7)
        if process is not None:
            cpu.append(server_cpu_seconds(process) - used)
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-masks", type=int, default=200)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--sessions", type=int, default=0)
    parser.add_argument("--settle", type=float, default=0.0,
                        help="after the sessions, wait this many seconds (Streamlit drops a closed session's state "
                             "after about 120 s) and print the server's memory again")
    parser.add_argument("--log", type=Path, default=Path("/tmp/dashboard_browser.log"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    process, url = start_dashboard(args.log)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=browser_path(), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            run_example(page, url, args.n_masks)
            times, cpu = slider_step_seconds(page, args.steps, process)
            print("slider step -> new map (s):", " ".join(f"{value:.2f}" for value in times))
            print(f"median {statistics.median(times):.2f} s; server CPU per step: median "
                  f"{statistics.median(cpu):.2f} s ({' '.join(f'{value:.2f}' for value in cpu)})")
            print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            page.close()
            memory = [server_rss_mb(process)]
            for _ in range(args.sessions):
                session = browser.new_page(viewport={"width": 1400, "height": 2000})
                run_example(session, url, args.n_masks)
                slider_step_seconds(session, 2)
                session.close()
                time.sleep(2)
                memory.append(server_rss_mb(process))
            if args.sessions:
                print("server memory after each session (MB):", " ".join(f"{value:.0f}" for value in memory))
            if args.settle:
                time.sleep(args.settle)
                print(f"server memory {args.settle:.0f} s after the last session closed: "
                      f"{server_rss_mb(process):.0f} MB")
            browser.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


if __name__ == "__main__":
    main()
