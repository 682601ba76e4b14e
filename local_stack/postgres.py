"""Aurora emulated on a real local PostgreSQL (`local_stack.postgres_server.LocalPostgres`).

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
from dataclasses import dataclass

from pg8000.native import Connection, identifier, literal

from local_stack.postgres_install import LocalPostgresError
from local_stack.postgres_server import LocalPostgres
from pipeline.database.connection import Pg8000Connector
from pipeline.database.passwords import generate_password, scram_sha256_verifier


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

    def on_rename(self, cluster_id: str, new_cluster_id: str) -> None:
        """ModifyDBCluster(NewDBClusterIdentifier=...): the data goes with the cluster."""
        self.server.rename_database(
            self.database_for(cluster_id), self.database_for(new_cluster_id)
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
