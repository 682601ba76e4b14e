"""Stage 9: delete the intermediate snapshot copy this operation made, and nothing else.

Only a snapshot tagged with this operation's id is ever deleted: never the source snapshot, never
the final snapshot of a replaced target, never anything untagged.
"""

from __future__ import annotations

from typing import TypedDict

from botocore.exceptions import ClientError

from pipeline import rds
from pipeline.aws_errors import aws_call, error_code
from pipeline.context import PipelineContext
from pipeline.models import Plan, Stage, StageStatus
from pipeline.stages.common import failing_stage, load_plan


class DeleteCopyResult(TypedDict):
    deleted: list[str]


def delete_copy(operation_id: str, ctx: PipelineContext) -> DeleteCopyResult:
    _, plan = load_plan(ctx, operation_id)
    copy_id = plan.copy_snapshot_id
    if copy_id is None:
        ctx.reporter.finished(
            operation_id,
            Stage.DELETE_COPY,
            StageStatus.SKIPPED,
            f"No intermediate snapshot to delete; `{plan.source_snapshot_id}` is kept",
        )
        return DeleteCopyResult(deleted=[])
    ctx.reporter.started(
        operation_id, Stage.DELETE_COPY, f"Deleting the intermediate copy `{copy_id}`"
    )
    with failing_stage(ctx, operation_id, Stage.DELETE_COPY):
        deleted, detail = _delete_if_ours(ctx, plan, copy_id, operation_id)
    ctx.reporter.finished(operation_id, Stage.DELETE_COPY, StageStatus.SUCCEEDED, detail)
    return DeleteCopyResult(deleted=deleted)


def _delete_if_ours(
    ctx: PipelineContext, plan: Plan, copy_id: str, operation_id: str
) -> tuple[list[str], str]:
    client = ctx.clients.rds()
    kept = f"`{plan.source_snapshot_id}` is kept"
    same_as_source = plan.source_region == plan.target_region and copy_id == plan.source_snapshot_id
    snapshot = rds.describe_cluster_snapshot(client, copy_id)
    if snapshot is None:
        return [], f"The intermediate copy `{copy_id}` is already gone; {kept}"
    if same_as_source or not rds.made_by(snapshot, operation_id):
        return [], f"Left `{copy_id}` in place: it is not tagged with this operation; {kept}"
    with aws_call(f"delete snapshot {copy_id}"):
        try:
            client.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=copy_id)
        except ClientError as exc:
            if error_code(exc) != rds.SNAPSHOT_NOT_FOUND:
                raise
    return [copy_id], f"Deleted the intermediate copy `{copy_id}`; {kept}"
