"""Where the local PostgreSQL comes from, which account runs it, and where its files may live.

PostgreSQL refuses to run as root, so as root the server runs as an unprivileged account
(`postgres`, else `nobody`). That account must be able to reach the binaries and the data
directory, yet a clone often lives where nobody else may enter (a 0700 home, `mktemp -d`): the
pgserver wheel inside `.venv` is then out of its reach. Instead of asking anyone to change
permissions, such an install is copied into the server's own run directory, which is created
where the account can enter and removed with the server.

As root, everything root writes stays in root's hands: the run directory and the copy are root's
(0755), and the account owns only the `server` directory inside it, which root writes to only
through a file it created exclusively. So the account can neither swap the copy nor make root
follow a link it planted. `nobody` is a fallback for machines without a `postgres` account: the
server is a throwaway on loopback with a random SCRAM password.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BIN_ENV = "AURORA_RESTORE_POSTGRES_BIN"  # a directory holding initdb, pg_ctl and postgres
SERVICE_ACCOUNTS = ("postgres", "nobody")  # who runs the server when we are root, in order
TOOLS = ("initdb", "pg_ctl", "postgres")
RUN_DIRECTORY_PREFIX = "aurora-restore-pg-"  # then the creating process's id, so each can be traced
_SYSTEM_BIN_ROOT = Path("/usr/lib/postgresql")
_FIX = (
    "run `make install` again, or install the PostgreSQL server (e.g. `apt-get install postgresql`)"
)


class LocalPostgresError(RuntimeError):
    """The local server failed, or an emulated operation on it is impossible."""


class PostgresStartError(LocalPostgresError):
    """The local server could not be started. Its text is one sentence a person can act on: what
    went wrong and what to do."""


@dataclass(frozen=True)
class ServerAccount:
    """The system account the server process runs as (None: ourselves)."""

    name: str
    uid: int
    gid: int
    groups: frozenset[int]

    @classmethod
    def of(cls, name: str) -> ServerAccount:
        entry = pwd.getpwnam(name)
        # Only its primary group: the server runs with no supplementary groups (extra_groups=[]).
        return cls(name=name, uid=entry.pw_uid, gid=entry.pw_gid, groups=frozenset({entry.pw_gid}))

    def can_enter(self, path: Path) -> bool:
        """Whether this account may traverse `path` and each of its parents."""
        return all(self._may(parent, stat.S_IXUSR) for parent in (path, *path.parents))

    def _may(self, path: Path, owner_bit: int) -> bool:
        try:
            info = path.stat()
        except OSError:
            return False
        if info.st_uid == self.uid:
            return bool(info.st_mode & owner_bit)
        if info.st_gid in self.groups:
            return bool(info.st_mode & (owner_bit >> 3))
        return bool(info.st_mode & (owner_bit >> 6))


def server_account() -> ServerAccount | None:
    """None when we may run the server ourselves; else the first service account that exists."""
    if os.geteuid() != 0:
        return None
    for name in SERVICE_ACCOUNTS:
        try:
            return ServerAccount.of(name)
        except KeyError:
            continue
    raise PostgresStartError(
        "PostgreSQL refuses to run as root and this machine has no "
        f"{' or '.join(f'`{name}`' for name in SERVICE_ACCOUNTS)} account to run it as: "
        "create one (`useradd --system postgres`) or run as an ordinary user."
    )


def find_binaries() -> Path:
    """The directory holding the server's tools: $AURORA_RESTORE_POSTGRES_BIN when set, else the
    pgserver wheel's, else the newest system install's."""
    chosen = os.environ.get(BIN_ENV)
    if chosen:
        if not _has_tools(Path(chosen)):
            raise PostgresStartError(
                f"{BIN_ENV}={chosen} holds no {', '.join(TOOLS)}: point it at a PostgreSQL "
                "bin directory, or unset it to use the one `make install` provides."
            )
        return Path(chosen).resolve()
    for candidate in _candidates():
        if _has_tools(candidate):
            return candidate
    raise PostgresStartError(
        "No PostgreSQL server binaries were found (neither the pgserver package in this "
        f"virtualenv nor {_SYSTEM_BIN_ROOT}/<version>/bin): {_FIX}."
    )


def _candidates() -> list[Path]:
    found = []
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        found.append(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin")
    if _SYSTEM_BIN_ROOT.is_dir():
        versions = sorted(
            (p for p in _SYSTEM_BIN_ROOT.iterdir() if p.name.isdigit()),
            key=lambda p: int(p.name),
            reverse=True,
        )
        found.extend(version / "bin" for version in versions)
    return found


def _has_tools(directory: Path) -> bool:
    return all((directory / tool).is_file() for tool in TOOLS)


def temporary_bases() -> list[Path]:
    """Where run directories may go, in order: $TMPDIR (Python's choice), then the usual ones."""
    bases = [Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")]  # noqa: S108
    return [base for base in dict.fromkeys(bases) if base.is_dir()]


def run_directory_prefix(pid: int) -> str:
    return f"{RUN_DIRECTORY_PREFIX}{pid}-"


def run_directory(account: ServerAccount | None) -> Path:
    """A new private directory for one server's files, in a temporary directory the server's
    account can enter ($TMPDIR may be one only we can enter, e.g. /run/user/<uid>)."""
    bases = temporary_bases()
    for base in bases:
        if account is None or account.can_enter(base):
            prefix = run_directory_prefix(os.getpid())
            directory = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
            if account is not None:
                directory.chmod(0o755)  # still root's; the account may only enter it
            return directory
    raise PostgresStartError(
        f"No temporary directory ({', '.join(map(str, bases))}) can be entered by the "
        f"`{account.name if account else 'current'}` account that runs PostgreSQL: "
        "set TMPDIR to one it can enter."
    )


def reachable_binaries(bin_dir: Path, account: ServerAccount | None, run_dir: Path) -> Path:
    """`bin_dir` when the server's account can run it; otherwise a copy of its install inside
    `run_dir`, readable by everyone, removed with the run directory."""
    if account is None or _runs_as(bin_dir, account):
        return bin_dir
    anchor, parts = _install_parts(bin_dir)
    copy = run_dir / "install"
    try:
        for part in parts:
            shutil.copytree(
                anchor / part,
                copy / part,
                symlinks=True,  # links stay links (libpq.so -> libpq.so.5), never followed
                ignore=shutil.ignore_patterns("include", "*.a", "pkgconfig"),
                copy_function=shutil.copyfile,  # contents only: the source's modes may be 0700
            )
    except (OSError, shutil.Error) as exc:
        raise PostgresStartError(
            f"The `{account.name}` account that runs PostgreSQL cannot enter {bin_dir}, and "
            f"copying it to {run_dir} failed ({str(exc)[:200]}): free some disk space there, or set "
            f"{BIN_ENV} to a PostgreSQL bin directory that account can reach."
        ) from exc
    copied = copy / bin_dir.relative_to(anchor)
    _open_to_everyone(copy, executables=copied)
    if not _runs_as(copied, account):
        raise PostgresStartError(
            f"The `{account.name}` account cannot run PostgreSQL from {bin_dir} nor from a copy "
            f"in {run_dir}: {_FIX}."
        )
    return copied


def _install_parts(bin_dir: Path) -> tuple[Path, list[Path]]:
    """What to copy so the copy runs: PostgreSQL finds its lib and share directories relative to
    its binaries, and a wheel's binaries find the libraries auditwheel vendored beside the
    package through an $ORIGIN-relative RPATH (pgserver: `$ORIGIN/../../../pgserver.libs`). So
    the copy keeps `<package>/<install>` and `<package>.libs` where they are to each other."""
    install = bin_dir.parent
    package = install.parent
    anchor = package.parent
    parts = [install.relative_to(anchor)]
    vendored = anchor / f"{package.name}.libs"
    if vendored.is_dir():
        parts.append(vendored.relative_to(anchor))
    return anchor, parts


def _runs_as(bin_dir: Path, account: ServerAccount) -> bool:
    """Whether `postgres` and `initdb` run as the account: reached, loaded with every library they
    link (initdb also loads libpq, which a wheel vendors elsewhere) and executed."""
    for tool in ("postgres", "initdb"):
        try:
            done = subprocess.run(  # noqa: S603 - a PostgreSQL binary we located, a fixed argument
                [str(bin_dir / tool), "--version"],
                capture_output=True,
                timeout=30,
                user=account.uid,
                group=account.gid,
                extra_groups=[],
                cwd="/",
                env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
            )
        except (OSError, subprocess.SubprocessError):  # unreachable, not executable, or hung
            return False
        if done.returncode != 0:
            return False
    return True


def _open_to_everyone(root: Path, *, executables: Path) -> None:
    for directory, _, files in os.walk(root):
        Path(directory).chmod(0o755)
        for name in files:
            path = Path(directory, name)
            if path.is_symlink():  # its target is a file of the copy, opened in its own turn
                continue
            runnable = Path(directory) == executables or name.endswith(".so") or ".so." in name
            os.chmod(path, 0o755 if runnable else 0o644, follow_symlinks=False)
