"""Connections to the restored cluster, behind a small protocol so the local stack can route them.

pg8000 is the driver: pure Python, so the Lambda package (arm64) needs no native build and no
libpq, unlike psycopg; it speaks SCRAM-SHA-256 and TLS, and `pg8000.native` offers `identifier()` /
`literal()` for composing statements that cannot take bind parameters (DDL, GRANT).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pg8000.exceptions import DatabaseError, InterfaceError
from pg8000.native import Connection

from pipeline.errors import ConfigurationError
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

    # The RDS CAs (rds_ssl_context); None refuses TLS connections instead of trusting the
    # system store, which has no RDS CA and so cannot verify Aurora.
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
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
        if self.ssl_context is None:
            return rds_ssl_context(None)  # raises: TLS without the RDS CAs cannot verify
        return self.ssl_context


RDS_CA_UNIT = "Amazon RDS"  # the organizational unit of every RDS certificate authority
DB_CA_BUNDLE_ENV = "AURORA_RESTORE_DB_CA_BUNDLE_PATH"


def rds_ssl_context(ca_bundle_path: str | None) -> ssl.SSLContext:
    """A TLS context that trusts the RDS certificate authorities of `ca_bundle_path` only.

    Aurora's server certificates chain to the RDS CAs, which Lambda's trust store lacks
    (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.SSL.html), so
    without the bundle every verified connection fails: refuse that at start, not at stage 8.
    """
    if not ca_bundle_path:
        raise ConfigurationError(
            f"TLS to the restored cluster is on but no RDS CA bundle is configured: set "
            f"{DB_CA_BUNDLE_ENV} to the RDS global bundle (the CDK app ships one)"
        )
    problem = rds_ca_bundle_problem(Path(ca_bundle_path))
    if problem:
        raise ConfigurationError(f"{DB_CA_BUNDLE_ENV}: {problem}")
    context = ssl.create_default_context(cafile=ca_bundle_path)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def rds_ca_bundle_problem(path: Path, *, now: float | None = None) -> str | None:
    """Why `path` cannot verify RDS certificates (None when it can): missing, not PEM, or
    without an unexpired Amazon RDS certificate authority."""
    if not path.is_file():
        return f"the RDS CA bundle {path} does not exist"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(path))
    except ssl.SSLError as exc:
        return f"{path} is not a PEM certificate bundle ({exc.reason or exc})"
    moment = time.time() if now is None else now
    for ca in context.get_ca_certs():
        subject = {pair[0]: pair[1] for rdn in ca.get("subject", ()) for pair in rdn}
        not_after = ssl.cert_time_to_seconds(str(ca.get("notAfter")))
        if subject.get("organizationalUnitName") == RDS_CA_UNIT and not_after > moment:
            return None
    return f"{path} holds no unexpired Amazon RDS certificate authority: it cannot verify Aurora"


def connector_from_settings(settings: PipelineSettings) -> Pg8000Connector:
    """Fails with a ConfigurationError when TLS is on without a usable RDS CA bundle."""
    return Pg8000Connector(
        ssl_context=rds_ssl_context(settings.db_ca_bundle_path) if settings.db_tls else None,
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
