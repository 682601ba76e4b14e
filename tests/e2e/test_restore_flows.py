"""The whole system on the local stack, driven through signed Slack HTTP requests and read back
through the Slack Web API and boto3, as a person and an auditor would."""

from __future__ import annotations

import boto3
import pytest

from local_stack.scenario import APPROVE, DENY, Driver, wait_for
from local_stack.stack import LocalStack
from pipeline.models import OperationStatus, Stage, StageStatus
from pipeline.store import OperationStore
from tests.e2e.flows import card_of, card_text, click, request_restore, wait_for_thread

pytestmark = pytest.mark.e2e


def _approve_and_finish(driver: Driver, operation_id: str) -> dict:
    click(driver, operation_id, APPROVE, driver.info["users"]["approver"])
    return driver.wait_for_execution_end(operation_id)


def test_replace_restore_succeeds_and_keeps_a_final_snapshot(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    seed = driver.info["seed"]
    target = seed["existing_target"]
    operation_id = request_restore(driver, f"{seed['snapshot']} {target} --replace --instances 2")

    execution = _approve_and_finish(driver, operation_id)

    assert execution["status"] == "SUCCEEDED"
    texts = wait_for_thread(driver, operation_id, "Restore succeeded")
    for stage in ("Delete existing target", "Restore cluster and instances", "Clean up"):
        assert any(stage in text for text in texts), f"no thread reply for {stage}"
    cluster = driver.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0]
    assert cluster["Status"] == "available"
    assert sorted(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]) == [
        f"{target}-1",
        f"{target}-2",
    ]
    final = driver.rds.describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=f"{target}-final-{operation_id}"
    )["DBClusterSnapshots"]
    assert final[0]["Status"] == "available"
    source = driver.rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=seed["snapshot"])
    assert source["DBClusterSnapshots"][0]["Status"] == "available"
    operation = operations.get(operation_id)
    assert operation.status == OperationStatus.SUCCEEDED
    assert operation.approvers == [driver.info["users"]["approver"]]
    assert operations.lock_holder(target) is None
    actions = [event.action for event in operations.audit_events(operation_id)]
    for expected in ("delete_target.succeeded", "restore_cluster.succeeded", "operation.succeeded"):
        assert expected in actions
    card = card_of(driver, operation_id)
    assert not [b for b in card["blocks"] if b["type"] == "actions"]  # buttons replaced by outcome
    assert "is ready" in card_text(driver, operation_id)


def test_cross_region_snapshot_is_copied_then_the_copy_archived(
    driver: Driver, operations: OperationStore
) -> None:
    arn = driver.info["seed"]["cross_region_snapshot_arn"]
    operation_id = request_restore(driver, f"{arn} dr-rehearsal")

    execution = _approve_and_finish(driver, operation_id)

    assert execution["status"] == "SUCCEEDED"
    operation = operations.get(operation_id)
    assert operation.stages[Stage.COPY_SNAPSHOT].status == StageStatus.SUCCEEDED
    assert operation.stages[Stage.DELETE_COPY].status == StageStatus.SUCCEEDED
    local_snapshots = driver.rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
    assert not [s for s in local_snapshots if operation_id in s["DBClusterSnapshotIdentifier"]]
    remote = boto3.client(
        "rds",
        region_name=driver.info["seed"]["source_region"],
        endpoint_url=driver.info["aws_endpoint_url"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    source = remote.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=arn.split(":")[-1])
    assert source["DBClusterSnapshots"][0]["Status"] == "available"  # the source is untouched
    wait_for_thread(driver, operation_id, "Copy snapshot")


def test_denied_restore_changes_nothing(driver: Driver, operations: OperationStore) -> None:
    seed = driver.info["seed"]
    target = seed["existing_target"]
    before = driver.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0]
    operation_id = request_restore(driver, f"{seed['snapshot']} {target} --replace")

    click(driver, operation_id, DENY, driver.info["users"]["approver"])
    execution = driver.wait_for_execution_end(operation_id)

    assert execution["status"] == "FAILED"
    assert execution.get("error") == "ApprovalDenied"
    assert operations.get(operation_id).status == OperationStatus.DENIED
    assert operations.lock_holder(target) is None
    after = driver.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0]
    assert after["ClusterCreateTime"] == before["ClusterCreateTime"]
    assert "Denied" in card_text(driver, operation_id)


