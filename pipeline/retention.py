"""The retention sweep: kept clusters and the tool's final snapshots expire by policy.

Run hourly (an EventBridge schedule), not as a stage of a restore. Each run looks at what RDS
shows and takes the next step, so a run that stopped anywhere is continued by the next:

- a kept cluster (tagged `aurora-restore:kept-by`, named `<target>-old-<hex>`) whose keep-until
  is within its operation's notice hours is announced once in its operation's thread (then
  tagged `aurora-restore:deletion-announced`, so it is said once);
- once keep-until has passed it is deleted with a final snapshot: started first when stopped
  ("You can't delete a cluster if it's in the `stopped` state. In this case, start the cluster
  before deleting it.": Aurora user guide, Deleting a stopped Aurora cluster), then its
  instances (RDS
  refuses to delete a cluster with members not `deleting`: re:Post
  knowledge-center/rds-error-delete-aurora-cluster), then the cluster with
  FinalDBSnapshotIdentifier `<kept>-final-<operation id>`;
- the tool's snapshots (`-final-<op>` and `-before-<op>`, tagged with that operation's id or
  named by its plan) are announced the same way, then deleted at their keep-until tag, which
  counts only beside the operation's tag (both are written together; a final snapshot copies
  its cluster's tags, not its keep-until): written at creation for a safety snapshot, else here,
  from the snapshot's creation and its operation's final_snapshot_days.
The terms (days, notice) are the operation's plan's (pipeline.retention_terms), else the
deployment's defaults (operations stored before plans had terms).
A protected cluster (pipeline.rds.protection_reason) or one without the tags is never touched;
a kept cluster whose target is locked (a restore or rollback of it is pending or running) waits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline import rds
from pipeline.aws_errors import aws_call
from pipeline.context import PipelineContext
from pipeline.errors import OperationNotFoundError
from pipeline.models import Operation, ProgressEvent, Stage, StageStatus, utc_now
from pipeline.observability import logger
from pipeline.progress import PIPELINE_ACTOR
from pipeline.retention_inventory import ANNOUNCED_TAG as ANNOUNCED_TAG  # re-exported
from pipeline.retention_inventory import (
    KEPT_NAME,
    TOOL_SNAPSHOT,
    kept_clusters,
    own_keep_until,
    retention_snapshot_id,
    snapshot_expiry,
    terms_of,
    tool_snapshots,
)
from pipeline.retention_terms import (
    KEEP_UNTIL_FORMAT,
    KEEP_UNTIL_TAG,
    keep_until_tag,
    parse_keep_until,
)
from pipeline.stages.swap_steps import KEPT_BY_TAG


@dataclass
class SweepReport:
    """What one run did, by name (the handler's answer and the tests' view)."""

    announced: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    deleting: list[str] = field(default_factory=list)
    deleted_snapshots: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "announced": self.announced,
            "started": self.started,
            "deleting": self.deleting,
            "deleted_snapshots": self.deleted_snapshots,
            "refused": self.refused,
            "busy": self.busy,
        }


def sweep(ctx: PipelineContext, now: datetime | None = None) -> SweepReport:
    moment = now or utc_now()
    client = ctx.clients.rds()
    report = SweepReport()
    for cluster in kept_clusters(client):
        _sweep_cluster(ctx, client, cluster, moment, report)
    _tag_retention_snapshots(ctx, client)
    for snapshot, operation_id in tool_snapshots(ctx, client):
        _sweep_snapshot(ctx, client, snapshot, operation_id, moment, report)
    return report


def _operation(ctx: PipelineContext, operation_id: str) -> Operation | None:
    """The operation that kept a cluster: its thread is where a deletion is announced."""
    try:
        return ctx.store.get(operation_id)
    except OperationNotFoundError:
        return None


def _sweep_cluster(
    ctx: PipelineContext,
    client: Any,
    cluster: Mapping[str, Any],
    now: datetime,
    report: SweepReport,
) -> None:
    name = str(cluster["DBClusterIdentifier"])
    tags = rds.tags_of(cluster)
    keep_until = parse_keep_until(tags.get(KEEP_UNTIL_TAG, ""))
    reason = rds.protection_reason(cluster, ctx.settings.protected_clusters)
    kept_by = _operation(ctx, tags[KEPT_BY_TAG])
    if reason is None and kept_by is None:
        reason = f"no operation `{tags[KEPT_BY_TAG]}` to announce its deletion to"
    if reason is not None or keep_until is None or kept_by is None:
        logger.warning("kept cluster %s left alone: %s", name, reason or "no valid keep-until")
        report.refused.append(name)
        return
    # A restore or rollback of its target holds the target's lock from its request to its end: a
    # rollback may be swapping this very cluster back in (renamed, still tagged until its commit
    # point). Left to the next run; a rollback refuses a cluster past keep-until or deleting.
    holder = ctx.store.lock_holder(kept_by.target_cluster)
    if holder is not None:
        logger.info(
            "kept cluster %s left for now: %s is locked by %s", name, kept_by.target_cluster, holder
        )
        report.busy.append(name)
        return
    operation_id = tags[KEPT_BY_TAG]
    final = retention_snapshot_id(name, operation_id)
    if now < keep_until - timedelta(hours=terms_of(ctx, operation_id).notice_hours):
        return
    if ANNOUNCED_TAG not in tags:
        _publish(
            ctx,
            operation_id,
            f"announce:{name}",
            StageStatus.STARTED,
            f"The kept cluster `{name}` will be deleted {_when(keep_until, now)}, with "
            f"the final snapshot `{final}`",
        )
        with aws_call(f"tag cluster {name}"):
            client.add_tags_to_resource(
                ResourceName=cluster["DBClusterArn"],
                Tags=[{"Key": ANNOUNCED_TAG, "Value": now.strftime(KEEP_UNTIL_FORMAT)}],
            )
        report.announced.append(name)
        return  # never announced and deleted in the same run: the thread hears of it first
    if now < keep_until:
        return
    _delete_cluster(ctx, client, cluster, operation_id, final, report)


def _delete_cluster(
    ctx: PipelineContext,
    client: Any,
    cluster: Mapping[str, Any],
    operation_id: str,
    final: str,
    report: SweepReport,
) -> None:
    name = str(cluster["DBClusterIdentifier"])
    status = str(cluster.get("Status", ""))
    if status == "stopped":
        with aws_call(f"start cluster {name}"):
            client.start_db_cluster(DBClusterIdentifier=name)
        report.started.append(name)
        return
    if status != rds.AVAILABLE:
        return  # starting, stopping, deleting, backing-up: the next run looks again
    waiting = False
    for instance_id in rds.member_ids(cluster):
        instance = rds.describe_instance(client, instance_id)
        if instance is None or instance.get("DBInstanceStatus") == rds.DELETING:
            continue
        if instance.get("DBInstanceStatus") != rds.AVAILABLE:
            waiting = True
            continue
        with aws_call(f"delete instance {instance_id}"):
            client.delete_db_instance(DBInstanceIdentifier=instance_id)
    if waiting:
        return
    with aws_call(f"delete cluster {name}"):
        client.delete_db_cluster(
            DBClusterIdentifier=name, SkipFinalSnapshot=False, FinalDBSnapshotIdentifier=final
        )
    _tag_snapshot(ctx, client, final, operation_id)
    ctx.store.audit(
        operation_id, PIPELINE_ACTOR, "retention.cluster_deleted", {"cluster": name, "final": final}
    )
    _publish(
        ctx,
        operation_id,
        f"delete:{name}",
        StageStatus.SUCCEEDED,
        f"The kept cluster `{name}` is being deleted; its final snapshot is `{final}`",
        resources={"final_snapshot": final},
    )
    report.deleting.append(name)


def _tag_snapshot(ctx: PipelineContext, client: Any, snapshot_id: str, operation_id: str) -> None:
    """Tag the final snapshot with its operation and keep-until, so the snapshot sweep knows it
    as the tool's (DeleteDBCluster takes no tags for it)."""
    snapshot = rds.describe_cluster_snapshot(client, snapshot_id)
    if snapshot is not None:
        _claim(ctx, client, snapshot, operation_id)


