"""Races through the real HTTP endpoint: many people acting on one target or one card at the same
moment get one outcome, told consistently everywhere (store, execution, audit, card, lock)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from urllib.parse import urlencode

import pytest

from local_stack.scenario import APPROVE, Driver, wait_for
from local_stack.stack import LocalStack
from pipeline.models import OperationStatus
from pipeline.store import OperationStore
from tests.reliability.outcomes import (
    all_at_once,
    assert_one_consistent_outcome,
    new_operation,
)
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
N = 6


def history_counts(driver: Driver, operation_id: str) -> Counter[str]:
    arn = driver.execution(operation_id)["executionArn"]
    events = driver.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return Counter(event["type"] for event in events)


def started_executions(driver: Driver, operation_ids: set[str]) -> list[str]:
    listing = driver.sfn.list_executions(stateMachineArn=driver.info["state_machine_arn"])
    return [e["name"] for e in listing["executions"] if e["name"] in operation_ids]


def test_concurrent_requests_for_one_target_start_one_restore(
    stack: LocalStack, driver: Driver, operations: OperationStore
) -> None:
    info = stack.info
    requester, target = info["users"]["requester"], "race-one-target"
    text = f"{info['seed']['snapshot']} {target}"
    urls = [driver.slack.response_url() for _ in range(N)]

    replies = all_at_once(
        [partial(driver.slack.slash_command, requester, text, response_url=url) for url in urls]
    )

    assert [reply.status for reply in replies] == [200] * N
    operation_ids = {driver.operation_id_from(url) for url in urls}
    answers = [driver.responses(url)[0]["text"] for url in urls]
    accepted = [a for a in answers if a.startswith(":white_check_mark: Restore requested")]
    assert len(accepted) == 1, answers
    winner = next(op for op in operation_ids if op in accepted[0])
    assert all(a.startswith(":lock:") and winner in a for a in answers if a not in accepted)
    assert started_executions(driver, operation_ids) == [winner]
    assert operations.lock_holder(target) == winner
    for operation_id in operation_ids - {winner}:
        refused = operations.get(operation_id)
        assert refused.status == OperationStatus.FAILED and "locked" in (refused.error or "")
    reply, _ = driver.request(requester, f"cancel {winner}")
    assert reply.status == 200
    assert assert_one_consistent_outcome(driver, operations, winner).status == (
        OperationStatus.CANCELLED
    )


def test_repeats_of_one_command_make_one_operation(
    stack: LocalStack, driver: Driver, operations: OperationStore
) -> None:
    """Slack retries a slow command with the same body: the copies race in the lazy work."""
    info = stack.info
    url = driver.slack.response_url()
    fields = {
        "command": "/restore",
        "text": f"{info['seed']['snapshot']} race-repeats",
        "user_id": info["users"]["requester"],
        "team_id": info["team_id"],
        "channel_id": info["channel_id"],
        "response_url": url,
        "trigger_id": f"{time.time():.6f}",
    }
    body, now = urlencode(fields), int(time.time())

    replies = all_at_once([lambda: driver.slack.post(body, timestamp=now) for _ in range(N)])

    assert [reply.status for reply in replies] == [200] * N
    operation_id = driver.operation_id_from(url)
    driver.card(operation_id)
    stack.runtime.wait_idle(timeout=30)
    assert started_executions(driver, {operation_id}) == [operation_id]
    operation = operations.get(operation_id)
    assert operation.status == OperationStatus.PENDING_APPROVAL, operation.error
    assert operations.lock_holder("race-repeats") == operation_id
    cards = [m for m in stack.slack.messages(info["channel_id"]) if operation_id in str(m)]
    assert len(cards) == 1
    reply, _ = driver.request(info["users"]["requester"], f"cancel {operation_id}")
    assert reply.status == 200
    assert assert_one_consistent_outcome(driver, operations, operation_id).status == (
        OperationStatus.CANCELLED
    )


def test_concurrent_approvals_of_one_card_decide_once(
    stack: LocalStack, driver: Driver, operations: OperationStore
) -> None:
    info, users = stack.info, stack.info["users"]
    operation_id = new_operation(driver, f"{info['seed']['snapshot']} race-approvals")
    card = driver.card(operation_id)
    clickers = [users["approver"], users["second_approver"]] * (N // 2) + [
        users["outsider"],
        users["requester"],
    ]

    replies = all_at_once([partial(driver.click, who, card, APPROVE) for who in clickers])

    assert [reply.status for reply in replies] == [200] * len(clickers)
    operation = assert_one_consistent_outcome(driver, operations, operation_id)
    assert operation.status == OperationStatus.SUCCEEDED
    assert operation.decided_by in {users["approver"], users["second_approver"]}
    audit = Counter(event.action for event in operations.audit_events(operation_id))
    assert audit["approval.decided"] == 1
    assert audit["approval.approved"] == len(operation.approvers) <= 2
    history = history_counts(driver, operation_id)
    assert history["TaskSucceeded"] == 1  # one SendTaskSuccess resumed the workflow
    assert history["TaskFailed"] == 0


def test_approve_racing_cancel_has_one_outcome(
    stack: LocalStack, driver: Driver, operations: OperationStore
) -> None:
    info, users = stack.info, stack.info["users"]
    operation_ids = [
        new_operation(driver, f"{info['seed']['snapshot']} race-cancel-{n}") for n in range(2)
    ]
    cards = [driver.card(operation_id) for operation_id in operation_ids]

    approvals = [partial(driver.click, users["approver"], card, APPROVE) for card in cards]
    cancels = [partial(driver.request, users["requester"], f"cancel {op}") for op in operation_ids]
    racing: list[Callable[[], object]] = [*approvals, *cancels]

    all_at_once(racing)

    for operation_id in operation_ids:
        operation = assert_one_consistent_outcome(driver, operations, operation_id)
        assert operation.status in {OperationStatus.CANCELLED, OperationStatus.SUCCEEDED}
        if operation.status == OperationStatus.CANCELLED:
            assert operation.cancelled_by == users["requester"]


def test_a_stage_in_flight_when_the_restore_is_cancelled_acts_no_more(
    stack: LocalStack, driver: Driver, operations: OperationStore
) -> None:
    """StopExecution cannot stop a Lambda invocation already running. The approve/cancel race made
    deterministic: the stages' invocations arrive after the cancel and must not copy, delete,
    restore or set up anything."""
    seed, users = stack.info["seed"], stack.info["users"]
    target = existing_cluster(stack, "race-in-flight")
    operation_id = create_operation(
        stack, operations, f"{seed['cross_region_snapshot_arn']} {target} --replace"
    )
    invoke(stack, "validate", {"operation_id": operation_id})
    approve_in_store(operations, operation_id, users["approver"])
    invoke(stack, "lifecycle", {"operation_id": operation_id, "action": "begin"})
    reply, _ = driver.request(users["requester"], f"cancel {operation_id}")
    assert reply.status == 200
    wait_for(
        "the cancel to be recorded",
        lambda: operations.get(operation_id).status == OperationStatus.CANCELLED,
        timeout=30,
    )
    before = world(stack, operations, operation_id)

    late = {
        function: stack.runtime.invoke(
            f"aurora-restore-{function}", {"operation_id": operation_id, **extra}
        ).error_type
        for function, extra in PIPELINE
        if function not in {"lifecycle", "finish"}
    }

    assert late == dict.fromkeys(late, "InvalidTransitionError")
    assert differences(before, world(stack, operations, operation_id)) == []
    cluster = driver.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0]
    assert [m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]] == [f"{target}-1"]
    assert operations.lock_holder(target) is None
