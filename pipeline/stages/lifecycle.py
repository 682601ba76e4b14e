"""The state machine's lifecycle tasks: `begin` (BeginRestore) and the endings (RecordFailure,
RecordDenied, RecordExpired, RecordCancelled), each applying one event of pipeline.lifecycle.

The failure first deletes the intermediate snapshot copy, should the restore have started one
(pipeline.copy_cleanup), and says what became of it. Every ending is idempotent (pipeline.lifecycle): it moves the status only if it is not there yet,
releases the target lock, appends one audit event and publishes one terminal progress event
(under the finish stage, carrying `operation_status`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypedDict

from pipeline.context import PipelineContext
from pipeline.copy_cleanup import discard_copy
from pipeline.lifecycle import StatusEvent, apply
from pipeline.models import Operation, Stage, StageStatus
from pipeline.stages.swap_undo import swap_outcome


class LifecycleAction(StrEnum):
    """The `action` the state machine's lifecycle tasks pass (restore.asl.json)."""

    BEGIN = "begin"
    FAIL = "fail"
    DENY = "deny"
    EXPIRE = "expire"
    CANCEL = "cancel"


class StatusResult(TypedDict):
    status: str


_ENDINGS = {
    LifecycleAction.FAIL: StatusEvent.FAILED,
    LifecycleAction.DENY: StatusEvent.DENIAL_RECORDED,
    LifecycleAction.EXPIRE: StatusEvent.EXPIRED,
    LifecycleAction.CANCEL: StatusEvent.CANCELLATION_RECORDED,
}


def run_lifecycle(
    operation_id: str,
    action: LifecycleAction,
    ctx: PipelineContext,
    error: Mapping[str, Any] | None = None,
) -> StatusResult:
    if action == LifecycleAction.BEGIN:
        return StatusResult(status=begin(operation_id, ctx).status)
    if action == LifecycleAction.FAIL:
        text = error_text(error) + swap_outcome(ctx.store.get(operation_id))
        return StatusResult(status=record_failure(operation_id, ctx, text).status)
    finished = apply(ctx, operation_id, _ENDINGS[action])
    return StatusResult(status=finished.status)


def record_failure(operation_id: str, ctx: PipelineContext, error: str) -> Operation:
    """End the operation FAILED with `error`, after deleting the intermediate copy it started
    (pipeline.copy_cleanup): the outcome says the error first, then what became of the copy. A
    cleanup that fails is said there too; it never replaces the error."""
    operation = ctx.store.get(operation_id)
    fate = discard_copy(ctx, operation)
    what = "Rollback" if operation.request.rollback_of else "Restore"
    outcome = f"{what} of `{operation.target_cluster}` failed: {error}"
    if fate is not None:
        outcome = f"{outcome}. {fate.sentence}"
    return apply(ctx, operation_id, StatusEvent.FAILED, error=error, outcome=outcome)


def begin(operation_id: str, ctx: PipelineContext) -> Operation:
    """APPROVED → RUNNING once; end the approval stage and announce the stages this plan skips
    (each announcement is recorded once, so a retried invocation completes what a failed one
    left out).

    The event first renews the target lock for the restore (`lock_ttl_seconds`): should it have
    expired and another restore of the target taken it, this one fails (TargetLockedError)
    before it touches anything, instead of running beside the other."""
    approvers = ctx.store.get(operation_id).approvers
    operation = apply(ctx, operation_id, StatusEvent.BEGAN, audit_detail={"approvers": approvers})
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
    if plan is not None and plan.rollback:
        plan = None  # a rollback copies, deletes and restores nothing: its card leaves them out
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
            f"`{plan.target_cluster}` is kept until the restored cluster takes its name; nothing "
            "is deleted"
            if plan.swap_target
            else f"`{plan.target_cluster}` does not exist; nothing to delete",
        )
    # No announcement for a swap this plan does not make: it would come after the set-up in
    # the stage order, and the thread keeps that order; the card's checklist leaves it out.
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
