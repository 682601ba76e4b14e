"""Connections to the restored cluster, behind a small protocol so the local stack can route them.

pg8000 is the driver: pure Python, so the Lambda package (arm64) needs no native build and no
libpq, unlike psycopg; it speaks SCRAM-SHA-256 and TLS, and `pg8000.native` offers `identifier()` /
`literal()` for composing statements that cannot take bind parameters (DDL, GRANT).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Protocol

from pg8000.exceptions import DatabaseError, InterfaceError
from pg8000.native import Connection

from pipeline.settings import PipelineSettings

# SQLSTATE classes and codes we act on.
AUTH_FAILURE_CODES = frozenset({"28P01", "28000"})  # invalid_password, invalid_authorization
TRANSIENT_CODES = frozenset({"57P03", "53300", "08006", "08001", "40001", "40P01"})


class Connector(Protocol):
    """Opens a pg8000 native connection; the default one connects to the cluster over TLS."""

    def connect(
        self, host: str, port: int, database: str, user: str, password: str, tls: bool
    ) -> Connection: ...


@dataclass(frozen=True)
class Pg8000Connector:
    """Connects with pg8000, verifying the server certificate (and host name) when `tls` is set.

    `endpoint_override` (local stack only) sends every cluster endpoint to one local server, where
    each cluster is served by a database named after its identifier (the endpoint's first label).
    """

    ca_bundle_path: str | None = None
    endpoint_override: tuple[str, int] | None = None
    timeout_seconds: int = 10

    def connect(
        self, host: str, port: int, database: str, user: str, password: str, tls: bool
    ) -> Connection:
        if self.endpoint_override is not None:
            database = cluster_id_of_endpoint(host)
            host, port = self.endpoint_override
        return Connection(
            user,
            host=host,
            port=port,
            database=database,
            password=password,
            ssl_context=self._ssl_context() if tls else None,
            timeout=self.timeout_seconds,
            application_name="aurora-restore",
        )

    def _ssl_context(self) -> ssl.SSLContext:
        # Aurora's certificates chain to the RDS CAs; on AWS ship their bundle and point at it.
        context = ssl.create_default_context(cafile=self.ca_bundle_path)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context


def connector_from_settings(settings: PipelineSettings) -> Pg8000Connector:
    return Pg8000Connector(
        ca_bundle_path=settings.db_ca_bundle_path,
        endpoint_override=parse_endpoint(settings.db_endpoint_override),
        timeout_seconds=settings.db_connect_timeout_seconds,
    )


def parse_endpoint(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"`{value}` is not an endpoint `host:port`")
    return host, int(port)


def cluster_id_of_endpoint(host: str) -> str:
    """`my-db.cluster-abc.eu-west-1.rds.amazonaws.com` -> `my-db` (Aurora's endpoint format)."""
    return host.split(".", 1)[0].lower()


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a server error (pg8000 passes the error fields as a dict)."""
    if isinstance(exc, DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        code = exc.args[0].get("C")
        return str(code) if code else None
    return None


def server_message(exc: BaseException) -> str:
    """The server's own words, without the SQL text (which may hold secrets)."""
    if isinstance(exc, DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        fields: dict[str, Any] = exc.args[0]
        text = f"{fields.get('S', 'ERROR')} {fields.get('C', '')}: {fields.get('M', '')}".strip()
        if fields.get("D"):
            text += f" ({fields['D']})"
        return text
    if isinstance(exc, InterfaceError):
        return f"connection problem: {exc}"
    return type(exc).__name__


def is_auth_failure(exc: BaseException) -> bool:
    return sqlstate(exc) in AUTH_FAILURE_CODES


def is_transient(exc: BaseException) -> bool:
    """Network trouble or a server briefly refusing work; a later attempt may succeed.
    A server without TLS stays without TLS: that is a configuration error, not a transient one."""
    if isinstance(exc, InterfaceError):
        return "refuses SSL" not in str(exc)
    return sqlstate(exc) in TRANSIENT_CODES


@contextmanager
def transaction(connection: Connection) -> Iterator[None]:
    """One transaction: committed when the block ends, rolled back on any error."""
    connection.run("START TRANSACTION")
    try:
        yield
    except BaseException:
        # If the connection is gone, the server rolls back on its own.
        with suppress(DatabaseError, InterfaceError):
            connection.run("ROLLBACK")
        raise
    connection.run("COMMIT")
