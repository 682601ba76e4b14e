"""Stage 10: the restore succeeded. Mark the operation SUCCEEDED, release the target lock and
publish the final event, with what was restored and where to connect."""

from __future__ import annotations

from pipeline.context import PipelineContext
from pipeline.lifecycle import StatusEvent, apply
from pipeline.stages.common import instances_phrase
from pipeline.stages.lifecycle import StatusResult


def record_success(operation_id: str, ctx: PipelineContext) -> StatusResult:
    """Stage 10: the operation succeeded; say what was restored and where."""
    operation = ctx.store.get(operation_id)
    plan = operation.plan
    endpoint = operation.resources.get("endpoint")
    detail = f"Restored `{operation.target_cluster}`"
    if plan is not None and plan.rollback:
        detail = (
            f"Rolled back `{operation.target_cluster}` to `{plan.staging_cluster_id}`, the "
            f"cluster `{plan.rollback_of}` kept"
        )
    elif plan is not None:
        detail += f" from `{plan.source_snapshot_id}` with {instances_phrase(plan.instance_count, plan.instance_class)}"
    if endpoint:
        detail += f"; endpoint {endpoint}"
    finished = apply(ctx, operation_id, StatusEvent.SUCCEEDED, outcome=detail)
    return StatusResult(status=finished.status)
