"""Stage 9: delete the intermediate snapshot copy this operation made, and nothing else (the
same deletion as the failure and cancel paths, pipeline.copy_cleanup).

Only a snapshot tagged with this operation's id is ever deleted: never the source snapshot, never
the final snapshot of a replaced target, never anything untagged.
"""

from __future__ import annotations

from typing import TypedDict

from pipeline.context import PipelineContext
from pipeline.copy_cleanup import delete_own_copy
from pipeline.models import Stage, StageStatus
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
        fate = delete_own_copy(ctx.clients.rds(), plan, copy_id, operation_id)
    ctx.reporter.finished(operation_id, Stage.DELETE_COPY, StageStatus.SUCCEEDED, fate.sentence)
    return DeleteCopyResult(deleted=[copy_id] if fate.deleted else [])
