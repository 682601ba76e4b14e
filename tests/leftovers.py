"""What a test run leaves behind: the local PostgreSQL run directories this process created in the
temporary directories, and servers still running from them. Only this process's: a `make local`
started meanwhile is not a leftover of the tests."""

from __future__ import annotations

import os
from pathlib import Path

from local_stack.postgres_install import run_directory_prefix, temporary_bases


def our_folders(pid: int | None = None) -> set[str]:
    """Run directories made by process `pid` (default: this one)."""
    prefix = run_directory_prefix(pid or os.getpid())
    return {str(entry) for base in temporary_bases() for entry in base.glob(f"{prefix}*")}


def our_servers() -> set[str]:
    """PostgreSQL postmasters whose data directory is one of ours, as `pid:data_dir`."""
    found = set()
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = status.read_bytes().split(b"\0")
        except OSError:  # the process ended meanwhile
            continue
        if b"-D" in argv[:-1] and Path(argv[0].decode(errors="replace")).name == "postgres":
            data_dir = argv[argv.index(b"-D") + 1].decode(errors="replace")
            if f"/{run_directory_prefix(os.getpid())}" in data_dir:
                found.add(f"{status.parent.name}:{data_dir}")
    return found


class Leftovers:
    """Compares folders and servers at the end of a run with those at its start."""

    def __init__(self) -> None:
        self._before: set[str] = set()

    def remember_what_exists(self) -> None:
        self._before = our_folders() | our_servers()

    def new_since_start(self) -> list[str]:
        return sorted((our_folders() | our_servers()) - self._before)
