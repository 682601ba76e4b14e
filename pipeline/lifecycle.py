"""The operation lifecycle: which status changes are legal, and what each one does.

`TRANSITIONS` is the whole table, (status, event) → the next status and its effects (the target
lock taken, kept or released, the audit action appended, whether the operation ends). `apply` is
the one way to change an operation's status: the bot's clicks and `/restore`, and every stage of
the state machine call it; nothing else calls `OperationStore.transition` (a test keeps it so).

Two rules keep retries and races harmless:
- a status change is a conditional write on the status read (first writer wins); a writer that
  lost re-reads and applies its event to the status it finds;
- an ending event whose outcome is already recorded completes what is left (the lock released,
  the terminal event published once), and one that finds a different outcome does nothing: the
  first outcome recorded stands.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pipeline.context import PipelineContext
from pipeline.errors import InvalidTransitionError
from pipeline.models import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    Operation,
    OperationStatus,
    Stage,
    StageStatus,
)
from pipeline.progress import PIPELINE_ACTOR
from pipeline.secret_versions import PENDING_SECRETS
from pipeline.stages.swap_steps import COMMITTED, SECRETS_PROMOTED, SWAP_STARTED, SWAP_UNDONE

BOOKKEEPING = frozenset({PENDING_SECRETS, SWAP_STARTED, SECRETS_PROMOTED, COMMITTED, SWAP_UNDONE})

# A status read and written this many times without settling means a writer keeps racing us.
_ATTEMPTS = 3


class StatusEvent(StrEnum):
    """What happens to an operation; who applies each is said beside it."""

    APPROVED = "approved"  # the bot: the last approval needed was given
    APPROVAL_WITHDRAWN = "approval_withdrawn"  # the bot: the workflow could not be told
    DENIED = "denied"  # the bot: an approver denied
    CANCELLED = "cancelled"  # the bot: someone allowed to cancelled
    NOT_STARTED = "not_started"  # the bot: the target could not be locked or the workflow started
    BEGAN = "began"  # BeginRestore
    SUCCEEDED = "succeeded"  # the finish stage
    FAILED = "failed"  # RecordFailure, or a click that finds the workflow gone
    EXPIRED = "expired"  # the approval wait timed out, or a click that comes too late
    DENIAL_RECORDED = "denial_recorded"  # the workflow ends on a denial (RecordDenied)
    CANCELLATION_RECORDED = "cancellation_recorded"  # the workflow (or the bot) ends a cancel


class LockEffect(StrEnum):
    TAKE = "take"  # renewed for `lock_ttl_seconds` before the write; held by another: refused
    KEEP = "keep"
    RELEASE = "release"  # after the write, if this operation holds it


@dataclass(frozen=True)
class Transition:
    """One cell of the table. `to` equal to the current status means no write: only the effects."""

    to: OperationStatus
    lock: LockEffect = LockEffect.KEEP
    audit: str | None = None  # the audit action appended when the status moves (or the end)
    ends: bool = False  # close the stage in flight, audit and publish the terminal event, once


# The events that end an operation, and the outcome each records.
ENDINGS: dict[StatusEvent, OperationStatus] = {
    StatusEvent.SUCCEEDED: OperationStatus.SUCCEEDED,
    StatusEvent.FAILED: OperationStatus.FAILED,
    StatusEvent.EXPIRED: OperationStatus.EXPIRED,
    StatusEvent.DENIAL_RECORDED: OperationStatus.DENIED,
    StatusEvent.CANCELLATION_RECORDED: OperationStatus.CANCELLED,
}


def shown_resources(resources: dict[str, str]) -> dict[str, str]:
    """What the final message lists: the resources a person acts on, not the swap's own
    bookkeeping (pipeline.stages.swap_steps)."""
    return {name: value for name, value in resources.items() if name not in BOOKKEEPING}


def _ending(outcome: OperationStatus) -> Transition:
    return Transition(outcome, LockEffect.RELEASE, f"operation.{outcome.lower()}", ends=True)


def _build_table() -> dict[tuple[OperationStatus, StatusEvent], Transition]:
    pending, approved, running = (
        OperationStatus.PENDING_APPROVAL,
        OperationStatus.APPROVED,
        OperationStatus.RUNNING,
    )
    table = {
        (pending, StatusEvent.APPROVED): Transition(approved, audit="approval.decided"),
        (pending, StatusEvent.DENIED): Transition(
            OperationStatus.DENIED, LockEffect.RELEASE, "approval.decided"
        ),
        # A denial or a pending cancel is ended by the workflow once it hears of it (the
        # DENIAL_RECORDED / CANCELLATION_RECORDED rows of the terminal statuses).
        (pending, StatusEvent.CANCELLED): Transition(
            OperationStatus.CANCELLED, LockEffect.RELEASE, "operation.cancel_requested"
        ),
        (pending, StatusEvent.NOT_STARTED): Transition(
            OperationStatus.FAILED, LockEffect.RELEASE, "operation.not_started"
        ),
        (approved, StatusEvent.APPROVAL_WITHDRAWN): Transition(
            pending, audit="approval.handoff_failed"
        ),
        (approved, StatusEvent.BEGAN): Transition(running, LockEffect.TAKE, "operation.running"),
        (running, StatusEvent.BEGAN): Transition(running, LockEffect.TAKE),  # a retried begin
        # A stopped execution runs no lifecycle task: the bot ends it (CANCELLATION_RECORDED).
        (approved, StatusEvent.CANCELLED): Transition(
            OperationStatus.CANCELLED, audit="operation.cancel_requested"
        ),
        (running, StatusEvent.CANCELLED): Transition(
            OperationStatus.CANCELLED, audit="operation.cancel_requested"
        ),
        (running, StatusEvent.SUCCEEDED): _ending(OperationStatus.SUCCEEDED),
    }
    for event, outcome in ENDINGS.items():
        if event != StatusEvent.SUCCEEDED:  # only a running restore succeeds
            for status in ACTIVE_STATUSES:
                table[(status, event)] = _ending(outcome)
        for status in TERMINAL_STATUSES:
            # Its own outcome again completes what is left; another outcome does nothing.
            table[(status, event)] = _ending(outcome) if status == outcome else Transition(status)
    return table


TRANSITIONS: dict[tuple[OperationStatus, StatusEvent], Transition] = _build_table()


def transition_for(status: OperationStatus, event: StatusEvent, operation_id: str) -> Transition:
    """The table's cell, or InvalidTransitionError naming the status and the event."""
    cell = TRANSITIONS.get((status, event))
    if cell is None:
        raise InvalidTransitionError(
            f"operation {operation_id} is {status}: `{event}` is not a legal transition from it",
            current_status=status,
        )
    return cell


