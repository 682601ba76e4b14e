"""The emulated world as an auditor would compare it before and after: RDS resources in both
regions, secrets and their versions, the Slack channel and threads, the stored operation."""

from __future__ import annotations

from collections import Counter
from typing import Any

from local_stack.stack import LocalStack
from local_stack.world import ENGINE, ENGINE_VERSION, MASTER_USER
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