def test_cancel_while_waiting_for_approval(driver: Driver, operations: OperationStore) -> None:
    seed = driver.info["seed"]
    operation_id = request_restore(driver, f"{seed['snapshot']} fresh-copy")
    driver.card(operation_id)

    reply, _ = driver.request(driver.info["users"]["requester"], f"cancel {operation_id}")
    assert reply.status == 200
    execution = driver.wait_for_execution_end(operation_id)

    assert execution["status"] == "FAILED"
    assert execution.get("error") == "RestoreCancelled"
    operation = operations.get(operation_id)
    assert operation.status == OperationStatus.CANCELLED
    assert operation.cancelled_by == driver.info["users"]["requester"]
    assert operations.lock_holder("fresh-copy") is None
    assert "Cancelled" in card_text(driver, operation_id)
    assert driver.rds.describe_db_clusters()["DBClusters"]  # world intact
    assert "fresh-copy" not in {
        c["DBClusterIdentifier"] for c in driver.rds.describe_db_clusters()["DBClusters"]
    }


def test_permanent_stage_failure_fails_loudly_and_keeps_the_final_snapshot(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    seed = driver.info["seed"]
    target = seed["existing_target"]
    stack.faults.restored_cluster_status("incompatible-parameters")
    operation_id = request_restore(driver, f"{seed['snapshot']} {target} --replace")

    execution = _approve_and_finish(driver, operation_id)

    assert execution["status"] == "FAILED"
    assert execution.get("error") == "RestoreFailed"
    texts = wait_for_thread(driver, operation_id, "Restore failed")
    assert any("incompatible-parameters" in text for text in texts)
    operation = operations.get(operation_id)
    assert operation.status == OperationStatus.FAILED
    assert operation.error and "incompatible-parameters" in operation.error
    assert operations.lock_holder(target) is None
    final = driver.rds.describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=f"{target}-final-{operation_id}"
    )["DBClusterSnapshots"]
    assert final[0]["Status"] == "available"  # the replaced cluster's data is kept
    actions = [event.action for event in operations.audit_events(operation_id)]
    assert actions.index("delete_target.succeeded") < actions.index("operation.failed")


def test_transient_throttling_is_retried_to_success(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    seed = driver.info["seed"]
    # More throttles than the SDK's own attempts: the state machine's Retry must absorb them.
    stack.faults.throttle("restore_db_cluster_from_snapshot", 3)
    operation_id = request_restore(driver, f"{seed['snapshot']} throttled-target")

    execution = _approve_and_finish(driver, operation_id)

    assert execution["status"] == "SUCCEEDED"
    assert stack.faults.injected["throttle:restore_db_cluster_from_snapshot"] == 3
    assert operations.get(operation_id).status == OperationStatus.SUCCEEDED
    assert card_of(driver, operation_id)


def test_an_instance_class_rds_would_refuse_is_refused_before_anyone_is_asked(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    seed = driver.info["seed"]
    asked = f"{seed['snapshot']} fresh-class --instance-class db.r8g.large"  # PostgreSQL 15.8+
    operation_id = request_restore(driver, asked)

    execution = driver.wait_for_execution_end(operation_id)

    assert execution["status"] == "FAILED"
    refusal = "`db.r8g.large` is not offered for aurora-postgresql 15.4 in us-east-1"
    operation = operations.get(operation_id)
    assert operation.status == OperationStatus.FAILED
    assert operation.error and refusal in operation.error
    assert operation.slack_message_ts is None  # no approval card: nobody was asked to approve

    def told() -> list[str] | None:
        texts = [str(e.get("text", "")) for e in stack.slack.ephemerals(driver.info["channel_id"])]
        found = [t for t in texts if operation_id in t and refusal in t]
        return found or None

    assert "--instance-class one of" in wait_for("the requester told why", told, 30)[0]
    assert operations.lock_holder("fresh-class") is None
    clusters = driver.rds.describe_db_clusters()["DBClusters"]
    assert "fresh-class" not in {c["DBClusterIdentifier"] for c in clusters}
