"""Stages 2 and 3: copy the snapshot into the target region, then wait for the copy.

The copy is tagged with the operation id: that tag is how a retried invocation finds and reuses it,
and how the delete-copy stage knows it may delete it.
"""

from __future__ import annotations

from typing import Any, TypedDict

from botocore.exceptions import ClientError

from pipeline import rds
from pipeline.aws_errors import aws_call, error_code
from pipeline.context import PipelineContext
from pipeline.copy_cleanup import discard_copy
from pipeline.errors import FatalError, ResourceFailedError
from pipeline.models import Plan, Stage, StageStatus
from pipeline.stages.common import (
    CheckResult,
    ensure_acting,
    failing_stage,
    load_plan,
    ready,
    still_waiting,
)
from pipeline.wait_budgets import CopyProgress, copy_gives_up, exhausted

ALREADY_EXISTS = "DBClusterSnapshotAlreadyExistsFault"


class CopyResult(TypedDict):
    snapshot_id: str


def copy_snapshot(operation_id: str, ctx: PipelineContext) -> CopyResult:
    operation, plan = load_plan(ctx, operation_id)
    if not plan.needs_copy or plan.copy_snapshot_id is None:
        return CopyResult(snapshot_id=plan.restore_snapshot_id)  # nothing to copy
    copy_id = plan.copy_snapshot_id
    ctx.reporter.started(
        operation_id,
        Stage.COPY_SNAPSHOT,
        f"Copying `{plan.source_snapshot_id}` from {plan.source_region} as `{copy_id}`",
    )
    client = ctx.clients.rds()
    with failing_stage(ctx, operation_id, Stage.COPY_SNAPSHOT):
        existing = rds.describe_cluster_snapshot(client, copy_id)
        if existing is None:
            existing = _start_copy(
                client, plan, copy_id, rds.operation_tags(operation_id, operation.request.requester)
            )
        _ensure_ours(existing, copy_id, operation_id)
    ctx.store.update(operation_id, resources={**operation.resources, "copy_snapshot": copy_id})
    _discard_if_ended(ctx, operation_id)
    return CopyResult(snapshot_id=copy_id)


def _discard_if_ended(ctx: PipelineContext, operation_id: str) -> None:
    """A cancel (StopExecution) does not stop this invocation: had the restore ended while it
    started the copy, after the canceller's own cleanup looked, the copy would be left behind.
    Delete it here and stop (ensure_acting raises for the ended operation)."""
    operation = ctx.store.get(operation_id)
    if operation.status.is_terminal:
        discard_copy(ctx, operation)
        ensure_acting(operation)


class CopyCheckResult(CheckResult):
    """The copy loop's `$.wait`: besides ready and attempt, the progress it carries on."""

    progress: int
    progress_moved_at: int


def check_copy(
    operation_id: str,
    attempt: int,
    ctx: PipelineContext,
    progress: CopyProgress | None = None,
) -> CopyCheckResult:
    """Ready once the copy is available. Past the copy's budget (its size, then while its
    PercentProgress moves; pipeline.wait_budgets) it raises WaitExhaustedError saying how far
    the copy got; the failure path then deletes the copy, which cancels it (copy_cleanup)."""
    operation, plan = load_plan(ctx, operation_id)
    copy_id = plan.copy_snapshot_id or plan.restore_snapshot_id
    with failing_stage(ctx, operation_id, Stage.COPY_SNAPSHOT):
        snapshot = rds.describe_cluster_snapshot(ctx.clients.rds(), copy_id)
        if snapshot is None:
            raise ResourceFailedError(f"snapshot copy `{copy_id}` no longer exists")
        status = str(snapshot.get("Status", ""))
        rds.raise_if_failed("snapshot copy", copy_id, status)
    percent = snapshot.get("PercentProgress")
    seen = (progress or CopyProgress()).after(attempt + 1, percent)
    if status != rds.AVAILABLE:
        size = snapshot.get("AllocatedStorage")
        why = copy_gives_up(ctx.settings.copy_budget(), attempt + 1, size, seen)
        if why is not None:
            started = operation.stages.get(Stage.COPY_SNAPSHOT)
            state = f"`{status}`" + (f" at {percent}%" if percent is not None else "")
            exhausted(
                f"the snapshot copy `{copy_id}`",
                state,
                started.started_at if started else None,
                attempt + 1,
                why,
            )
        return _copy_wait(still_waiting(attempt), seen)
    ctx.reporter.finished(
        operation_id,
        Stage.COPY_SNAPSHOT,
        StageStatus.SUCCEEDED,
        f"Copied `{plan.source_snapshot_id}` from {plan.source_region} to `{copy_id}`",
        resources={"copy_snapshot": copy_id},
    )
    return _copy_wait(ready(attempt), seen)


def _copy_wait(result: CheckResult, seen: CopyProgress) -> CopyCheckResult:
    return CopyCheckResult(
        ready=result["ready"],
        attempt=result["attempt"],
        progress=seen.progress,
        progress_moved_at=seen.moved_at,
    )


def _start_copy(
    client: Any, plan: Plan, copy_id: str, tags: list[dict[str, str]]
) -> dict[str, Any]:
    elsewhere = plan.snapshot_type == "shared" or plan.source_region != plan.target_region
    arguments: dict[str, Any] = {
        # Another region or account needs the ARN; in place, the identifier is what RDS expects.
        "SourceDBClusterSnapshotIdentifier": (
            plan.source_snapshot_arn if elsewhere else plan.source_snapshot_id
        ),
        "TargetDBClusterSnapshotIdentifier": copy_id,
        "Tags": tags,
    }
    if plan.source_region != plan.target_region:
        arguments["SourceRegion"] = plan.source_region  # boto3 signs the pre-signed URL from it
    if plan.encrypted and elsewhere:
        arguments["KmsKeyId"] = plan.kms_key_id
    with aws_call(f"copy snapshot {plan.source_snapshot_id} to {copy_id}"):
        try:
            return dict(client.copy_db_cluster_snapshot(**arguments)["DBClusterSnapshot"])
        except ClientError as exc:
            if error_code(exc) != ALREADY_EXISTS:
                raise
    # A concurrent invocation won the race; it must have been this operation's copy.
    found = rds.describe_cluster_snapshot(client, copy_id)
    if found is None:
        raise FatalError(f"snapshot `{copy_id}` was reported to exist but cannot be read")
    return found


def _ensure_ours(snapshot: dict[str, Any], copy_id: str, operation_id: str) -> None:
    if not rds.made_by(snapshot, operation_id):
        raise FatalError(
            f"a snapshot named `{copy_id}` exists but was not made by operation {operation_id}; "
            "it is left untouched"
        )
