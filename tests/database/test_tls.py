"""TLS to the restored cluster: on by default, and never without the RDS certificate authorities
(Lambda's trust store has none, so the system store cannot verify Aurora)."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi
import pytest

from infra.config import REPO_ROOT, SHIPPED_CA_BUNDLE
from pipeline.context import PipelineContext, set_default_context
from pipeline.database import DatabaseConfig, setup_database
from pipeline.database.connection import (
    Pg8000Connector,
    connector_from_settings,
    rds_ca_bundle_problem,
)
from pipeline.errors import ConfigurationError, DatabaseSetupError
from pipeline.handlers import handle_setup_database
from pipeline.settings import PipelineSettings
from tests.database.conftest import Restored
from tests.database.test_handler import FakeLambdaContext

BUNDLE = REPO_ROOT / SHIPPED_CA_BUNDLE


def tls_settings(restored: Restored, **changes: object) -> PipelineSettings:
    """The settings' defaults (TLS on, as on AWS), pointed at the local server."""
    server = restored.server
    return PipelineSettings(
        **restored.ctx.settings.model_dump(
            exclude={"db_tls", "db_endpoint_override", *changes.keys()}
        ),
        db_endpoint_override=f"{server.host}:{server.port}",
        **changes,
    )


def test_the_shipped_bundle_holds_unexpired_rds_certificate_authorities():
    assert rds_ca_bundle_problem(BUNDLE) is None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(BUNDLE))
    names = {
        value
        for ca in context.get_ca_certs()
        for rdn in ca["subject"]
        for key, value in rdn
        if key == "commonName"
    }
    # The CAs Aurora certificates are issued under since 2024 (rds-ca-rsa2048-g1 and friends).
    assert {
        "Amazon RDS eu-west-1 Root CA RSA2048 G1",
        "Amazon RDS us-east-1 Root CA RSA4096 G1",
        "Amazon RDS us-east-1 Root CA ECC384 G1",
    } <= names


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        (Path("/nonexistent/global-bundle.pem"), "does not exist"),
        (Path(certifi.where()), "no unexpired Amazon RDS certificate authority"),
        (REPO_ROOT / "pyproject.toml", "not a PEM certificate bundle"),
    ],
)
def test_a_bundle_that_cannot_verify_rds_is_named_with_the_reason(path: Path, problem: str):
    assert problem in (rds_ca_bundle_problem(path) or "")


def test_an_expired_bundle_cannot_verify_rds():
    assert "no unexpired" in (rds_ca_bundle_problem(BUNDLE, now=4_102_444_800.0 * 2) or "")


def test_tls_without_a_bundle_fails_at_cold_start_before_the_cluster_is_touched(
    restored: Restored, rds_hooks: list[str]
):
    context = PipelineContext(tls_settings(restored), restored.ctx.clients)
    set_default_context(context)
    try:
        with pytest.raises(ConfigurationError, match="AURORA_RESTORE_DB_CA_BUNDLE_PATH"):
            handle_setup_database({"operation_id": restored.operation_id}, FakeLambdaContext())
    finally:
        set_default_context(None)
    assert rds_hooks == []  # the master password was not reset


def test_a_bundle_without_rds_authorities_is_refused_by_name():
    settings = PipelineSettings(
        operations_table="ops",
        audit_table="audit",
        progress_topic_arn="arn:aws:sns:us-east-1:123456789012:progress",
        db_ca_bundle_path=certifi.where(),
    )
    with pytest.raises(ConfigurationError, match="no unexpired Amazon RDS"):
        connector_from_settings(settings)


def test_a_connector_without_the_rds_authorities_never_connects_over_tls():
    with pytest.raises(ConfigurationError, match="no RDS CA bundle"):
        Pg8000Connector().connect("db.example.invalid", 5432, "app", "u", "p", tls=True)


def test_tls_is_required_by_default(restored: Restored):
    # With the RDS bundle, against the local server, which has no TLS: refused, not downgraded.
    settings = tls_settings(restored, db_ca_bundle_path=str(BUNDLE))
    assert settings.db_tls is True
    ctx = PipelineContext(settings, restored.ctx.clients)

    with pytest.raises(DatabaseSetupError, match="refuses SSL"):
        setup_database(restored.operation_id, ctx, config=DatabaseConfig())
