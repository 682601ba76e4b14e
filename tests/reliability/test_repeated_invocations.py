"""Lambda may run a function twice with the same event: an asynchronous invocation is retried, and
Step Functions retries a task whose invocation reported an error after the work was done
(`Lambda.ServiceException`). Every handler, invoked twice in a row through the local stack's
Lambda runtime, acts once: the second invocation leaves AWS, Secrets Manager, Slack and the stored
operation as the first one left them."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from local_stack.functions import NOTIFIER_FUNCTION
from local_stack.stack import LocalStack
from pipeline.models import (
    OperationStatus,
    ProgressEvent,
    Stage,
    StageStatus,
)
from pipeline.store import OperationStore
from tests.reliability.world import (
    PIPELINE,
    approve_in_store,
    create_operation,
    differences,
    existing_cluster,
    invoke,
    world,
)

pytestmark = pytest.mark.e2e


# Functions whose output the state machine reads (Choice states, Retry loops); the others' output
# goes to `$.last`, which nothing reads (the copy's deletion says what *this* invocation deleted).
OUTPUT_READ = {"validate", "lifecycle", "check-copy", "check-delete", "check-restore", "finish"}


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
    assert stack.wait_for_progress_delivered(timeout=30)  # the approval stage's own reply
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
