"""What Slack refuses, on the whole local stack: a channel the app is not in (from the start, or
from the middle of a restore on), and texts longer than Block Kit allows. Each ends with a clear
message to the right person and nothing half-done."""

from __future__ import annotations

import pytest

from local_stack.scenario import APPROVE, Driver, wait_for
from local_stack.stack import LocalStack
from pipeline.models import OperationStatus
from pipeline.store import OperationStore
from tests.e2e.flows import request_restore

pytestmark = pytest.mark.e2e

ELSEWHERE = "C0ELSEWHERE"


def test_a_request_from_a_channel_the_app_is_not_in_tells_the_requester_how_to_fix_it(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    stack.slack.add_channel(ELSEWHERE, "elsewhere", bot_is_member=False)
    seed, requester = driver.info["seed"], driver.info["users"]["requester"]
    response_url = driver.slack.response_url()

    reply = driver.slack.slash_command(
        requester,
        f"{seed['snapshot']} elsewhere-db",
        response_url=response_url,
        channel_id=ELSEWHERE,
    )
    assert reply.status == 200, reply.body
    operation_id = driver.operation_id_from(response_url)

    def explanation() -> str | None:
        texts = [str(r.get("text", "")) for r in driver.responses(response_url)]
        return next((t for t in texts if "/invite @aurora-restore" in t), None)

    text = wait_for("the requester to be told why no card came", explanation, 60)
    assert operation_id in text and "not a member" in text and "Nothing was changed" in text
    assert driver.wait_for_execution_end(operation_id)["status"] == "FAILED"
    operation = operations.get(operation_id)
    assert operation.status == OperationStatus.FAILED
    assert operations.lock_holder("elsewhere-db") is None
    assert stack.slack.messages(ELSEWHERE) == []
    # The token-holding response_url is the operation's own: not in the audit trail.
    assert response_url not in str([e.detail for e in operations.audit_events(operation_id)])


def test_a_snapshot_arn_longer_than_the_confirm_dialog_still_gets_a_card(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    seed = driver.info["seed"]
    long_id = ("prod-orders-nightly-" + "x" * 240)[:250] + "-0001"  # within prod-*
    driver.rds.create_db_cluster_snapshot(
        DBClusterIdentifier=seed["source_cluster"], DBClusterSnapshotIdentifier=long_id
    )
    arn = driver.rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=long_id)[
        "DBClusterSnapshots"
    ][0]["DBClusterSnapshotArn"]
    target = seed["existing_target"]

    operation_id = request_restore(driver, f"{arn} {target} --replace")

    card = driver.card(operation_id)
    [approve] = [
        e
        for b in card["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == APPROVE
    ]
    confirm = approve["confirm"]["text"]["text"]
    assert len(confirm) <= 300
    assert arn[:30] in confirm and arn[-30:] in confirm and target in confirm
    assert "the existing cluster is kept, stopped" in confirm
    assert arn in str(card["blocks"])  # the card itself shows the whole reference
    assert operations.get(operation_id).status == OperationStatus.PENDING_APPROVAL


def test_the_app_removed_from_the_channel_mid_restore_the_requester_learns_the_outcome_in_a_dm(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    seed, users = driver.info["seed"], driver.info["users"]
    operation_id = request_restore(driver, f"{seed['snapshot']} staging-app-removed")
    card = driver.card(operation_id)
    # Someone removes the app from #db-restores while the request waits for approval.
    stack.slack.set_bot_membership(driver.info["channel_id"], False)

    reply = driver.click(users["approver"], card, APPROVE)

    assert reply.status == 200, reply.body
    assert driver.wait_for_execution_end(operation_id)["status"] == "SUCCEEDED"
    assert stack.wait_for_progress_delivered(), "progress was dead-lettered or is still queued"
    [dm] = stack.slack.direct_messages(users["requester"])  # once, though every reply was refused
    assert operation_id in dm["text"] and "*Restore succeeded.*" in dm["text"]
    assert "the app is no longer in that channel" in dm["text"]
    assert operations.get(operation_id).status == OperationStatus.SUCCEEDED
