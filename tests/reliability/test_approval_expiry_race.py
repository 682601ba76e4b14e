"""Approve racing the approval's expiry: clicks just before, at and just after the deadline each end
in one consistent outcome (approved and restored, or expired), never both and never neither.

The shared stack's policy gives approvers an hour; these restores are started the way the bot
starts them, with the approval expiring after the policy's minimum instead."""

from __future__ import annotations

import json
import time
from datetime import datetime
from functools import partial

import pytest

from local_stack.scenario import APPROVE, Driver
from local_stack.stack import LocalStack
from pipeline.models import OperationStatus
from pipeline.store import OperationStore
from tests.reliability.outcomes import all_at_once, assert_one_consistent_outcome
from tests.reliability.world import create_operation

pytestmark = pytest.mark.e2e
EXPIRY_SECONDS = 5  # the policy's minimum
# Seconds after the deadline (negative: before it) at which each operation's card is clicked.
CLICK_OFFSETS = (-1.5, -0.1, -0.03, 0.2)


def start_with_short_expiry(
    stack: LocalStack, driver: Driver, operations: OperationStore, target: str
) -> str:
    """The bot's start of a restore (operation, lock, execution) with a short approval expiry."""
    snapshot = stack.info["seed"]["snapshot"]
    operation_id = create_operation(
        stack, operations, f"{snapshot} {target}", expires_in=EXPIRY_SECONDS
    )
    execution = driver.sfn.start_execution(
        stateMachineArn=stack.info["state_machine_arn"],
        name=operation_id,
        input=json.dumps(
            {"operation_id": operation_id, "approval_timeout_seconds": EXPIRY_SECONDS}
        ),
    )
    operations.update(operation_id, execution_arn=execution["executionArn"])
    driver.card(operation_id)
    return operation_id


def approval_deadline(driver: Driver, operation_id: str) -> float:
    """When Step Functions times the approval task out (epoch seconds)."""
    arn = driver.execution(operation_id)["executionArn"]
    events = driver.sfn.get_execution_history(executionArn=arn)["events"]
    scheduled = next(e for e in events if e["type"] in {"TaskScheduled", "TaskSubmitted"})
    moment: datetime = scheduled["timestamp"]
    return moment.timestamp() + EXPIRY_SECONDS


def test_approvals_near_the_deadline_have_one_outcome(
    stack: LocalStack, driver: Driver, operations: OperationStore
) -> None:
    info = stack.info
    operation_ids = [
        start_with_short_expiry(stack, driver, operations, f"race-expiry-{n}")
        for n in range(len(CLICK_OFFSETS))
    ]
    cards = {op: driver.card(op) for op in operation_ids}
    deadlines = {op: approval_deadline(driver, op) for op in operation_ids}

    def click_at(operation_id: str, offset: float) -> None:
        time.sleep(max(0.0, deadlines[operation_id] + offset - time.time()))
        reply = driver.click(info["users"]["approver"], cards[operation_id], APPROVE)
        assert reply.status == 200

    all_at_once(
        [
            partial(click_at, op, offset)
            for op, offset in zip(operation_ids, CLICK_OFFSETS, strict=True)
        ]
    )

    outcomes = {}
    for operation_id in operation_ids:
        operation = assert_one_consistent_outcome(driver, operations, operation_id)
        assert operation.status in {OperationStatus.SUCCEEDED, OperationStatus.EXPIRED}
        outcomes[operation_id] = operation.status
    # Well before the deadline the approval wins; well after, the expiry (moto times out on time).
    assert outcomes[operation_ids[0]] == OperationStatus.SUCCEEDED
