"""A real local PostgreSQL for the local stack and the tests.

`LocalPostgres` runs a private server: TCP on 127.0.0.1 only, no Unix socket, SCRAM passwords, a
bootstrap superuser of our own (the stack's admin). Binaries, the account that runs the server and
where its files live are chosen by `local_stack.postgres_install`. A server started without a
data directory owns its run directory and removes it, with everything in it, when it stops.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pg8000.native import Connection, identifier

from local_stack.postgres_install import (
    LocalPostgresError,
    ServerAccount,
    find_binaries,
    reachable_binaries,
    run_directory,
    server_account,
)
from pipeline.database.passwords import generate_password

ADMIN_USER = "aurora_local_admin"
START_TIMEOUT_SECONDS = 60

__all__ = ["ADMIN_USER", "LocalPostgres", "LocalPostgresError"]


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
    data_dir: Path
    bin_dir: Path
    account: ServerAccount | None  # the system account running the server, None for ourselves
    owns_data_dir: bool = False  # created by `start`, so removed by `stop`

    @classmethod
    def start(
        cls,
        data_dir: Path | str | None = None,
        *,
        port: int | None = None,
        admin_password: str | None = None,
    ) -> LocalPostgres:
        """Initialise a new cluster and start it: in `data_dir` when given (which must be empty or
        absent, and is left in place), else in a run directory of its own."""
        account = server_account()
        if data_dir is None:
            root, owned = run_directory(account), True
        else:
            root, owned = Path(data_dir).resolve(), False
            root.mkdir(parents=True, exist_ok=True)
            if any(root.iterdir()):
                raise LocalPostgresError(f"`{root}` is not empty: give a fresh directory.")
        try:
            server = cls(
                host="127.0.0.1",
                port=port or _free_port(),
                admin_user=ADMIN_USER,
                admin_password=admin_password or generate_password(),
                data_dir=root,
                bin_dir=find_binaries(),
                account=account,
                owns_data_dir=owned,
            )
            server._prepare_directory()
            server.bin_dir = reachable_binaries(server.bin_dir, account, root)
            server._initdb()
            server._pg_ctl(
                "start", "-w", "-t", str(START_TIMEOUT_SECONDS), "-l", str(server.log_file)
            )
        except BaseException:
            if owned:
                shutil.rmtree(root, ignore_errors=True)
            raise
        return server

    @property
    def run_as(self) -> str | None:
        return self.account.name if self.account else None

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

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

    def stop(self) -> None:
        """Stop the server; a server that owns its run directory also removes it."""
        try:
            if (self.pgdata / "postmaster.pid").exists():
                self._pg_ctl("stop", "-w", "-m", "fast")
        finally:
            if self.owns_data_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- process management -------------------------------------------------------------------
    def _prepare_directory(self) -> None:
        if self.account is None:
            return
        if not self.account.can_enter(self.data_dir.parent):
            raise LocalPostgresError(
                f"`{self.data_dir.parent}` cannot be entered by the `{self.account.name}` account "
                "that runs PostgreSQL: start the server without a data directory, or give one "
                "under /tmp."
            )
        os.chown(self.data_dir, self.account.uid, self.account.gid)

    def _initdb(self) -> None:
        # The password file lives only as long as initdb needs it, readable by the server's user.
        with tempfile.NamedTemporaryFile("w", dir=self.data_dir, delete=False) as handle:
            handle.write(self.admin_password + "\n")
            password_file = Path(handle.name)
        try:
            if self.account is not None:
                os.chown(password_file, self.account.uid, self.account.gid)
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                self.admin_user,
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
        finally:
            password_file.unlink(missing_ok=True)
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "''",  # TCP only: socket paths have length limits
            "password_encryption": "'scram-sha-256'",
            # A throwaway server: durability traded for speed.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
        }
        with (self.pgdata / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# aurora-restore local stack\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), *args)

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
                cwd=self.data_dir,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            raise LocalPostgresError(self._failure(tool, exc)) from exc

    def _failure(self, tool: str, exc: Exception) -> str:
        """One sentence: which tool failed, PostgreSQL's own last word, what to do."""
        detail = ""
        if isinstance(exc, subprocess.CalledProcessError):
            detail = _last_line(exc.stderr or "") or _last_line(exc.stdout or "")
        if self.log_file.exists():
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
