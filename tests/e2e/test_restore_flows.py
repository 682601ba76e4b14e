"""The whole system on the local stack, driven through signed Slack HTTP requests and read back
through the Slack Web API and boto3, as a person and an auditor would."""

from __future__ import annotations

import re

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


def _members(driver: Driver, cluster_id: str) -> list[str]:
    cluster = driver.rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
    return sorted(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"])


def test_replace_swaps_in_the_restored_cluster_and_keeps_the_old_one_stopped(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    seed = driver.info["seed"]
    target = seed["existing_target"]
    old = driver.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0]
    old_members = _members(driver, target)
    operation_id = request_restore(driver, f"{seed['snapshot']} {target} --replace --instances 2")

    execution = _approve_and_finish(driver, operation_id)

    assert execution["status"] == "SUCCEEDED"
    texts = wait_for_thread(driver, operation_id, "Restore succeeded")
    for stage in ("Restore cluster and instances", "Swap in the restored cluster", "Clean up"):
        assert any(stage in text for text in texts), f"no thread reply for {stage}"
    swapped = next(text for text in texts if "is now the restored cluster" in text)
    assert re.search(r"did not answer for \d+(\.\d+)? s during the swap", swapped), swapped
    suffix = operation_id.rsplit("-", 1)[-1]
    kept_id = f"{target}-old-{suffix}"
    assert kept_id in swapped
    # The target's name, endpoint and instance names now belong to the restored cluster.
    new = driver.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0]
    assert new["Status"] == "available"
    assert new["DbClusterResourceId"] != old["DbClusterResourceId"]
    assert new["Endpoint"] == old["Endpoint"]  # the same DNS name for the applications
    assert {t["Key"]: t["Value"] for t in new["TagList"]}["aurora-restore:operation-id"] == (
        operation_id
    )
    assert _members(driver, target) == [f"{target}-1", f"{target}-2"]
    # The old cluster is kept, stopped, with its own instances under kept names.
    kept = driver.rds.describe_db_clusters(DBClusterIdentifier=kept_id)["DBClusters"][0]
    assert kept["DbClusterResourceId"] == old["DbClusterResourceId"]
    assert kept["Status"] == "stopped"
    kept_tags = {t["Key"]: t["Value"] for t in kept["TagList"]}
    assert kept_tags["aurora-restore:kept-by"] == operation_id
    assert "aurora-restore:keep-until" in kept_tags
    assert _members(driver, kept_id) == [f"{kept_id}-{n}" for n in range(1, len(old_members) + 1)]
    # Nothing was deleted, so no final snapshot was needed; no staging name is left.
    names = {c["DBClusterIdentifier"] for c in driver.rds.describe_db_clusters()["DBClusters"]}
    assert f"{target}-new-{suffix}" not in names
    operation = operations.get(operation_id)
    assert operation.status == OperationStatus.SUCCEEDED
    assert float(operation.resources["target_unavailable_seconds"]) >= 0
    assert operations.lock_holder(target) is None
    actions = [event.action for event in operations.audit_events(operation_id)]
    for expected in ("restore_cluster.succeeded", "swap.succeeded", "operation.succeeded"):
        assert expected in actions
    assert "delete_target.succeeded" not in actions
    assert "is ready" in card_text(driver, operation_id)


def test_in_place_replace_snapshots_the_target_before_deleting_it(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    seed = driver.info["seed"]
    target = seed["existing_target"]
    operation_id = request_restore(
        driver, f"{seed['snapshot']} {target} --replace --in-place --instances 2"
    )

    execution = _approve_and_finish(driver, operation_id)

    assert execution["status"] == "SUCCEEDED"
    wait_for_thread(driver, operation_id, "Restore succeeded")
    assert _members(driver, target) == [f"{target}-1", f"{target}-2"]
    for name in (
        f"{target}-before-{operation_id.rsplit('-', 1)[-1]}",
        f"{target}-final-{operation_id}",
    ):
        found = driver.rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=name)
        assert found["DBClusterSnapshots"][0]["Status"] == "available", name
    events = operations.audit_events(operation_id)
    actions = [event.action for event in events]
    assert "delete_target.succeeded" in actions
    assert "swap.succeeded" not in actions
    safety = driver.rds.describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=f"{target}-before-{operation_id.rsplit('-', 1)[-1]}"
    )["DBClusterSnapshots"][0]
    final = driver.rds.describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=f"{target}-final-{operation_id}"
    )["DBClusterSnapshots"][0]
    assert safety["SnapshotCreateTime"] <= final["SnapshotCreateTime"]


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


def test_a_restore_that_fails_beside_the_target_leaves_the_target_untouched(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    seed = driver.info["seed"]
    target = seed["existing_target"]
    before = driver.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0]
    members = _members(driver, target)
    stack.faults.restored_cluster_status("incompatible-parameters")
    operation_id = request_restore(driver, f"{seed['snapshot']} {target} --replace")

    execution = _approve_and_finish(driver, operation_id)

    assert execution["status"] == "FAILED"
    assert execution.get("error") == "RestoreFailed"
    texts = wait_for_thread(driver, operation_id, "Restore failed")
    failure = next(text for text in texts if "Restore failed" in text)
    assert "incompatible-parameters" in failure
    assert f"`{target}` was not touched" in failure
    operation = operations.get(operation_id)
    assert operation.status == OperationStatus.FAILED
    assert operation.error and "incompatible-parameters" in operation.error
    assert operations.lock_holder(target) is None
    after = driver.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0]
    assert after["DbClusterResourceId"] == before["DbClusterResourceId"]
    assert after["Status"] == "available"
    assert _members(driver, target) == members
    actions = [event.action for event in operations.audit_events(operation_id)]
    assert "delete_target.succeeded" not in actions


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
