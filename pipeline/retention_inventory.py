"""What the retention sweep is responsible for, read without changing anything: the clusters a
swap kept, the tool's own snapshots (each with the operation it belongs to), and when each one
expires by its operation's terms. The sweep (pipeline.retention) acts on them; `/restore list
--kept` (bot.queries) shows them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from pipeline import rds
from pipeline.aws_errors import aws_call
from pipeline.context import PipelineContext
from pipeline.errors import OperationNotFoundError
from pipeline.retention_terms import KEEP_UNTIL_TAG, RetentionTerms, parse_keep_until
from pipeline.stages.swap_steps import KEPT_BY_TAG

ANNOUNCED_TAG = "aurora-restore:deletion-announced"
_OPERATION = r"ar-[0-9]{14}-[0-9a-f]{6}"
KEPT_NAME = re.compile(r"[a-z][a-z0-9-]*-old-[0-9a-f]{6}")
TOOL_SNAPSHOT = re.compile(rf"[a-z][a-z0-9-]*-final-(?P<operation>{_OPERATION})")
# The safety snapshot is named after the operation's random part only (63-character limit,
# pipeline.swap_plan.safety_snapshot_id): its operation is the one its tag names.
SAFETY_SNAPSHOT = re.compile(r"[a-z][a-z0-9-]*-before-(?P<suffix>[0-9a-f]{6})")


def retention_snapshot_id(kept_cluster: str, operation_id: str) -> str:
    """The final snapshot of a kept cluster (at most 63 + 7 + 24 characters, within the 255
    DeleteDBCluster allows FinalDBSnapshotIdentifier; letters, digits, single hyphens)."""
    return f"{kept_cluster}-final-{operation_id}"


def kept_clusters(client: Any) -> Iterator[dict[str, Any]]:
    """Every cluster tagged as kept by an operation and named as the swap names kept clusters."""
    paginator = client.get_paginator("describe_db_clusters")
    with aws_call("list clusters"):
        for page in paginator.paginate():
            for cluster in page.get("DBClusters", []):
                tags = rds.tags_of(cluster)
                if KEPT_BY_TAG in tags and KEPT_NAME.fullmatch(cluster["DBClusterIdentifier"]):
                    yield dict(cluster)


def tool_snapshots(ctx: PipelineContext, client: Any) -> Iterator[tuple[dict[str, Any], str]]:
    """(snapshot, operation id) of each manual snapshot this tool made: named `-final-<op>` or
    `-before-<op's random part>` and either tagged with that same operation id or named by that
    operation's stored plan (an in-place replace's final snapshot carries the target's tags)."""
    paginator = client.get_paginator("describe_db_cluster_snapshots")
    with aws_call("list manual snapshots"):
        pages = list(paginator.paginate(SnapshotType="manual"))
    for page in pages:
        for snapshot in page.get("DBClusterSnapshots", []):
            name = snapshot["DBClusterSnapshotIdentifier"]
            match = TOOL_SNAPSHOT.fullmatch(name)
            safety = SAFETY_SNAPSHOT.fullmatch(name)
            if match is not None:
                operation_id = match["operation"]
            elif safety is not None:
                operation_id = rds.tags_of(snapshot).get(rds.OPERATION_TAG, "")
                if not operation_id.endswith(f"-{safety['suffix']}"):
                    continue
            else:
                continue
            if rds.tags_of(snapshot).get(rds.OPERATION_TAG) == operation_id or _planned(
                ctx, operation_id, name
            ):
                yield dict(snapshot), operation_id


def terms_of(ctx: PipelineContext, operation_id: str) -> RetentionTerms:
    """The operation's planned (or requested) retention, or the deployment's defaults."""
    try:
        operation = ctx.store.get(operation_id)
    except OperationNotFoundError:
        return ctx.settings.default_retention()
    planned = operation.plan.retention if operation.plan else None
    return planned or operation.request.retention or ctx.settings.default_retention()


def own_keep_until(snapshot: Mapping[str, Any], operation_id: str) -> datetime | None:
    """The snapshot's keep-until, if written for it: beside its operation's own tag."""
    tags = rds.tags_of(snapshot)
    if tags.get(rds.OPERATION_TAG) != operation_id:
        return None
    return parse_keep_until(tags.get(KEEP_UNTIL_TAG, ""))


def snapshot_expiry(
    ctx: PipelineContext, snapshot: Mapping[str, Any], operation_id: str
) -> datetime | None:
    """When the tool's snapshot is deleted: its keep-until, else its creation plus its terms."""
    created = snapshot.get("SnapshotCreateTime")
    own = own_keep_until(snapshot, operation_id)
    if own is not None or created is None:
        return own
    return terms_of(ctx, operation_id).snapshot_keep_until(created)


def _planned(ctx: PipelineContext, operation_id: str, snapshot_id: str) -> bool:
    try:
        plan = ctx.store.get(operation_id).plan
    except OperationNotFoundError:
        return False
    return plan is not None and snapshot_id in (plan.final_snapshot_id, plan.safety_snapshot_id)
