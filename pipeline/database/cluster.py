"""The restored cluster: what RDS says about it, its master password, and connections to it."""

from __future__ import annotations

import ssl
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from pg8000.exceptions import DatabaseError, InterfaceError
from pg8000.native import Connection

from pipeline.aws_errors import aws_call
from pipeline.database.connection import Connector, is_auth_failure, is_transient, server_message
from pipeline.database.credentials import Credential, CredentialStore, Endpoint, master_secret_name
from pipeline.errors import (
    DatabaseSetupError,
    FatalError,
    ResourceBusyError,
    RetryableError,
)
from pipeline.observability import logger

POSTGRES_ENGINES = frozenset({"aurora-postgresql", "postgres"})
DEFAULT_DATABASE = {
    "aurora-postgresql": "postgres",
    "postgres": "postgres",
    "aurora-mysql": "mysql",
}


@dataclass(frozen=True)
class ClusterInfo:
    cluster_id: str
    engine: str
    host: str
    port: int
    master_username: str
    database: str  # the cluster's own database: DatabaseName, else the engine's default

    @property
    def is_postgres(self) -> bool:
        return self.engine in POSTGRES_ENGINES

    # The name applications will reach it by: the target's, for a cluster restored beside the
    # target under a staging name. Its secrets are kept under that name, for that endpoint.
    published_as: str | None = None

    @property
    def secret_cluster_id(self) -> str:
        return self.published_as or self.cluster_id

    def endpoint(self, database: str | None = None) -> Endpoint:
        """Where applications connect: after a swap the cluster answers on the target's DNS name
        (`<name>.cluster-<account and region's DNS identifier>...`, pipeline.swap_plan)."""
        engine = "postgres" if self.is_postgres else "mysql"
        host = self.host
        if self.published_as and host.startswith(f"{self.cluster_id}."):
            host = self.published_as + host[len(self.cluster_id) :]
        return Endpoint(host, self.port, database or self.database, engine)


def describe_cluster_endpoint(
    rds: Any, cluster_id: str, *, published_as: str | None = None
) -> ClusterInfo:
    """The cluster's endpoint and master user; a cluster that is not `available` is busy."""
    with aws_call(f"describe cluster {cluster_id}"):
        answer = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)
    cluster = answer["DBClusters"][0]
    status = cluster.get("Status", "")
    if status != "available":
        raise ResourceBusyError(f"cluster `{cluster_id}` is `{status}`, not yet available")
    engine = str(cluster["Engine"])
    return ClusterInfo(
        cluster_id=cluster_id,
        engine=engine,
        host=str(cluster["Endpoint"]),
        port=int(cluster["Port"]),
        master_username=str(cluster["MasterUsername"]),
        database=str(cluster.get("DatabaseName") or DEFAULT_DATABASE.get(engine, "postgres")),
        published_as=published_as if published_as != cluster_id else None,
    )


def reset_master_password(
    rds: Any,
    credentials: CredentialStore,
    cluster: ClusterInfo,
    *,
    operation_id: str,
    secret_prefix: str,
) -> Credential:
    """Replace the master password the restore carried over from the source.

    The new password is stored first, then set on the cluster; a retry of the same operation finds
    its stored password and does not generate another one."""
    credential = credentials.credential_for_operation(
        master_secret_name(secret_prefix, cluster.secret_cluster_id),
        username=cluster.master_username,
        operation_id=operation_id,
        cluster_id=cluster.secret_cluster_id,
        endpoint=cluster.endpoint(),
    )
    if not credential.reused:
        apply_master_password(rds, cluster.cluster_id, credential.password)
    return credential


def apply_master_password(rds: Any, cluster_id: str, password: str) -> None:
    try:
        with aws_call(f"reset master password of {cluster_id}"):
            rds.modify_db_cluster(
                DBClusterIdentifier=cluster_id, MasterUserPassword=password, ApplyImmediately=True
            )
    except FatalError as exc:
        # The AWS message never contains the password; drop the chained exception's request.
        raise DatabaseSetupError(
            f"cannot reset the master password of `{cluster_id}`", aws_error=exc.aws_error
        ) from None
    logger.info("master password reset", extra={"cluster": cluster_id})


@dataclass
class ClusterSession:
    """Connections to one cluster as its master user, one per database, opened on first use."""

    connector: Connector
    cluster: ClusterInfo
    master: Credential
    tls: bool
    rds: Any = None
    _connections: dict[str, Connection] = field(default_factory=dict, repr=False)

    def connection(self, database: str | None = None) -> Connection:
        name = database or self.cluster.database
        if name not in self._connections:
            self._connections[name] = self._open(name)
        return self._connections[name]

    def _open(self, database: str) -> Connection:
        cluster = self.cluster
        try:
            return self.connector.connect(
                cluster.host,
                cluster.port,
                database,
                self.master.username,
                self.master.password,
                self.tls,
            )
        except (DatabaseError, InterfaceError, ssl.SSLError, OSError) as exc:
            if is_auth_failure(exc):
                self._master_password_not_accepted()
            if is_transient(exc):
                raise RetryableError(
                    f"cannot reach `{cluster.cluster_id}` yet: {server_message(exc)}"
                ) from exc
            raise DatabaseSetupError(
                f"cannot connect to database `{database}` of `{cluster.cluster_id}` as "
                f"`{self.master.username}`: {server_message(exc)}"
            ) from exc

    def _master_password_not_accepted(self) -> None:
        # RDS applies a new master password within seconds, asynchronously. If an earlier attempt
        # of this operation stored the password but stopped before RDS got it, send it again.
        if self.master.reused and self.rds is not None:
            apply_master_password(self.rds, self.cluster.cluster_id, self.master.password)
        raise RetryableError(
            f"the new master password of `{self.cluster.cluster_id}` is not in effect yet"
        )

    def close(self) -> None:
        for connection in self._connections.values():
            with suppress(DatabaseError, InterfaceError, OSError):  # broken: nothing to release
                connection.close()
        self._connections.clear()
