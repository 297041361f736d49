"""The ``dashboard`` subcommand: start the Streamlit dashboard (:mod:`dianna_distance.dashboard`)."""

from __future__ import annotations

import argparse
import subprocess
import sys
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
    try:
        return subprocess.call(streamlit_command(args.port, args.host))
    except KeyboardInterrupt:
        return 130
