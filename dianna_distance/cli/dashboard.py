"""The ``dashboard`` subcommand: start the Streamlit dashboard (:mod:`dianna_distance.dashboard`)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dianna_distance.dashboard import DEFAULT_HOST, DEFAULT_PORT, MAX_UPLOAD_MB, PRIMARY, SECONDARY_BACKGROUND
from dianna_distance.models.packages import require_modules


def add_dashboard_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``dashboard`` subcommand."""
    dashboard = commands.add_parser("dashboard", help="start the dashboard (a Streamlit app) in a browser: explain, "
                                                      "then explore the run without the model")
    dashboard.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    dashboard.add_argument("--host", default=DEFAULT_HOST,
                           help=f"address to bind (default {DEFAULT_HOST}: this machine only)")


def streamlit_command(port: int, host: str) -> list[str]:
    """The ``streamlit run`` command line of the dashboard: headless, no usage statistics, DIANNA's theme."""
    app = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
    return [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.port", str(port), "--server.address", host,
            "--server.maxUploadSize", str(MAX_UPLOAD_MB), "--theme.primaryColor", PRIMARY,
            "--theme.secondaryBackgroundColor", SECONDARY_BACKGROUND, "--theme.backgroundColor", "#ffffff",
            "--theme.textColor", "#000000", "--client.toolbarMode", "minimal"]


#: The glibc allocator settings the Streamlit server gets unless the environment sets them (at most 2 malloc arenas).
#: Each script run of each browser session runs on a thread of its own, and ONNX Runtime's threads allocate too. With
#: glibc's default (up to 8 arenas per core) the memory freed after a run stayed in whichever arena had held it, and
#: the server grew by about 40 MB with every session (docs/performance.md, Dashboard). Other C libraries ignore it.
ALLOCATOR_ENVIRONMENT = {"MALLOC_ARENA_MAX": "2"}


def streamlit_environment(environment: dict[str, str] | None = None) -> dict[str, str]:
    """The Streamlit server's environment: ``environment`` (default: this process's) with the allocator settings.

    :data:`ALLOCATOR_ENVIRONMENT` gives the settings that ``environment`` does not set itself.
    """
    base = dict(os.environ if environment is None else environment)
    return {**ALLOCATOR_ENVIRONMENT, **base}


def run_dashboard(args: argparse.Namespace) -> int:
    """Run the ``dashboard`` subcommand until the server stops; 2 with one line when Streamlit is missing."""
    if not 0 < args.port < 65536:
        print(f"dianna-distance: error: --port must be in 1..65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        require_modules(["streamlit"], "the dashboard")
    except ModuleNotFoundError as error:
        print(f"dianna-distance: error: {error}", file=sys.stderr)
        return 2
    return run_until_stopped(streamlit_command(args.port, args.host), environment=streamlit_environment())


#: The signals that stop the command; each is passed on to the Streamlit server, which then stops too.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def run_until_stopped(command: list[str], grace: float = 10.0, environment: dict[str, str] | None = None) -> int:
    """Run ``command`` until it ends; a stop signal sent to this process is passed on to it.

    SIGINT (Ctrl+C), SIGTERM (``kill``, a service manager) and SIGHUP (a closed terminal) are each sent on to the
    child, which then shuts down (Streamlit closes its port); a child still running ``grace`` seconds later is
    killed. Returns the child's exit status, or ``128 + signal`` when a signal stopped the command. ``environment``:
    the child's environment (default: this process's).
    """
    child = subprocess.Popen(command, env=environment)
    received: list[int] = []

    def pass_on(number: int, _frame: object) -> None:
        received.append(number)
        if child.poll() is None:
            child.send_signal(number)

    previous = {number: signal.signal(number, pass_on) for number in STOP_SIGNALS}
    try:
        deadline = None
        while (status := child.poll()) is None:
            if received and deadline is None:
                deadline = time.monotonic() + grace
            if deadline is not None and time.monotonic() > deadline:
                child.kill()
            try:
                child.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 128 + received[0] if received else status
