"""RDS's rules for cluster snapshots, which moto does not keep: the manual snapshot quota, the
copies in progress, snapshots used only when available, and how long snapshots and copies take.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from moto.rds.exceptions import RDSClientError
from moto.rds.models import RDSBackend

from local_stack.rds_timeline import (
    AVAILABLE,
    CLUSTER_SNAPSHOT_SECONDS,
    SNAPSHOT_COPY_SECONDS,
    current,
    refuse,
)

# "Manual DB cluster snapshots: 100 per Region" (adjustable), Aurora user guide, Quotas:
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/CHAP_Limits.html
MANUAL_CLUSTER_SNAPSHOT_QUOTA = 100
# "You can have up to five snapshot copy requests in progress to a single destination Region per
# account." https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_CopySnapshot.html
COPIES_IN_PROGRESS_LIMIT = 5

SNAPSHOT_STATE = "InvalidDBClusterSnapshotStateFault"
# botocore: SnapshotQuotaExceededFault's code, listed by CopyDBClusterSnapshot,
# CreateDBClusterSnapshot and DeleteDBCluster (the final snapshot counts against the quota).
SNAPSHOT_QUOTA = "SnapshotQuotaExceeded"


def _manual_snapshots(backend: RDSBackend) -> int:
    return sum(1 for s in backend.cluster_snapshots.values() if s.snapshot_type == "manual")


def _check_quota(backend: RDSBackend) -> None:
    limit = current().quotas.get("ManualClusterSnapshots", MANUAL_CLUSTER_SNAPSHOT_QUOTA)
    if _manual_snapshots(backend) >= limit:
        # The code and text RDS answers (pbudzon/aws-maintenance#12, CopyDBClusterSnapshot).
        raise refuse(SNAPSHOT_QUOTA, f"Cannot create more than {limit} manual snapshots")


def _create_db_cluster_snapshot(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create_db_cluster_snapshot(
        self: RDSBackend,
        db_cluster_identifier: str,
        db_cluster_snapshot_identifier: str,
        snapshot_type: str = "manual",
        tags: list[dict[str, str]] | None = None,
    ) -> Any:
        rules = current()
        rules.settle(self)
        manual = snapshot_type == "manual"
        cluster = self.clusters.get(db_cluster_identifier)
        if manual and cluster is not None and cluster.status != AVAILABLE:
            # botocore CreateDBClusterSnapshot lists InvalidDBClusterStateFault; RDS answers it for
            # a cluster that is not available, also for DeleteDBCluster's final snapshot
            # (hashicorp/terraform-provider-aws#40333 quotes the text). Nothing is deleted then.
            raise refuse(
                "InvalidDBClusterStateFault",
                f"Can't create a snapshot because the database cluster {db_cluster_identifier} "
                "isn't currently in the available state.",
            )
        if manual:
            _check_quota(self)
        snapshot = original(
            self, db_cluster_identifier, db_cluster_snapshot_identifier, snapshot_type, tags
        )
        if manual:
            # The cluster is `backing-up` while its snapshot is `creating` (Aurora user guide,
            # DB cluster status: accessing-monitoring.html#Aurora.Status).
            cluster = self.clusters[db_cluster_identifier]
            rules.begin(
                self,
                "cluster",
                db_cluster_identifier,
                cluster,
                "backing-up",
                seconds=CLUSTER_SNAPSHOT_SECONDS,
                then=AVAILABLE,
            )
            rules.begin(
                self,
                "snapshot",
                db_cluster_snapshot_identifier,
                snapshot,
                "creating",
                seconds=CLUSTER_SNAPSHOT_SECONDS,
                then=AVAILABLE,
            )
        return snapshot

    return create_db_cluster_snapshot


def _copy_db_cluster_snapshot(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def copy_db_cluster_snapshot(
        self: RDSBackend,
        source_db_cluster_snapshot_identifier: str,
        target_db_cluster_snapshot_identifier: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        source = source_db_cluster_snapshot_identifier
        target = target_db_cluster_snapshot_identifier
        rules = current()
        rules.settle(self)
        if target not in self.cluster_snapshots:  # moto answers AlreadyExists first, as RDS
            _check_quota(self)
            copying = sum(1 for s in self.cluster_snapshots.values() if s.status == "copying")
            if copying >= COPIES_IN_PROGRESS_LIMIT:
                # The limit: module constant's source. The code: RDS's quota fault, the one it
                # answers for CopyDBSnapshot's copy limit (pbudzon/aws-maintenance#19).
                raise refuse(
                    SNAPSHOT_QUOTA,
                    f"Cannot have more than {COPIES_IN_PROGRESS_LIMIT} snapshot copies in "
                    "progress to this Region",
                )
            found = snapshot_or_none(self, source)
            if found is not None and found.status != AVAILABLE:
                # botocore CopyDBClusterSnapshot, SourceDBClusterSnapshotIdentifier: "Must
                # specify a valid system snapshot in the available state."
                raise refuse(SNAPSHOT_STATE, f"Snapshot {source} is {found.status}")
        copy = original(self, source, target, *args, **kwargs)
        rules.begin(
            self, "snapshot", target, copy, "copying", seconds=SNAPSHOT_COPY_SECONDS, then=AVAILABLE
        )
        copy.percent_progress = 0
        return copy

    return copy_db_cluster_snapshot


def _delete_db_cluster_snapshot(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def delete_db_cluster_snapshot(self: RDSBackend, db_snapshot_identifier: str) -> Any:
        current().settle(self)
        snapshot = self.cluster_snapshots.get(db_snapshot_identifier)
        # botocore DeleteDBClusterSnapshot: "If the snapshot is being copied, the copy operation
        # is terminated. The DB cluster snapshot must be in the available state to be deleted."
        # CopyDBClusterSnapshot: "To cancel the copy operation once it is in progress, delete the
        # target DB cluster snapshot ... while that DB cluster snapshot is in "copying" status."
        # So `available` and `copying` (the copy is cancelled) are deleted; `creating` (a snapshot
        # being taken) and anything else are refused.
        if snapshot is not None and snapshot.status not in (AVAILABLE, "copying"):
            raise refuse(SNAPSHOT_STATE, f"Snapshot {db_snapshot_identifier} is {snapshot.status}")
        deleted = original(self, db_snapshot_identifier)
        current().forget(deleted)  # a cancelled copy never becomes available
        return deleted

    return delete_db_cluster_snapshot


def snapshot_or_none(backend: RDSBackend, identifier: str) -> Any:
    try:
        return backend.get_db_cluster_snapshot(identifier)
    except RDSClientError:
        return None  # moto answers the not-found error itself


SNAPSHOT_WRAPPERS: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "create_db_cluster_snapshot": _create_db_cluster_snapshot,
    "copy_db_cluster_snapshot": _copy_db_cluster_snapshot,
    "delete_db_cluster_snapshot": _delete_db_cluster_snapshot,
}
