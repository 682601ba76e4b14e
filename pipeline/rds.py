"""Small, typed reads of RDS state shared by the stages: describe-or-None, tags, statuses, protection.

Every call goes through `aws_call`, so throttling becomes `AwsThrottledError` (retried by the state
machine) and anything else a `FatalError` that keeps the AWS error text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from botocore.exceptions import ClientError

from pipeline.aws_errors import aws_call, error_code
from pipeline.errors import ProtectedClusterError, ResourceFailedError

OPERATION_TAG = "aurora-restore:operation-id"
REQUESTER_TAG = "aurora-restore:requester"
PROTECTED_TAG = "aurora-restore:protected"
AVAILABLE = "available"
DELETING = "deleting"

# Statuses from which RDS does not recover by itself: waiting longer cannot help.
_FAILURE_STATUSES = frozenset(
    {"failed", "error", "restore-error", "storage-full", "insufficient-capacity"}
)
_FAILURE_PREFIXES = ("incompatible-", "inaccessible-encryption-credentials")

CLUSTER_NOT_FOUND = "DBClusterNotFoundFault"
INSTANCE_NOT_FOUND = "DBInstanceNotFound"
SNAPSHOT_NOT_FOUND = "DBClusterSnapshotNotFoundFault"


def is_failure_status(status: str) -> bool:
    return status in _FAILURE_STATUSES or status.startswith(_FAILURE_PREFIXES)


def raise_if_failed(kind: str, identifier: str, status: str) -> None:
    """Turn a failure status into `ResourceFailedError` naming the resource and its status."""
    if is_failure_status(status):
        raise ResourceFailedError(f"{kind} `{identifier}` is in status `{status}`")


def tags_of(resource: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in resource.get("TagList", [])}


def operation_tags(operation_id: str, requester: str) -> list[dict[str, str]]:
    return [
        {"Key": OPERATION_TAG, "Value": operation_id},
        {"Key": REQUESTER_TAG, "Value": requester},
    ]


def made_by(resource: Mapping[str, Any], operation_id: str) -> bool:
    """True only for resources tagged with this operation's id."""
    return tags_of(resource).get(OPERATION_TAG) == operation_id


def _describe_one(
    action: str, not_found: str, call: Any, key: str, **kwargs: Any
) -> dict[str, Any] | None:
    with aws_call(action):
        try:
            items = call(**kwargs)[key]
        except ClientError as exc:
            if error_code(exc) == not_found:
                return None
            raise
    return dict(items[0]) if items else None


def describe_cluster(rds: Any, cluster_id: str) -> dict[str, Any] | None:
    return _describe_one(
        f"describe cluster {cluster_id}",
        CLUSTER_NOT_FOUND,
        rds.describe_db_clusters,
        "DBClusters",
        DBClusterIdentifier=cluster_id,
    )


def describe_instance(rds: Any, instance_id: str) -> dict[str, Any] | None:
    return _describe_one(
        f"describe instance {instance_id}",
        INSTANCE_NOT_FOUND,
        rds.describe_db_instances,
        "DBInstances",
        DBInstanceIdentifier=instance_id,
    )


def describe_cluster_snapshot(
    rds: Any, snapshot_id: str, *, snapshot_type: str | None = None
) -> dict[str, Any] | None:
    # AWS requires SnapshotType=automated to look up an automated snapshot by its identifier.
    kwargs: dict[str, Any] = {"DBClusterSnapshotIdentifier": snapshot_id}
    if snapshot_type is not None:
        kwargs["SnapshotType"] = snapshot_type
    return _describe_one(
        f"describe snapshot {snapshot_id}",
        SNAPSHOT_NOT_FOUND,
        rds.describe_db_cluster_snapshots,
        "DBClusterSnapshots",
        **kwargs,
    )


def cluster_snapshots(rds: Any, cluster_id: str) -> Iterator[dict[str, Any]]:
    """Every manual and automated snapshot of a cluster, across all result pages."""
    paginator = rds.get_paginator("describe_db_cluster_snapshots")
    with aws_call(f"list snapshots of {cluster_id}"):
        for page in paginator.paginate(DBClusterIdentifier=cluster_id):
            yield from page.get("DBClusterSnapshots", [])


def shared_snapshot(rds: Any, snapshot_arn: str) -> dict[str, Any] | None:
    """A snapshot another account shared with this one, found by its ARN."""
    paginator = rds.get_paginator("describe_db_cluster_snapshots")
    with aws_call(f"list snapshots shared with this account ({snapshot_arn})"):
        for page in paginator.paginate(SnapshotType="shared", IncludeShared=True):
            for snapshot in page.get("DBClusterSnapshots", []):
                if snapshot.get("DBClusterSnapshotArn") == snapshot_arn:
                    return dict(snapshot)
    return None


def protection_reason(cluster: Mapping[str, Any], patterns: list[str]) -> str | None:
    """Why this cluster must never be deleted, or None when it may be replaced."""
    cluster_id = str(cluster["DBClusterIdentifier"])
    for pattern in patterns:
        if fnmatchcase(cluster_id, pattern.lower()):
            return f"it matches the protected pattern `{pattern}`"
    if tags_of(cluster).get(PROTECTED_TAG, "").lower() == "true":
        return f"it is tagged `{PROTECTED_TAG}=true`"
    if cluster.get("DeletionProtection"):
        return "deletion protection is enabled on it"
    return None


def ensure_not_protected(cluster: Mapping[str, Any], patterns: list[str]) -> None:
    reason = protection_reason(cluster, patterns)
    if reason is not None:
        raise ProtectedClusterError(
            f"`{cluster['DBClusterIdentifier']}` is protected and will not be replaced: {reason}"
        )


def member_ids(cluster: Mapping[str, Any]) -> list[str]:
    return sorted(str(m["DBInstanceIdentifier"]) for m in cluster.get("DBClusterMembers", []))
