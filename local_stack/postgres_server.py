"""A real local PostgreSQL for the local stack and the tests.

`LocalPostgres` runs a private server: TCP on 127.0.0.1 only, no Unix socket, SCRAM passwords, a
bootstrap superuser of our own (the stack's admin). Binaries, the account that runs the server and
where its files live are chosen by `local_stack.postgres_install`. Its run directory holds
`server/` (the data directory and the log, the server account's) and, when the account could not
reach the install, `install/` (root's copy). A server started without a run directory makes its
own and removes it when it stops; a start that fails half-way stops what it started.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from pg8000.native import Connection, identifier

from local_stack.postgres_install import (
    LocalPostgresError,
    PostgresStartError,
    ServerAccount,
    find_binaries,
    reachable_binaries,
    run_directory,
    server_account,
)
from pipeline.database.passwords import generate_password

ADMIN_USER = "aurora_local_admin"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30

__all__ = ["ADMIN_USER", "LocalPostgres"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalPostgres:
    """A running local server. Start with `LocalPostgres.start()`; `stop()` when done."""

    host: str
    port: int
    admin_user: str
    admin_password: str = field(repr=False)
    run_dir: Path
    bin_dir: Path
    account: ServerAccount | None  # the system account running the server, None for ourselves
    owns_run_dir: bool = False  # created by `start`, so removed by `stop`

    @classmethod
    def start(
        cls,
        run_dir: Path | str | None = None,
        *,
        port: int | None = None,
        admin_password: str | None = None,
    ) -> LocalPostgres:
        """Initialise a new cluster and start it: in `run_dir` when given (which must be empty or
        absent, and is left in place), else in a run directory of its own."""
        account = server_account()
        bin_dir = find_binaries()
        if run_dir is None:
            root, owned = run_directory(account), True
        else:
            root, owned = Path(run_dir).resolve(), False
            root.mkdir(parents=True, exist_ok=True)
            if any(root.iterdir()):
                raise PostgresStartError(f"`{root}` is not empty: give a fresh directory.")
        server = cls(
            host="127.0.0.1",
            port=port or _free_port(),
            admin_user=ADMIN_USER,
            admin_password=admin_password or generate_password(),
            run_dir=root,
            bin_dir=bin_dir,
            account=account,
            owns_run_dir=owned,
        )
        try:
            server._boot()
        except BaseException as exc:
            server.stop()  # whatever started is stopped, whatever was made is removed
            if isinstance(exc, OSError | subprocess.SubprocessError):
                raise PostgresStartError(
                    f"PostgreSQL could not be set up in {root} ({exc}): check that the machine "
                    "has free disk space there, or set TMPDIR to another directory."
                ) from exc
            raise
        return server

    @property
    def run_as(self) -> str | None:
        return self.account.name if self.account else None

    @property
    def server_dir(self) -> Path:
        """The server account's own directory: the data directory and the log."""
        return self.run_dir / "server"

    @property
    def pgdata(self) -> Path:
        return self.server_dir / "pgdata"

    @property
    def log_file(self) -> Path:
        return self.server_dir / "server.log"

    def stack_info(self) -> dict[str, object]:
        """The stack file's `postgres` entry."""
        return {
            "host": self.host,
            "port": self.port,
            "admin_user": self.admin_user,
            "admin_password": self.admin_password,
        }

    def connect(
        self, database: str = "postgres", user: str | None = None, password: str | None = None
    ) -> Connection:
        """A pg8000 native connection (no TLS: the server listens on loopback only)."""
        return Connection(
            user or self.admin_user,
            host=self.host,
            port=self.port,
            database=database,
            password=self.admin_password if user is None else password,
            timeout=10,
        )

    def database_exists(self, name: str) -> bool:
        with contextlib.closing(self.connect()) as admin:
            return bool(admin.run("SELECT 1 FROM pg_database WHERE datname = :name", name=name))

    def create_database(
        self, name: str, *, template: str | None = None, owner: str | None = None
    ) -> None:
        """Create `name`, as a copy of `template` when given, owned by the template's owner unless
        `owner` says otherwise. The template's sessions are ended first: PostgreSQL copies only a
        database nobody is connected to."""
        with contextlib.closing(self.connect()) as admin:
            sql = f"CREATE DATABASE {identifier(name)}"
            if template is not None:
                end_sessions(admin, template)
                sql += f" TEMPLATE {identifier(template)}"
                if owner is None:
                    owner = admin.run(
                        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :name",
                        name=template,
                    )[0][0]
            if owner is not None:
                sql += f" OWNER {identifier(owner)}"
            admin.run(sql)

    def drop_database(self, name: str) -> None:
        with contextlib.closing(self.connect()) as admin:
            admin.run(f"DROP DATABASE IF EXISTS {identifier(name)} WITH (FORCE)")

    def rename_database(self, old: str, new: str) -> None:
        """Sessions on the database end first: PostgreSQL renames only an unused database (and a
        renamed RDS cluster is unavailable until its new DNS name is effective)."""
        with contextlib.closing(self.connect()) as admin:
            admin.run(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name",
                name=old,
            )
            admin.run(f"ALTER DATABASE {identifier(old)} RENAME TO {identifier(new)}")

    def stop(self) -> None:
        """Stop the server (never raises: it also cleans up after a failed start); a server that
        owns its run directory also removes it."""
        self._halt()
        if self.owns_run_dir:
            for _ in range(3):  # a child process may still be writing as it exits
                shutil.rmtree(self.run_dir, ignore_errors=True)
                if not self.run_dir.exists():
                    break
                time.sleep(0.2)

    def __enter__(self) -> LocalPostgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- process management -------------------------------------------------------------------
    def _boot(self) -> None:
        self._make_server_dir()
        self.bin_dir = reachable_binaries(self.bin_dir, self.account, self.run_dir)
        self._initdb()
        self._run(
            "pg_ctl",
            *("-D", str(self.pgdata), "start", "-w", "-t", str(START_TIMEOUT_SECONDS)),
            *("-l", str(self.log_file), "-o", self._server_options()),
        )

    def _make_server_dir(self) -> None:
        if self.account is not None and not self.account.can_enter(self.run_dir):
            raise PostgresStartError(
                f"`{self.run_dir}` cannot be entered by the `{self.account.name}` account that "
                "runs PostgreSQL: start the server without a run directory, or give one under /tmp."
            )
        self.server_dir.mkdir(mode=0o700)
        if self.account is not None:
            os.chown(self.server_dir, self.account.uid, self.account.gid)

    def _initdb(self) -> None:
        # The password file lives in root's run directory (the account cannot swap it) only as
        # long as initdb needs it, readable by the server's account alone.
        password_file = self.run_dir / f"initdb-{secrets.token_hex(8)}"
        descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as handle:
                if self.account is not None:
                    os.fchown(handle.fileno(), self.account.uid, self.account.gid)
                handle.write(self.admin_password + "\n")
            self._run(
                "initdb",
                *("-D", str(self.pgdata), "-U", self.admin_user, f"--pwfile={password_file}"),
                *("--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"),
            )
        finally:
            password_file.unlink(missing_ok=True)

    def _server_options(self) -> str:
        """Settings on the server's command line (pg_ctl hands them to /bin/sh), not appended to
        postgresql.conf: that file is the server account's, and root must not write through it."""
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",  # TCP only: socket paths have length limits
            "password_encryption": "scram-sha-256",
            # A throwaway server: durability traded for speed.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
        }
        return " ".join(f"-c {name}={shlex.quote(value)}" for name, value in settings.items())

    def _halt(self) -> None:
        """Stop a server that runs (or half-started): a fast shutdown, else an immediate one, else
        the postmaster is killed."""
        pid_file = self.pgdata / "postmaster.pid"
        for mode in ("fast", "immediate"):
            if not pid_file.exists():
                return
            with contextlib.suppress(LocalPostgresError):
                self._run(
                    "pg_ctl",
                    *("-D", str(self.pgdata), "stop", "-w", "-m", mode),
                    *("-t", str(STOP_TIMEOUT_SECONDS)),
                )
        self._kill_postmaster(pid_file)

    def _kill_postmaster(self, pid_file: Path) -> None:
        try:
            pid = int(pid_file.read_text().split()[0])
            owner = Path(f"/proc/{pid}").stat().st_uid
        except (OSError, ValueError, IndexError):
            return  # no such process (any more)
        # The pid file is the server account's to write: kill only a process of that account.
        if owner == (self.account.uid if self.account else os.getuid()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _run(self, tool: str, *args: str) -> None:
        account = self.account
        try:
            subprocess.run(  # noqa: S603 - our own binaries, arguments we compose
                [str(self.bin_dir / tool), *args],
                check=True,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT_SECONDS + 30,
                user=account.uid if account else None,
                group=account.gid if account else None,
                extra_groups=[] if account else None,
                cwd=self.run_dir,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            raise PostgresStartError(self._failure(tool, exc)) from exc

    def _failure(self, tool: str, exc: Exception) -> str:
        """One sentence: which tool failed, PostgreSQL's own last word, what to do."""
        detail = ""
        if isinstance(exc, subprocess.CalledProcessError):
            detail = _last_line(exc.stderr or "") or _last_line(exc.stdout or "")
        with contextlib.suppress(OSError):  # the log is the server account's, if it exists
            detail = _last_line(self.log_file.read_text(errors="replace")) or detail
        detail = detail or str(exc)
        return (
            f"PostgreSQL's `{tool}` failed ({detail}): check that the machine has free disk "
            "space and memory, or run `make install` again."
        )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def end_sessions(admin: Connection, database: str) -> None:
    admin.run(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = :name AND pid <> pg_backend_pid()",
        name=database,
    )
