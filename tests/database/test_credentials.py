"""Credential hygiene: the master password, retries that stay in sync, nothing secret in logs."""

from __future__ import annotations

import json
import logging

import pytest
from botocore.exceptions import ClientError
from moto.rds.models import RDSBackend
from pg8000.exceptions import DatabaseError

from pipeline.database import DatabaseConfig, parse_database_config, setup_database
from pipeline.database.credentials import OPERATION_TAG
from pipeline.errors import AwsThrottledError, DatabaseSetupError, RetryableError
from pipeline.models import Stage, StageStatus
from tests.database.conftest import PREFIX, Restored, connected

USERS = """
targets:
  - pattern: "*"
    users:
      - {{name: app_{names}, role: read-write}}
    scripts:
      - {{name: touch, sql: "UPDATE customers SET email = lower(email);"}}
"""


def _run(restored: Restored, config: DatabaseConfig | None = None) -> dict[str, object]:
    return setup_database(
        restored.operation_id,
        restored.ctx,
        connector=restored.clusters.connector(),
        config=config if config is not None else DatabaseConfig(),
    )


def test_the_master_password_is_replaced_and_stored(
    restored: Restored, rds_hooks: list[str]
) -> None:
    result = _run(restored)

    assert result == {"users": [], "scripts": []}
    assert rds_hooks == [restored.cluster_id]
    secret = restored.master_secret()
    assert secret["username"] == restored.master_user
    assert secret["password"] != restored.original_master_password
    with pytest.raises(DatabaseError) as refused:
        restored.connect(restored.master_user, restored.original_master_password).close()
    assert refused.value.args[0]["C"] == "28P01"
    with connected(restored.connect(restored.master_user, secret["password"])) as db:
        assert db.run("SELECT current_user") == [[restored.master_user]]
    name = f"{PREFIX}/{restored.cluster_id}/master"
    tags = restored.ctx.clients.secretsmanager.describe_secret(SecretId=name)["Tags"]
    assert {"Key": OPERATION_TAG, "Value": restored.operation_id} in tags
    record = restored.ctx.store.get(restored.operation_id).stages[Stage.SETUP_DATABASE]
    assert record.status == StageStatus.SUCCEEDED
    actions = [e.action for e in restored.ctx.store.audit_events(restored.operation_id)]
    assert "setup_database.master_password" in actions


def test_an_interrupted_reset_converges_on_retry(
    restored: Restored, rds_hooks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given RDS refuses the first ModifyDBCluster (after the new password was stored)
    hooked = RDSBackend.modify_db_cluster
    calls = []

    def throttled_once(self: RDSBackend, kwargs: dict[str, object]) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}},
                "ModifyDBCluster",
            )
        return hooked(self, kwargs)

    monkeypatch.setattr(RDSBackend, "modify_db_cluster", throttled_once)
    with pytest.raises(AwsThrottledError):
        _run(restored)
    stored = restored.master_secret()

    # When the state machine retries: the stored password is reused and sent to RDS again
    with pytest.raises(RetryableError, match="not in effect yet"):
        _run(restored)
    result = _run(restored)

    # Then the secret and the database agree, and the secret was never replaced
    assert result == {"users": [], "scripts": []}
    assert restored.master_secret() == stored
    with connected(restored.connect(restored.master_user, stored["password"])) as db:
        assert db.run("SELECT 1") == [[1]]
    record = restored.ctx.store.get(restored.operation_id).stages[Stage.SETUP_DATABASE]
    assert record.status == StageStatus.SUCCEEDED  # retryable errors never showed as a failure


def test_no_password_reaches_logs_audit_or_progress(
    restored: Restored,
    names: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    sqs_progress: str,
) -> None:
    # Everything our code and the driver log, down to DEBUG. (botocore's own DEBUG logging prints
    # request bodies, secrets included; Lambda runs it at WARNING.)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="aurora-restore")
    caplog.set_level(logging.DEBUG, logger="pg8000")
    config = parse_database_config(USERS.format(names=names))

    result = _run(restored, config)
    _run(restored, config)

    passwords = {
        restored.master_secret()["password"],
        restored.secret(f"app_{names}")["password"],
        restored.original_master_password,
    }
    audit = json.dumps(
        [e.model_dump(mode="json") for e in restored.ctx.store.audit_events(restored.operation_id)]
    )
    sqs = restored.ctx.clients.client("sqs")
    progress = json.dumps(sqs.receive_message(QueueUrl=sqs_progress, MaxNumberOfMessages=10))
    captured = capsys.readouterr()
    records = json.dumps([vars(record) for record in caplog.records], default=str)  # with extras
    texts = [records, captured.out, captured.err, audit, progress, json.dumps(result)]
    assert f'"db_user": "app_{names}"' in records  # the logs do name the user
    for password in passwords:
        leaks = [index for index, text in enumerate(texts) if password in text]
        assert leaks == []


def test_users_and_scripts_need_aurora_postgresql(restored: Restored, names: str) -> None:
    rds = restored.ctx.clients.rds()
    rds.create_db_cluster(
        DBClusterIdentifier=f"mysql-{names}",
        Engine="aurora-mysql",
        MasterUsername="admin",
        MasterUserPassword="source-password",
    )
    rds.describe_db_clusters(DBClusterIdentifier=f"mysql-{names}")
    restored.cluster_id = f"mysql-{names}"
    restored.new_operation()

    with pytest.raises(DatabaseSetupError, match="aurora-mysql"):
        _run(restored, parse_database_config(USERS.format(names=names)))


def test_the_master_user_cannot_be_configured_as_a_user(restored: Restored) -> None:
    config = parse_database_config(
        f"targets: [{{pattern: '*', users: [{{name: {restored.master_user}, role: owner}}]}}]"
    )
    with pytest.raises(DatabaseSetupError, match="master user"):
        _run(restored, config)
