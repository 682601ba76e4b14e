"""What a test run leaves behind: the local stack's folders in the temporary directories and
PostgreSQL servers still running from them."""

from __future__ import annotations

from pathlib import Path

from local_stack.postgres_install import temporary_bases

PREFIX = "aurora-restore"  # every folder the local stack and its PostgreSQL create starts so


def our_folders() -> set[str]:
    return {str(entry) for base in temporary_bases() for entry in base.glob(f"{PREFIX}*")}


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
            if f"/{PREFIX}" in data_dir:
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
