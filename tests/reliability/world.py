"""The emulated world as an auditor would compare it before and after: RDS resources in both
regions, secrets and their versions, the Slack channel and threads, the stored operation."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from local_stack.stack import LocalStack
from local_stack.world import ENGINE, ENGINE_VERSION, MASTER_USER
from pipeline.models import OperationStatus, RestoreRequest, new_operation_id, utc_now
from pipeline.store import OperationStore


def existing_cluster(stack: LocalStack, name: str) -> str:
    """A cluster with one instance to replace (what a team's staging cluster looks like)."""
    rds = stack.clients.rds()
    rds.create_db_cluster(
        DBClusterIdentifier=name,
        Engine=ENGINE,
        EngineVersion=ENGINE_VERSION,
        MasterUsername=MASTER_USER,
        MasterUserPassword="not-a-real-password-1",
    )
    rds.create_db_instance(
        DBInstanceIdentifier=f"{name}-1",
        DBClusterIdentifier=name,
        Engine=ENGINE,
        DBInstanceClass="db.r6g.large",
    )
    return name


def create_operation(
    stack: LocalStack, operations: OperationStore, text: str, *, expires_in: int = 3600
) -> str:
    """Store an operation and lock its target as the bot does, without starting an execution:
    the test plays the state machine, or starts it with its own input."""
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
        operation_id, request, approval_expires_at=utc_now() + timedelta(seconds=expires_in)
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
    ("restore-cluster", {"step": "cluster"}),
    ("check-restore", {"attempt": 0, "wait_for": "cluster"}),
    ("restore-cluster", {"step": "instances"}),  # RDS: only once the cluster is available
    ("check-restore", {"attempt": 0, "wait_for": "instances"}),
    ("setup-database", {}),
    ("delete-copy", {}),
    ("finish", {}),
]


def _regions(stack: LocalStack) -> tuple[str, str]:
    return stack.info["region"], stack.info["seed"]["source_region"]


def clusters(stack: LocalStack) -> set[str]:
    return {
        cluster["DBClusterIdentifier"]
        for region in _regions(stack)
        for cluster in stack.clients.rds(region).describe_db_clusters()["DBClusters"]
    }


def rds_world(stack: LocalStack) -> dict[str, Any]:
    world: dict[str, Any] = {}
    for region in _regions(stack):
        rds = stack.clients.rds(region)
        for cluster in rds.describe_db_clusters()["DBClusters"]:
            members = sorted(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"])
            world[f"{region} cluster {cluster['DBClusterIdentifier']}"] = (
                cluster["Status"],
                members,
            )
        for instance in rds.describe_db_instances()["DBInstances"]:
            world[f"{region} instance {instance['DBInstanceIdentifier']}"] = instance[
                "DBInstanceStatus"
            ]
        for snapshot in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]:
            world[f"{region} snapshot {snapshot['DBClusterSnapshotIdentifier']}"] = snapshot[
                "Status"
            ]
    return world


def secrets_world(stack: LocalStack) -> dict[str, list[str]]:
    manager = stack.clients.secretsmanager
    world = {}
    for page in manager.get_paginator("list_secrets").paginate():
        for entry in page["SecretList"]:
            versions = manager.list_secret_version_ids(SecretId=entry["ARN"])["Versions"]
            world[entry["Name"]] = sorted(version["VersionId"] for version in versions)
    return world


def slack_world(stack: LocalStack) -> dict[str, Any]:
    channel = stack.info["channel_id"]
    messages = stack.slack.messages(channel)
    return {
        "messages": [message["ts"] for message in messages],
        "threads": {
            message["ts"]: [
                reply.get("text", "") for reply in stack.slack.replies(channel, message["ts"])
            ]
            for message in messages
        },
        "ephemerals": len(stack.slack.ephemerals(channel)),
    }


def operation_world(operations: OperationStore, operation_id: str) -> dict[str, Any]:
    operation = operations.get(operation_id)
    return {
        "status": operation.status,
        "stages": {stage: record.status for stage, record in operation.stages.items()},
        "resources": operation.resources,
        "lock": operations.lock_holder(operation.target_cluster),
        "audit": Counter(event.action for event in operations.audit_events(operation_id)),
    }


def world(stack: LocalStack, operations: OperationStore, operation_id: str) -> dict[str, Any]:
    """Everything a repeated invocation could have changed, once progress has been delivered."""
    assert stack.wait_for_progress_delivered(timeout=30)
    return {
        "rds": rds_world(stack),
        "secrets": secrets_world(stack),
        "slack": slack_world(stack),
        "operation": operation_world(operations, operation_id),
    }


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """Where two world snapshots differ, as readable paths (for assertion messages)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after), key=str):
            found += differences(before.get(key), after.get(key), f"{path}/{key}")
        return found
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"]
