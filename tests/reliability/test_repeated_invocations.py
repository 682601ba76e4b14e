"""Lambda may run a function twice with the same event (an async retry, a Step Functions retry after
a timeout). Every handler, invoked twice in a row through the local stack's Lambda runtime, acts
once: the second invocation leaves AWS, Secrets Manager, Slack and the stored operation as the
first one left them."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest

from local_stack.functions import NOTIFIER_FUNCTION
from local_stack.stack import LocalStack
from pipeline.models import (
    OperationStatus,
    ProgressEvent,
    RestoreRequest,
    Stage,
    StageStatus,
    new_operation_id,
    utc_now,
)
from pipeline.store import OperationStore
from tests.reliability.world import differences, existing_cluster, world

pytestmark = pytest.mark.e2e


def create_operation(stack: LocalStack, operations: OperationStore, text: str) -> str:
    """Store an operation and lock its target as the bot does, without starting an execution:
    the test plays the state machine, one handler at a time."""
    snapshot, target, *flags = text.split()
    info = stack.info
    request = RestoreRequest(
        snapshot=snapshot,
        target_cluster=target,
        replace="--replace" in flags,
        requester=info["users"]["requester"],
        origin={"channel_id": info["channel_id"], "team_id": info["team_id"]},
    )
    operation_id = new_operation_id()
    operations.create(
        operation_id, request, approval_expires_at=utc_now() + timedelta(seconds=3600)
    )
    operations.acquire_lock(target, operation_id, ttl_seconds=3600)
    return operation_id


def invoke(stack: LocalStack, function: str, event: dict[str, Any]) -> bytes:
    result = stack.runtime.invoke(f"aurora-restore-{function}", event)
    assert result.error_type is None, result.payload
    return result.payload


def approve_in_store(operations: OperationStore, operation_id: str, approver: str) -> None:
    operations.add_approval(operation_id, approver)
    operations.transition(
        operation_id,
        OperationStatus.APPROVED,
        expected={OperationStatus.PENDING_APPROVAL},
        decided_by=approver,
    )


# The pipeline in order: (function, extra event fields). Check functions get attempt 0: each is
# ready at once in the emulated world, so both invocations see the same state.
PIPELINE: list[tuple[str, dict[str, Any]]] = [
    ("lifecycle", {"action": "begin"}),
    ("copy-snapshot", {}),
    ("check-copy", {"attempt": 0}),
    ("delete-target", {}),
    ("check-delete", {"attempt": 0}),
    ("restore-cluster", {}),
    ("check-restore", {"attempt": 0}),
    ("setup-database", {}),
    ("archive", {}),
    ("notify", {}),
]


# Functions whose output the state machine reads (Choice states, Retry loops); the others' output
# goes to `$.last`, which nothing reads (the archive says what *this* invocation deleted).
OUTPUT_READ = {"validate", "lifecycle", "check-copy", "check-delete", "check-restore", "notify"}


def test_every_stage_invoked_twice_with_the_same_event_acts_once(
    stack: LocalStack, operations: OperationStore
) -> None:
    seed = stack.info["seed"]
    target = existing_cluster(stack, "staging-twice")
    operation_id = create_operation(
        stack, operations, f"{seed['cross_region_snapshot_arn']} {target} --replace"
    )
    token = f"local-token-{secrets.token_hex(16)}"
    steps: list[tuple[str, dict[str, Any]]] = [
        ("validate", {}),
        ("request-approval", {"task_token": token}),
        *PIPELINE,
    ]

    for function, extra in steps:
        if function == "lifecycle":  # the approval, as the bot records it
            approve_in_store(operations, operation_id, stack.info["users"]["approver"])
        event = {"operation_id": operation_id, **extra}
        first = invoke(stack, function, event)
        after_first = world(stack, operations, operation_id)
        second = invoke(stack, function, event)

        if function in OUTPUT_READ:
            assert second == first, function
        changed = differences(after_first, world(stack, operations, operation_id))
        assert not changed, f"{function} acted again: {changed}"

    final = operations.get(operation_id)
    assert final.status == OperationStatus.SUCCEEDED
    cards = [m for m in stack.slack.messages(stack.info["channel_id"]) if operation_id in str(m)]
    assert len(cards) == 1


@pytest.mark.parametrize("action", ["fail", "deny", "expire", "cancel"])
def test_a_terminal_lifecycle_action_invoked_twice_records_one_outcome(
    stack: LocalStack, operations: OperationStore, action: str
) -> None:
    target = f"twice-{action}"
    operation_id = create_operation(stack, operations, f"{stack.info['seed']['snapshot']} {target}")
    event = {
        "operation_id": operation_id,
        "action": action,
        "error": {"Error": "RestoreFailed", "Cause": "a permanent AWS error"},
    }

    first, second = invoke(stack, "lifecycle", event), invoke(stack, "lifecycle", event)

    assert first == second
    operation = operations.get(operation_id)
    assert operation.status.is_terminal and operations.lock_holder(target) is None
    actions = [e.action for e in operations.audit_events(operation_id)]
    assert actions.count(f"operation.{operation.status.lower()}") == 1
    assert actions.count("notify.failed") == 1


def test_the_notifier_invoked_twice_with_one_event_replies_once(
    stack: LocalStack, operations: OperationStore
) -> None:
    operation_id = create_operation(
        stack, operations, f"{stack.info['seed']['snapshot']} twice-notified"
    )
    stack.runtime.invoke(
        "aurora-restore-request-approval",
        {"operation_id": operation_id, "task_token": f"local-token-{secrets.token_hex(16)}"},
    )
    card_ts = operations.get(operation_id).slack_message_ts
    assert card_ts is not None
    before = stack.slack.replies(stack.info["channel_id"], card_ts)
    progress = ProgressEvent.for_stage(
        operation_id, Stage.VALIDATE, StageStatus.SUCCEEDED, "Plan checked twice"
    )
    record = {
        "messageId": secrets.token_hex(8),
        "body": progress.model_dump_json(),
        "attributes": {"MessageGroupId": operation_id},
    }

    answers = [stack.runtime.invoke(NOTIFIER_FUNCTION, {"Records": [record]}) for _ in range(2)]

    assert all(answer.error_type is None for answer in answers)
    assert all(b'"batchItemFailures": []' in answer.payload for answer in answers)
    after = stack.slack.replies(stack.info["channel_id"], card_ts)
    new = [reply["text"] for reply in after[len(before) :]]
    assert len(new) == 1 and "Plan checked twice" in new[0], new
    operations.transition(
        operation_id, OperationStatus.CANCELLED, expected={OperationStatus.PENDING_APPROVAL}
    )
    operations.release_lock("twice-notified", operation_id)
