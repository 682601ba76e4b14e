"""Operation lifecycle: `begin` (APPROVED → RUNNING), the terminal outcomes (`fail`, `deny`,
`expire`, `cancel`); `finish_operation` is shared with success (stage 10, the finish stage).

Every terminal transition is idempotent: it moves the status only if it is not there yet, releases
the target lock, appends one audit event and publishes one terminal progress event (under the
finish stage, carrying `operation_status`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypedDict

from pipeline.context import PipelineContext
from pipeline.errors import InvalidTransitionError
from pipeline.models import (
    ACTIVE_STATUSES,
    Operation,
    OperationStatus,
    Stage,
    StageStatus,
)
from pipeline.progress import PIPELINE_ACTOR


class LifecycleAction(StrEnum):
    BEGIN = "begin"
    FAIL = "fail"
    DENY = "deny"
    EXPIRE = "expire"
    CANCEL = "cancel"


class StatusResult(TypedDict):
    status: str


_OUTCOMES = {
    LifecycleAction.FAIL: OperationStatus.FAILED,
    LifecycleAction.DENY: OperationStatus.DENIED,
    LifecycleAction.EXPIRE: OperationStatus.EXPIRED,
    LifecycleAction.CANCEL: OperationStatus.CANCELLED,
}


def run_lifecycle(
    operation_id: str,
    action: LifecycleAction,
    ctx: PipelineContext,
    error: Mapping[str, Any] | None = None,
) -> StatusResult:
    if action == LifecycleAction.BEGIN:
        return StatusResult(status=begin(operation_id, ctx).status)
    outcome = _OUTCOMES[action]
    operation = ctx.store.get(operation_id)
    text = error_text(error) if action == LifecycleAction.FAIL else None
    finished = finish_operation(
        ctx, operation_id, outcome, _outcome_detail(operation, outcome, text), error=text
    )
    return StatusResult(status=finished.status)


def begin(operation_id: str, ctx: PipelineContext) -> Operation:
    """APPROVED → RUNNING once; end the approval stage and announce the stages this plan skips
    (each announcement is recorded once, so a retried invocation completes what a failed one
    left out).

    First the target lock is renewed for the restore (`lock_ttl_seconds`): should it have
    expired and another restore of the target taken it, this one fails (TargetLockedError)
    before it touches anything, instead of running beside the other."""
    requested = ctx.store.get(operation_id)
    ctx.store.acquire_lock(
        requested.target_cluster, operation_id, ttl_seconds=ctx.settings.lock_ttl_seconds
    )
    try:
        operation = ctx.store.transition(
            operation_id, OperationStatus.RUNNING, expected={OperationStatus.APPROVED}
        )
    except InvalidTransitionError as exc:
        if exc.current_status != OperationStatus.RUNNING:
            raise
        operation = ctx.store.get(operation_id)  # a retried invocation
    else:
        ctx.store.audit(
            operation_id, PIPELINE_ACTOR, "operation.running", {"approvers": operation.approvers}
        )
    if Stage.APPROVAL in operation.stages:
        # Not when a decision beat the card (the stage never started): no latency to report,
        # and the card's checklist shows the approval from `decided_by`.
        count = len(operation.approvers)
        ctx.reporter.finished(
            operation_id,
            Stage.APPROVAL,
            StageStatus.SUCCEEDED,
            f"approved ({count} approval{'' if count == 1 else 's'})",
        )
    plan = operation.plan
    if plan is not None and not plan.needs_copy:
        ctx.reporter.finished(
            operation_id,
            Stage.COPY_SNAPSHOT,
            StageStatus.SKIPPED,
            f"`{plan.source_snapshot_id}` is already in {plan.target_region}; no copy needed",
        )
    if plan is not None and not plan.delete_target:
        ctx.reporter.finished(
            operation_id,
            Stage.DELETE_TARGET,
            StageStatus.SKIPPED,
            f"`{plan.target_cluster}` does not exist; nothing to delete",
        )
    return ctx.store.get(operation_id)


def finish_operation(
    ctx: PipelineContext,
    operation_id: str,
    outcome: OperationStatus,
    detail: str,
    *,
    error: str | None = None,
    expected: frozenset[OperationStatus] = ACTIVE_STATUSES,
) -> Operation:
    """Move to a terminal outcome once; the first terminal outcome recorded stands."""
    operation = ctx.store.get(operation_id)
    if operation.status != outcome:
        if operation.status.is_terminal:
            return operation
        fields: dict[str, Any] = {"error": error} if error else {}
        try:
            operation = ctx.store.transition(operation_id, outcome, expected=expected, **fields)
        except InvalidTransitionError:
            operation = ctx.store.get(operation_id)
            if operation.status != outcome:
                if operation.status.is_terminal:
                    return operation
                raise
    ctx.store.release_lock(operation.target_cluster, operation_id)
    ended = operation.stages.get(Stage.FINISH)
    if ended is not None and ended.status != StageStatus.STARTED:
        # Ended already: a retry only publishes the terminal event if that publish failed.
        ctx.reporter.finished(
            operation_id,
            Stage.FINISH,
            ended.status,
            ended.detail,
            resources=dict(operation.resources),
            operation_status=outcome,
        )
        return ctx.store.get(operation_id)
    _fail_stage_in_flight(ctx, operation, error or detail)
    ctx.store.audit(
        operation_id,
        PIPELINE_ACTOR,
        f"operation.{outcome.lower()}",
        {"detail": detail, **({"error": error} if error else {})},
    )
    ctx.reporter.finished(
        operation_id,
        Stage.FINISH,
        StageStatus.SUCCEEDED if outcome == OperationStatus.SUCCEEDED else StageStatus.FAILED,
        detail,
        resources=dict(operation.resources),
        operation_status=outcome,
    )
    return ctx.store.get(operation_id)


def error_text(error: Mapping[str, Any] | None) -> str:
    """`Error: message` from a Catch's `{Error, Cause}`; Lambda errors carry a JSON Cause."""
    if not error:
        return "unknown error"
    name = str(error.get("Error") or "Error")
    cause = error.get("Cause")
    message = ""
    if isinstance(cause, str) and cause:
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        message = str(parsed.get("errorMessage", cause)) if isinstance(parsed, dict) else cause
    return f"{name}: {message}" if message else name


def _fail_stage_in_flight(ctx: PipelineContext, operation: Operation, reason: str) -> None:
    """A stage still marked started when the operation ends did not finish: say so."""
    for stage, record in operation.stages.items():
        if stage != Stage.FINISH and record.status == StageStatus.STARTED:
            ctx.reporter.finished(operation.operation_id, stage, StageStatus.FAILED, reason)


def _outcome_detail(operation: Operation, outcome: OperationStatus, error: str | None) -> str:
    target = f"`{operation.target_cluster}`"
    if outcome == OperationStatus.FAILED:
        return f"Restore of {target} failed: {error}"
    if outcome == OperationStatus.DENIED:
        by = f" by {operation.decided_by}" if operation.decided_by else ""
        return f"Restore of {target} was denied{by}"
    if outcome == OperationStatus.EXPIRED:
        return f"Nobody approved the restore of {target} in time; the request expired"
    by = f" by {operation.cancelled_by}" if operation.cancelled_by else ""
    return f"Restore of {target} was cancelled{by}"
