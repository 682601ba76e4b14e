"""A whole restore, a denied one and a failed one with known secret values (the signing secret, the
bot token, the database passwords in Secrets Manager, the task tokens): none of them appears in a
log record, the process output, anything sent to Slack, or a button value.

Every test on a local stack runs the same check when it ends (conftest.py); this one makes sure
each kind of secret exists and was exercised, so the check is never vacuous."""

from __future__ import annotations

import logging

import pytest

from local_stack.scenario import APPROVE, DENY, Driver
from local_stack.stack import LocalStack
from pipeline.models import OperationStatus
from pipeline.store import OperationStore
from tests.e2e.flows import click
from tests.reliability.conftest import SlackSide
from tests.reliability.leaks import (
    LogRecorder,
    assert_no_secrets_leaked,
    button_values,
    find_leaks,
    known_secrets,
)
from tests.reliability.outcomes import assert_one_consistent_outcome, new_operation

pytestmark = pytest.mark.e2e


def test_no_secret_reaches_logs_output_slack_or_buttons(
    stack: LocalStack,
    driver: Driver,
    operations: OperationStore,
    slack_side: SlackSide,
    log_recorder: LogRecorder,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG, logger="aurora_restore")
    info, users = stack.info, stack.info["users"]
    snapshot = info["seed"]["snapshot"]
    restored = new_operation(driver, f"{snapshot} dev-secrets --instances 2")
    click(driver, restored, APPROVE, users["approver"])
    denied = new_operation(driver, f"{snapshot} secrets-denied")
    click(driver, denied, DENY, users["approver"])
    failed = new_operation(driver, f"{snapshot} secrets-failed")
    stack.faults.fail("restore_db_cluster_from_snapshot", "InvalidParameterValue", "no capacity")
    click(driver, failed, APPROVE, users["approver"])

    outcomes = {
        op: assert_one_consistent_outcome(driver, operations, op).status
        for op in (restored, denied, failed)
    }
    assert stack.wait_for_progress_delivered(timeout=30)

    assert outcomes == {
        restored: OperationStatus.SUCCEEDED,
        denied: OperationStatus.DENIED,
        failed: OperationStatus.FAILED,
    }
    secrets = known_secrets(stack)
    kinds = {name.split(" ")[0] + " " + name.split(" ")[1] for name in secrets}
    assert {"signing secret", "bot token", "task token"} <= kinds
    for op in (restored, denied, failed):
        assert f"task token of {op}" in secrets
    passwords = [name for name in secrets if name.startswith("password in aurora-restore/")]
    assert any("/master " in name for name in passwords), "no master password"
    assert any("/master " not in name for name in passwords), "no application user password"
    assert button_values(stack), "no button was ever posted"
    # The pipeline's Powertools logger (which does not propagate) is read too.
    assert any("master password reset" in text for text in log_recorder.texts)
    out, err = capfd.readouterr()
    assert_no_secrets_leaked(
        stack,
        log_recorder,
        secrets,
        response_urls=slack_side.response_urls,
        http_answers=slack_side.http_answers,
        output=[out, err, caplog.text],
    )


def test_the_leak_check_finds_a_planted_secret() -> None:
    secrets = {"task token of ar-1": "AAAA-the-token-BBBB"}
    places = {"a log record": ["started", "sending AAAA-the-token-BBBB to Step Functions"]}

    leaks = find_leaks(secrets, places)

    assert len(leaks) == 1 and "task token of ar-1 in a log record" in leaks[0]
    assert "AAAA-the-token-BBBB" not in leaks[0]  # the report itself does not repeat it
