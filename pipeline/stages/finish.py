"""Stage 10: the restore succeeded. Mark the operation SUCCEEDED, release the target lock and
publish the final event, with what was restored and where to connect."""

from __future__ import annotations

from pipeline.context import PipelineContext
from pipeline.models import OperationStatus
from pipeline.stages.common import instances_phrase
from pipeline.stages.lifecycle import StatusResult, finish_operation


def record_success(operation_id: str, ctx: PipelineContext) -> StatusResult:
    """Stage 10: the operation succeeded; say what was restored and where."""
    operation = ctx.store.get(operation_id)
    plan = operation.plan
    endpoint = operation.resources.get("endpoint")
    detail = f"Restored `{operation.target_cluster}`"
    if plan is not None:
        detail += f" from `{plan.source_snapshot_id}` with {instances_phrase(plan.instance_count, plan.instance_class)}"
    if endpoint:
        detail += f"; endpoint {endpoint}"
    finished = finish_operation(
        ctx,
        operation_id,
        OperationStatus.SUCCEEDED,
        detail,
        expected=frozenset({OperationStatus.RUNNING}),
    )
    return StatusResult(status=finished.status)