def _claim(
    ctx: PipelineContext, client: Any, snapshot: Mapping[str, Any], operation_id: str
) -> datetime | None:
    """Write the operation's tag and the keep-until on one of the tool's snapshots unless they
    are there; the keep-until (None while the snapshot is being made)."""
    own = own_keep_until(snapshot, operation_id)
    expires = snapshot_expiry(ctx, snapshot, operation_id)
    if own is None and expires is not None:
        with aws_call(f"tag snapshot {snapshot['DBClusterSnapshotIdentifier']}"):
            client.add_tags_to_resource(
                ResourceName=snapshot["DBClusterSnapshotArn"],
                Tags=[{"Key": rds.OPERATION_TAG, "Value": operation_id}, keep_until_tag(expires)],
            )
    return expires


def _announced(snapshot: Mapping[str, Any]) -> bool:
    """Announced since it was made: a final snapshot copies its cluster's tags, the kept
    cluster's announcement too (CopyTagsToSnapshot)."""
    said = parse_keep_until(rds.tags_of(snapshot).get(ANNOUNCED_TAG, ""))
    created = snapshot.get("SnapshotCreateTime")
    return said is not None and (
        created is None or said >= created.replace(second=0, microsecond=0)
    )


def _tag_retention_snapshots(ctx: PipelineContext, client: Any) -> None:
    """A run that stopped between DeleteDBCluster and the tag: a final snapshot named after its
    kept cluster and an operation (`<target>-old-<hex>-final-<op>`) gets the tag now."""
    paginator = client.get_paginator("describe_db_cluster_snapshots")
    with aws_call("list manual snapshots"):
        pages = list(paginator.paginate(SnapshotType="manual"))
    for page in pages:
        for snapshot in page.get("DBClusterSnapshots", []):
            source = str(snapshot.get("DBClusterIdentifier", ""))
            match = TOOL_SNAPSHOT.fullmatch(snapshot["DBClusterSnapshotIdentifier"])
            if match is None or not KEPT_NAME.fullmatch(source):
                continue
            if snapshot["DBClusterSnapshotIdentifier"] == retention_snapshot_id(
                source, match["operation"]
            ):
                _tag_snapshot(
                    ctx, client, snapshot["DBClusterSnapshotIdentifier"], match["operation"]
                )


