"""Modules stay small and focused: no tracked Python file of the project is over 400 lines."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "pipeline", "infra", "local_stack", "bench", "tests")
MAX_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "--", *(f"{package}/*.py" for package in PACKAGES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(tracked) > 100  # the listing worked
    sizes = {path: len((ROOT / path).read_text().splitlines()) for path in tracked}
    too_long = {path: lines for path, lines in sizes.items() if lines > MAX_LINES}
    assert not too_long, f"over {MAX_LINES} lines, split them: {too_long}"
