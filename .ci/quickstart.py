"""Print the commands of the README's quick start (its first bash block after "## Quick start"), one a line."""

from pathlib import Path

lines = Path(__file__).resolve().parents[1].joinpath("README.md").read_text(encoding="utf-8").splitlines()
start = lines.index("## Quick start")
opening = next(i for i in range(start, len(lines)) if lines[i].strip() == "```bash")
closing = next(i for i in range(opening + 1, len(lines)) if lines[i].strip() == "```")
commands = [line.strip() for line in lines[opening + 1 : closing] if line.strip() and not line.startswith("#")]
if len(commands) != 2:
    raise SystemExit(f"README quick start: expected an install line and a test line, found {commands}")
print("\n".join(commands))