def _sweep_snapshot(
    ctx: PipelineContext,
    client: Any,
    snapshot: Mapping[str, Any],
    operation_id: str,
    now: datetime,
    report: SweepReport,
) -> None:
    """Tagged with its keep-until, announced within the notice, once (tagged), then deleted
    once expired."""
    if snapshot.get("Status") != rds.AVAILABLE:
        return
    expires = _claim(ctx, client, snapshot, operation_id)
    if expires is None:
        return
    name = str(snapshot["DBClusterSnapshotIdentifier"])
    if now < expires - timedelta(hours=terms_of(ctx, operation_id).notice_hours):
        return
    if not _announced(snapshot):
        _publish(
            ctx,
            operation_id,
            f"snapshot-notice:{name}",
            StageStatus.STARTED,
            f"The snapshot `{name}` will be deleted {_when(expires, now)}, when its retention ends",
        )
        with aws_call(f"tag snapshot {name}"):
            client.add_tags_to_resource(
                ResourceName=snapshot["DBClusterSnapshotArn"],
                Tags=[{"Key": ANNOUNCED_TAG, "Value": now.strftime(KEEP_UNTIL_FORMAT)}],
            )
        report.announced.append(name)
        return  # deleted by a later run, once the thread has heard of it
    if now >= expires:
        _delete_snapshot(ctx, client, snapshot, operation_id, expires)
        report.deleted_snapshots.append(name)


def _when(due: datetime, now: datetime) -> str:
    """When an announced deletion happens: at its date, or (a notice no run could give in
    time: the sweep was not deployed, or not running) by the next hourly run."""
    if due > now:
        return f"at {due:%Y-%m-%d %H:%M} UTC (or soon after)"
    return (
        f"by the next retention run, within the hour (its retention ended {due:%Y-%m-%d %H:%M} UTC)"
    )


def _delete_snapshot(
    ctx: PipelineContext,
    client: Any,
    snapshot: Mapping[str, Any],
    operation_id: str,
    expired_at: datetime,
) -> None:
    name = str(snapshot["DBClusterSnapshotIdentifier"])
    with aws_call(f"delete snapshot {name}"):
        client.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=name)
    ctx.store.audit(operation_id, PIPELINE_ACTOR, "retention.snapshot_deleted", {"snapshot": name})
    _publish(
        ctx,
        operation_id,
        f"snapshot:{name}",
        StageStatus.SUCCEEDED,
        f"The snapshot `{name}` expired at {expired_at:%Y-%m-%d %H:%M} UTC and was deleted",
    )


def _publish(
    ctx: PipelineContext,
    operation_id: str,
    what: str,
    status: StageStatus,
    detail: str,
    **extra: Any,
) -> None:
    """A progress event in the operation's thread; its id names the resource and the step, so
    a re-published one is dropped by SNS (FIFO) and by the notifier's delivery log."""
    event = ProgressEvent(
        event_id=f"{operation_id}:{Stage.RETENTION}:{what}",
        operation_id=operation_id,
        stage=Stage.RETENTION,
        status=status,
        detail=detail,
        **extra,
    )
    ctx.reporter.publisher.publish(event)