def apply(
    ctx: PipelineContext,
    operation_id: str,
    event: StatusEvent,
    *,
    actor: str = PIPELINE_ACTOR,
    audit_detail: Mapping[str, Any] | None = None,
    outcome: str | None = None,
    error: str | None = None,
    only_from: Collection[OperationStatus] | None = None,
    condition: tuple[str, dict[str, str], dict[str, Any]] | None = None,
    **fields: Any,
) -> Operation:
    """Apply `event` to the operation as the table says, and return the operation after it.

    `fields` are written with the status (`decided_by`, ...), and `error` too when given;
    `audit_detail` is the moving audit event's detail. An ending event takes `outcome`, the
    sentence its audit event and terminal event carry (a default one when absent). `only_from` narrows the statuses
    the caller acts on: found otherwise, even after a race, InvalidTransitionError. A move is
    written only while `condition` (pipeline.store's form) holds too: InvalidTransitionError
    when it does not.
    """
    for _ in range(_ATTEMPTS):
        operation = ctx.store.get(operation_id)
        status = operation.status
        if only_from is not None and status not in only_from:
            raise InvalidTransitionError(
                f"operation {operation_id} is {status}: `{event}` applies only from "
                f"{', '.join(sorted(only_from))}",
                current_status=status,
            )
        cell = transition_for(status, event, operation_id)
        if cell.lock == LockEffect.TAKE:
            ctx.store.acquire_lock(
                operation.target_cluster, operation_id, ttl_seconds=ctx.settings.lock_ttl_seconds
            )
        moves = cell.to != status
        if moves:
            written = {**fields, **({"error": error} if error else {})}
            try:
                operation = ctx.store.transition(
                    operation_id, cell.to, expected={status}, condition=condition, **written
                )
            except InvalidTransitionError:
                if condition is not None and ctx.store.get(operation_id).status == status:
                    raise  # the status is as expected: `condition` is what failed
                continue  # another writer won: apply the event to what it wrote
        if cell.lock == LockEffect.RELEASE:
            ctx.store.release_lock(operation.target_cluster, operation_id)
        if cell.ends:
            return _end(
                ctx, operation, cell.to, outcome or _outcome_detail(operation, error), error
            )
        if moves and cell.audit is not None:
            ctx.store.audit(operation_id, actor, cell.audit, dict(audit_detail or {}))
        return operation
    raise InvalidTransitionError(
        f"operation {operation_id} kept changing while `{event}` was applied to it",
        current_status=ctx.store.get(operation_id).status,
    )


def _end(
    ctx: PipelineContext,
    operation: Operation,
    outcome: OperationStatus,
    detail: str,
    error: str | None,
) -> Operation:
    """The end's effects, once: keyed by the finish stage's record, so a retry publishes only
    what a failed publish left behind."""
    operation_id = operation.operation_id
    ended = operation.stages.get(Stage.FINISH)
    if ended is not None and ended.status != StageStatus.STARTED:
        ctx.reporter.finished(
            operation_id,
            Stage.FINISH,
            ended.status,
            ended.detail,
            resources=shown_resources(operation.resources),
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
        resources=shown_resources(operation.resources),
        operation_status=outcome,
    )
    return ctx.store.get(operation_id)


def _fail_stage_in_flight(ctx: PipelineContext, operation: Operation, reason: str) -> None:
    """A stage still marked started when the operation ends did not finish: say so."""
    for stage, record in operation.stages.items():
        if stage != Stage.FINISH and record.status == StageStatus.STARTED:
            ctx.reporter.finished(operation.operation_id, stage, StageStatus.FAILED, reason)


def _outcome_detail(operation: Operation, error: str | None) -> str:
    """The sentence an ending says when its caller gives none."""
    target = f"`{operation.target_cluster}`"
    outcome = operation.status
    if outcome == OperationStatus.FAILED:
        return f"Restore of {target} failed: {error}"
    if outcome == OperationStatus.DENIED:
        by = f" by {operation.decided_by}" if operation.decided_by else ""
        return f"Restore of {target} was denied{by}"
    if outcome == OperationStatus.EXPIRED:
        return f"Nobody approved the restore of {target} in time; the request expired"
    if outcome == OperationStatus.CANCELLED:
        by = f" by {operation.cancelled_by}" if operation.cancelled_by else ""
        return f"Restore of {target} was cancelled{by}"
    return f"Restore of {target} ended: {outcome}"
