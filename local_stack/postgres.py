"""A real local PostgreSQL for the local stack and the tests, and Aurora emulated on top of it.

`LocalPostgres` runs a private server: TCP on 127.0.0.1 only, no Unix socket, SCRAM passwords, a
bootstrap superuser of our own (the stack's admin). Binaries come from the `pgserver` wheel, else
from the system (`/usr/lib/postgresql/*/bin`). PostgreSQL refuses to run as root, so as root the
server runs as the `postgres` system user.

`ClusterDatabases` maps Aurora clusters and cluster snapshots onto databases of that server: the
database serving a cluster is named after the cluster identifier, a snapshot is a copy of it
(`CREATE DATABASE ... TEMPLATE`), and a restore is a copy of the snapshot. Its hooks are called by
the RDS emulation; `Pg8000Connector(endpoint_override=...)` sends cluster endpoints here.

Limitation: PostgreSQL roles belong to the server, not to a database. So that resetting one
cluster's master password never touches another's, a restored cluster gets a master role of its
own (`<cluster>_master`, which RDS then reports as the cluster's master username; on Aurora it
keeps the source's name). Application users are not separated: two clusters whose configuration
names the same users share them (each restored master is given ADMIN over the users that exist when
it is restored), so concurrent set-ups of such clusters can still step on each other.
The admin is a separate role that hooks never alter, so no cluster operation can lock the stack
out.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pg8000.native import Connection, identifier, literal

from pipeline.database.connection import Pg8000Connector
from pipeline.database.passwords import generate_password, scram_sha256_verifier

ADMIN_USER = "aurora_local_admin"
SERVICE_USER = "postgres"  # the system account that runs the server when we are root
START_TIMEOUT_SECONDS = 60
_SYSTEM_BIN_ROOT = Path("/usr/lib/postgresql")


class LocalPostgresError(RuntimeError):
    """The local server could not be started, or an emulated operation is impossible."""


def find_binaries() -> Path:
    """The directory holding `initdb`, `pg_ctl` and `postgres`: pgserver's wheel, else the system's."""
    spec = importlib.util.find_spec("pgserver")
    candidates = []
    if spec is not None and spec.submodule_search_locations:
        candidates.append(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin")
    if _SYSTEM_BIN_ROOT.is_dir():
        versions = sorted(
            (p for p in _SYSTEM_BIN_ROOT.iterdir() if p.name.isdigit()),
            key=lambda p: int(p.name),
            reverse=True,
        )
        candidates.extend(version / "bin" for version in versions)
    for candidate in candidates:
        if all((candidate / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return candidate
    raise LocalPostgresError(
        "no PostgreSQL binaries found: install the `pgserver` package or PostgreSQL server"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalPostgres:
    """A running local server. Start with `LocalPostgres.start(data_dir)`; `stop()` when done."""

    host: str
    port: int
    admin_user: str
    admin_password: str = field(repr=False)
    data_dir: Path
    bin_dir: Path
    run_as: str | None  # system user running the server, None for ourselves

    @classmethod
    def start(
        cls, data_dir: Path | str, *, port: int | None = None, admin_password: str | None = None
    ) -> LocalPostgres:
        """Initialise a new cluster in `data_dir` (which must be empty or absent) and start it."""
        root = Path(data_dir).resolve()
        root.mkdir(parents=True, exist_ok=True)
        if any(root.iterdir()):
            raise LocalPostgresError(f"`{root}` is not empty; give a fresh directory")
        run_as = SERVICE_USER if os.geteuid() == 0 else None
        server = cls(
            host="127.0.0.1",
            port=port or _free_port(),
            admin_user=ADMIN_USER,
            admin_password=admin_password or generate_password(),
            data_dir=root,
            bin_dir=find_binaries(),
            run_as=run_as,
        )
        server._prepare_directory()
        server._initdb()
        server._pg_ctl("start", "-w", "-t", str(START_TIMEOUT_SECONDS), "-l", str(server.log_file))
        return server

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
                _end_sessions(admin, template)
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
        if (self.pgdata / "postmaster.pid").exists():
            self._pg_ctl("stop", "-w", "-m", "fast")

    def __enter__(self) -> LocalPostgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- process management -------------------------------------------------------------------
    def _prepare_directory(self) -> None:
        if self.run_as is None:
            return
        account = pwd.getpwnam(self.run_as)
        for parent in self.data_dir.parents:
            if not parent.stat().st_mode & stat.S_IXOTH:
                raise LocalPostgresError(
                    f"`{parent}` is not traversable by `{self.run_as}`; "
                    "put the data directory elsewhere (e.g. under /tmp)"
                )
        os.chown(self.data_dir, account.pw_uid, account.pw_gid)

    def _initdb(self) -> None:
        # The password file lives only as long as initdb needs it, readable by the server's user.
        with tempfile.NamedTemporaryFile("w", dir=self.data_dir, delete=False) as handle:
            handle.write(self.admin_password + "\n")
            password_file = Path(handle.name)
        try:
            if self.run_as is not None:
                account = pwd.getpwnam(self.run_as)
                os.chown(password_file, account.pw_uid, account.pw_gid)
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
        account = pwd.getpwnam(self.run_as) if self.run_as else None
        try:
            subprocess.run(  # noqa: S603 - our own binaries, arguments we compose
                [str(self.bin_dir / tool), *args],
                check=True,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT_SECONDS + 30,
                user=account.pw_uid if account else None,
                group=account.pw_gid if account else None,
                extra_groups=[] if account else None,
                cwd=self.data_dir,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
            )
        except subprocess.CalledProcessError as exc:
            log = (
                self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            )
            raise LocalPostgresError(
                f"{tool} failed ({exc.returncode}): {exc.stderr.strip()[-2000:]}\n{log}"
            ) from exc


def _end_sessions(admin: Connection, database: str) -> None:
    admin.run(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = :name AND pid <> pg_backend_pid()",
        name=database,
    )


def snapshot_database_name(snapshot: str) -> str:
    """The local database holding a cluster snapshot: readable, at most 63 bytes, unique."""
    snapshot_id = snapshot.rsplit(":cluster-snapshot:", 1)[-1]  # an ARN names the same snapshot
    name = f"snapshot:{snapshot_id}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(snapshot_id.encode()).hexdigest()[:12]
    return f"snapshot:{snapshot_id[:40]}-{digest}"


@dataclass(frozen=True)
class LoopbackConnector:
    """A `Connector` for the local server, which listens on loopback only and has no TLS.
    (Out of process, the same routing is `AURORA_RESTORE_DB_ENDPOINT_OVERRIDE=host:port` with
    `AURORA_RESTORE_DB_TLS=false`.)"""

    inner: Pg8000Connector

    def connect(
        self, host: str, port: int, database: str, user: str, password: str, tls: bool
    ) -> Connection:
        return self.inner.connect(host, port, database, user, password, tls=False)


class ClusterDatabases:
    """Aurora's clusters and snapshots as databases of one local server (hooks for RDS calls)."""

    def __init__(self, server: LocalPostgres) -> None:
        self.server = server

    @staticmethod
    def database_for(cluster_id: str) -> str:
        return cluster_id.lower()

    def connector(self) -> LoopbackConnector:
        """Sends every cluster endpoint to this server, to the cluster's database, without TLS."""
        return LoopbackConnector(
            Pg8000Connector(endpoint_override=(self.server.host, self.server.port))
        )

    def serves(self, cluster_id: str) -> bool:
        """Whether a local database serves this cluster (clusters made before seeding do not)."""
        return self.server.database_exists(self.database_for(cluster_id))

    def master_user(self, cluster_id: str) -> str:
        """The master user is the owner of the cluster's database (copies keep their owner)."""
        with contextlib.closing(self.server.connect()) as admin:
            rows = admin.run(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :name",
                name=self.database_for(cluster_id),
            )
        if not rows:
            raise LocalPostgresError(f"no local database serves cluster `{cluster_id}`")
        return str(rows[0][0])

    def seed_cluster(
        self, cluster_id: str, master_user: str, master_password: str, sql: str = ""
    ) -> None:
        """CreateDBCluster: a fresh database owned by the master user, then `sql` run as master."""
        if master_user == self.server.admin_user:
            raise LocalPostgresError(f"`{master_user}` is the local stack's admin role")
        database = self.database_for(cluster_id)
        with contextlib.closing(self.server.connect()) as admin:
            verifier = literal(scram_sha256_verifier(master_password))
            exists = admin.run("SELECT 1 FROM pg_roles WHERE rolname = :name", name=master_user)
            verb = "ALTER" if exists else "CREATE"
            # Like Aurora's master user: may create databases and roles, but is no superuser.
            admin.run(
                f"{verb} ROLE {identifier(master_user)} WITH LOGIN CREATEDB CREATEROLE "
                f"PASSWORD {verifier}"
            )
        self.server.drop_database(database)
        self.server.create_database(database, owner=master_user)
        with contextlib.closing(self.server.connect(database)) as admin:
            # Since PostgreSQL 15 `public` belongs to the database owner; make it so before too.
            admin.run(f"ALTER SCHEMA public OWNER TO {identifier(master_user)}")
        if sql.strip():
            with contextlib.closing(
                self.server.connect(database, master_user, master_password)
            ) as master:
                master.run(sql)

    def on_snapshot(self, cluster_id: str, snapshot_id: str) -> None:
        """CreateDBClusterSnapshot: a copy of the cluster's database (a repeat is a no-op)."""
        self._copy(self.database_for(cluster_id), snapshot_database_name(snapshot_id))

    def on_copy_snapshot(self, source_snapshot: str, target_snapshot_id: str) -> None:
        """CopyDBClusterSnapshot (also across regions; `source_snapshot` may be an ARN)."""
        self._copy(
            snapshot_database_name(source_snapshot), snapshot_database_name(target_snapshot_id)
        )

    def on_restore(self, snapshot: str, cluster_id: str) -> None:
        """RestoreDBClusterFromSnapshot: the new cluster's database is a copy of the snapshot's."""
        source = snapshot_database_name(snapshot)
        if not self.server.database_exists(source):
            raise LocalPostgresError(f"no local database holds snapshot `{snapshot}`")
        target = self.database_for(cluster_id)
        self.server.drop_database(target)  # RDS accepted the restore: no such cluster exists
        self.server.create_database(target, template=source)

    def give_own_master(self, cluster_id: str) -> str:
        """Aurora clusters have roles of their own; clusters sharing this one server do not. A
        restored cluster therefore gets a master role of its own that owns everything in its
        database, so resetting its master password never changes another cluster's."""
        database = self.database_for(cluster_id)
        previous = self.master_user(cluster_id)
        role = _master_role_name(cluster_id)
        with contextlib.closing(self.server.connect()) as admin:
            verifier = literal(scram_sha256_verifier(generate_password()))
            exists = admin.run("SELECT 1 FROM pg_roles WHERE rolname = :name", name=role)
            verb = "ALTER" if exists else "CREATE"
            admin.run(
                f"{verb} ROLE {identifier(role)} WITH LOGIN CREATEDB CREATEROLE PASSWORD {verifier}"
            )
            admin.run(f"ALTER DATABASE {identifier(database)} OWNER TO {identifier(role)}")
            # PostgreSQL 16 lets a CREATEROLE role alter only roles it administers. Application
            # users other clusters' set-ups created are server-wide here, so this cluster's master
            # administers them too (never another cluster's master: those own databases).
            shared = admin.run(
                "SELECT rolname FROM pg_roles r WHERE rolname !~ '^pg_' AND NOT rolsuper "
                "AND rolname <> :role AND NOT EXISTS "
                "(SELECT 1 FROM pg_database d WHERE d.datdba = r.oid)",
                role=role,
            )
            for (name,) in shared:
                admin.run(f"GRANT {identifier(name)} TO {identifier(role)} WITH ADMIN OPTION")
        with contextlib.closing(self.server.connect(database)) as admin:
            admin.run(
                _REOWN_OBJECTS.replace(":old", literal(previous)).replace(":new", literal(role))
            )
        return role

    def on_master_password(self, cluster_id: str, password: str) -> None:
        """ModifyDBCluster(MasterUserPassword=...): reset the cluster's master role password."""
        master = self.master_user(cluster_id)
        if master == self.server.admin_user:
            raise LocalPostgresError("refusing to change the local stack's admin password")
        with contextlib.closing(self.server.connect()) as admin:
            admin.run(
                f"ALTER ROLE {identifier(master)} WITH PASSWORD "
                f"{literal(scram_sha256_verifier(password))}"
            )

    def on_delete(self, cluster_id: str) -> None:
        """DeleteDBCluster: its database goes; its snapshots stay."""
        self.server.drop_database(self.database_for(cluster_id))

    def on_delete_snapshot(self, snapshot_id: str) -> None:
        self.server.drop_database(snapshot_database_name(snapshot_id))

    def _copy(self, source: str, target: str) -> None:
        if self.server.database_exists(target):
            return
        if not self.server.database_exists(source):
            raise LocalPostgresError(f"no local database `{source}` to copy")
        self.server.create_database(target, template=source)


def _master_role_name(cluster_id: str) -> str:
    name = f"{cluster_id.lower()}_master"
    if len(name) <= 63:  # PostgreSQL would silently truncate a longer name
        return name
    return (
        f"{cluster_id.lower()[:44]}_{hashlib.sha256(cluster_id.encode()).hexdigest()[:10]}_master"
    )


# Hands every schema, relation and routine of one role to another, inside one database (REASSIGN
# OWNED would also move databases the old role owns elsewhere). Tables first: their serial
# sequences follow them and cannot be moved on their own.
_REOWN_OBJECTS = """
DO $$
DECLARE item record;
BEGIN
  FOR item IN SELECT nspname FROM pg_namespace WHERE nspowner = (:old)::regrole LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', item.nspname, :new);
  END LOOP;
  FOR item IN SELECT oid::regclass AS name, relkind FROM pg_class
              WHERE relowner = (:old)::regrole AND relkind IN ('r', 'p', 'v', 'm', 'f') LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I',
      CASE item.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                        WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, item.name, :new);
  END LOOP;
  FOR item IN SELECT oid::regclass AS name FROM pg_class
              WHERE relowner = (:old)::regrole AND relkind = 'S' LOOP
    EXECUTE format('ALTER SEQUENCE %s OWNER TO %I', item.name, :new);
  END LOOP;
  FOR item IN SELECT oid::regprocedure AS name FROM pg_proc
              WHERE proowner = (:old)::regrole LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', item.name, :new);
  END LOOP;
END $$;
"""


def remove_data_dir(server: LocalPostgres) -> None:
    """Delete a stopped server's files."""
    shutil.rmtree(server.data_dir, ignore_errors=True)
