"""Approve, deny and cancel: the I/O around `bot.policy.decide_click` (the pure decision). The
status changes are events of `pipeline.lifecycle` (conditional writes: first writer wins); then
the waiting workflow is answered with its task token.

Each function returns what to tell the person who clicked (ephemerally); the caller refreshes
the card from the store afterwards, so the card always shows what was actually decided.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.deps import BotDependencies
from bot.handoff_fixes import who_fixes
from bot.policy import ClickAction, ClickDecision, ClickVerdict, decide_click, missing_approvals
from bot.restore_flow import BOT_ACTOR_PREFIX
from bot.task_answers import TaskAnswer, TaskError, send_task_failure, send_task_success
from bot.text import STATUS_WORDS, slack_date, swap_underway_reply, user
from pipeline.copy_cleanup import discard_copy
from pipeline.errors import (
    AlreadyDecidedError,
    AuroraRestoreError,
    InvalidTransitionError,
    RetryableError,
)
from pipeline.lifecycle import StatusEvent, apply
from pipeline.models import Operation, OperationStatus
from pipeline.swap_guard import SWAP_NOT_STARTED, swap_underway

logger = logging.getLogger("aurora_restore.bot.approval_clicks")


@dataclass(frozen=True)
class ClickResult:
    reply: str  # ephemeral, to the person who acted
    changed: bool  # True when this person's action changed the operation


def _actor(user_id: str) -> str:
    return BOT_ACTOR_PREFIX + user_id


def _settled(operation: Operation) -> str:
    who = f" by {user(operation.decided_by)}" if operation.decided_by else ""
    if operation.status == OperationStatus.CANCELLED and operation.cancelled_by:
        who = f" by {user(operation.cancelled_by)}"
    return (
        f":information_source: `{operation.operation_id}` was already decided: it is "
        f"{STATUS_WORDS[operation.status]}{who}. Nothing more to do."
    )


def _answer(operation: Operation, decision: ClickDecision) -> ClickResult | None:
    """The reply to a click that changes nothing, if the decision is one."""
    if decision.verdict == ClickVerdict.SETTLED:
        return ClickResult(_settled(operation), changed=False)
    if decision.verdict == ClickVerdict.ENDED:
        return ClickResult(
            f":information_source: `{operation.operation_id}` has already ended: "
            f"{STATUS_WORDS[operation.status]}.",
            changed=False,
        )
    if decision.verdict == ClickVerdict.REFUSED:
        return ClickResult(f":no_entry: {decision.message}", changed=False)
    if decision.verdict == ClickVerdict.NOT_READY:
        return ClickResult(
            ":hourglass: This request is not ready for a decision yet; try again in a moment.",
            changed=False,
        )
    return None


def _decide(
    deps: BotDependencies,
    operation: Operation,
    clicker: str,
    action: ClickAction,
    *,
    has_task_token: bool = True,
) -> ClickDecision:
    return decide_click(
        operation,
        clicker,
        action,
        policy=deps.policy,
        groups_of_clicker=lambda: deps.groups_of(clicker),
        has_task_token=has_task_token,
    )


def approve(deps: BotDependencies, operation_id: str, clicker: str) -> ClickResult:
    store = deps.store
    operation = store.get(operation_id)
    pending = operation.status == OperationStatus.PENDING_APPROVAL
    token = store.task_token(operation_id) if pending else None
    decision = _decide(deps, operation, clicker, ClickAction.APPROVE, has_task_token=bool(token))
    refusal = _answer(operation, decision)
    if refusal is not None:
        return refusal
    assert token is not None  # RECORD_APPROVAL is decided only with a token
    try:
        operation = store.add_approval(operation_id, clicker)
    except AlreadyDecidedError:
        current = store.get(operation_id)
        if current.status != OperationStatus.PENDING_APPROVAL:
            return ClickResult(_settled(current), changed=False)
        return ClickResult(
            ":information_source: Your approval was already recorded.", changed=False
        )
    store.audit(
        operation_id,
        _actor(clicker),
        "approval.approved",
        {"approvals": len(operation.approvers), "required": operation.required_approvals},
    )
    missing = missing_approvals(operation)
    if missing > 0:
        return ClickResult(
            f":ballot_box_with_check: Your approval is recorded. `{operation.target_cluster}` needs "
            f"{missing} more approval{'s' if missing > 1 else ''} from a different approver.",
            changed=True,
        )
    try:
        operation = apply(
            deps.pipeline,
            operation_id,
            StatusEvent.APPROVED,
            actor=_actor(clicker),
            audit_detail={"outcome": "approved", "approvers": operation.approvers},
            only_from={OperationStatus.PENDING_APPROVAL},
            decided_by=clicker,
        )
    except InvalidTransitionError:
        return ClickResult(_settled(store.get(operation_id)), changed=False)
    try:
        answer = send_task_success(deps, token, operation.approvers)
    except AuroraRestoreError as exc:
        return _handoff_failed(deps, operation, clicker, exc)
    if answer != TaskAnswer.ANSWERED:
        return _no_longer_waiting(deps, operation, clicker, answer)
    return ClickResult(
        f":white_check_mark: Approved. The restore into `{operation.target_cluster}` is starting; "
        "progress follows in the card's thread.",
        changed=True,
    )


def deny(deps: BotDependencies, operation_id: str, clicker: str) -> ClickResult:
    store = deps.store
    operation = store.get(operation_id)
    refusal = _answer(operation, _decide(deps, operation, clicker, ClickAction.DENY))
    if refusal is not None:
        return refusal
    try:
        operation = _close_pending(
            deps,
            operation_id,
            StatusEvent.DENIED,
            clicker=clicker,
            error=TaskError.DENIED,
            audit_detail={"outcome": "denied"},
            decided_by=clicker,
        )
    except InvalidTransitionError:
        return ClickResult(_settled(store.get(operation_id)), changed=False)
    return ClickResult(
        f":no_entry: Denied. Nothing will be restored into `{operation.target_cluster}`.",
        changed=True,
    )


def cancel(deps: BotDependencies, operation_id: str, clicker: str) -> ClickResult:
    operation = deps.store.get(operation_id)
    decision = _decide(deps, operation, clicker, ClickAction.CANCEL)
    refusal = _answer(operation, decision)
    if refusal is not None:
        return refusal
    if decision.verdict == ClickVerdict.CANCEL_PENDING:
        return _cancel_pending(deps, operation, clicker)
    return _cancel_running(deps, operation, clicker)


def _cancel_pending(deps: BotDependencies, operation: Operation, clicker: str) -> ClickResult:
    store, operation_id = deps.store, operation.operation_id
    try:
        operation = _close_pending(
            deps,
            operation_id,
            StatusEvent.CANCELLED,
            clicker=clicker,
            error=TaskError.CANCELLED,
            audit_detail={"was": "pending"},
            cancelled_by=clicker,
        )
    except InvalidTransitionError:
        current = store.get(operation_id)
        if current.status.is_terminal:
            return ClickResult(_settled(current), changed=False)
        return _cancel_running(deps, current, clicker)  # approved in the meantime
    return ClickResult(
        f":heavy_multiplication_x: Cancelled `{operation_id}` before approval; nothing was changed.",
        changed=True,
    )


def _close_pending(
    deps: BotDependencies,
    operation_id: str,
    event: StatusEvent,
    *,
    clicker: str,
    error: TaskError,
    audit_detail: dict[str, str],
    **fields: Any,
) -> Operation:
    """PENDING_APPROVAL → denied or cancelled (first writer wins, else InvalidTransitionError),
    which frees the target; then the workflow hears of it (the state machine records the
    outcome)."""
    operation = apply(
        deps.pipeline,
        operation_id,
        event,
        actor=_actor(clicker),
        audit_detail=audit_detail,
        only_from={OperationStatus.PENDING_APPROVAL},
        **fields,
    )
    token = deps.store.task_token(operation_id)
    try:
        # Without a token yet, the request-approval task sees the outcome and fails the task.
        if token is not None:
            send_task_failure(deps, token, error, f"{STATUS_WORDS[operation.status]} by {clicker}")
    except AuroraRestoreError as exc:
        # The decision stands (nothing can run: the restore begins only from APPROVED); the
        # workflow, never told, ends at its approval expiry.
        logger.warning("could not tell the workflow of %s: %s", operation_id, exc.message)
    return operation


def _cancel_running(deps: BotDependencies, operation: Operation, clicker: str) -> ClickResult:
    store, operation_id = deps.store, operation.operation_id
    # Written before the workflow is stopped, and only while no swap has begun (the swap's start
    # is written only while the operation runs): pipeline.swap_guard.
    try:
        apply(
            deps.pipeline,
            operation_id,
            StatusEvent.CANCELLED,
            actor=_actor(clicker),
            audit_detail={
                "was": str(operation.status),
                "stage": str(operation.current_stage or ""),
            },
            only_from={OperationStatus.APPROVED, OperationStatus.RUNNING},
            condition=SWAP_NOT_STARTED,
            cancelled_by=clicker,
        )
    except InvalidTransitionError:
        current = store.get(operation_id)
        if swap_underway(current):
            return ClickResult(swap_underway_reply(current), changed=False)
        return ClickResult(_settled(current), changed=False)
    if operation.execution_arn:
        deps.stepfunctions.stop_execution(
            executionArn=operation.execution_arn,
            error=str(TaskError.CANCELLED),
            cause=f"cancelled by {clicker}",
        )
    # A stopped execution runs no lifecycle task, so the bot ends the operation itself:
    # delete the intermediate copy it started (a copy in progress is cancelled by that), release
    # the lock, close the stage in flight, publish the terminal event.
    fate = discard_copy(deps.pipeline, store.get(operation_id))
    outcome = f"Restore of `{operation.target_cluster}` was cancelled by {user(clicker)}"
    apply(
        deps.pipeline,
        operation_id,
        StatusEvent.CANCELLATION_RECORDED,
        outcome=f"{outcome}. {fate.sentence}" if fate else outcome,
    )
    left = {
        name: value
        for name, value in operation.resources.items()
        if not (fate and value == fate.copy_id and not fate.left)
    }
    leftovers = ", ".join(f"`{v}`" for v in left.values())
    return ClickResult(
        f":heavy_multiplication_x: Cancelled `{operation_id}` and stopped its workflow."
        + (f" {fate.sentence}." if fate else "")
        + (
            f" Resources it had already created are left as they are: {leftovers}."
            if leftovers
            else ""
        ),
        changed=True,
    )


def _no_longer_waiting(
    deps: BotDependencies, operation: Operation, clicker: str, answer: TaskAnswer
) -> ClickResult:
    """The workflow no longer waits for this approval, so it can never reach it: settle the
    operation (its terminal event, the target freed), so nothing stays pending.
    - CLOSED (TaskTimedOut): the wait expired (or the task was closed): EXPIRED, as the
      workflow's own expiry records it (whichever comes first stands; the other adds nothing).
    - TASK_UNKNOWN: no execution knows the token (it ended without a decision, stopped say,
      or the token is damaged): its execution is stopped, should it still wait, and the
      operation FAILED with the reason."""
    operation_id, target = operation.operation_id, operation.target_cluster
    deps.store.audit(operation_id, _actor(clicker), "approval.too_late", {"answer": str(answer)})
    if answer == TaskAnswer.CLOSED:
        apply(
            deps.pipeline,
            operation_id,
            StatusEvent.EXPIRED,
            outcome=f"Nobody approved the restore of `{target}` in time; the request expired",
        )
        return ClickResult(
            ":alarm_clock: Too late: this request had already expired, so nothing will run. "
            "Ask for a new restore if it is still needed.",
            changed=True,
        )
    reason = "Step Functions no longer knows its approval task (its workflow ended without one)"
    if operation.execution_arn:
        try:
            deps.stepfunctions.stop_execution(
                executionArn=operation.execution_arn, error="ApprovalTaskUnknown", cause=reason
            )
        except Exception as exc:  # ended already: nothing waits, which is the point
            logger.info("execution of %s not stopped: %s", operation_id, type(exc).__name__)
    apply(
        deps.pipeline,
        operation_id,
        StatusEvent.FAILED,
        outcome=f"Restore of `{target}` failed: {reason}",
        error=reason,
    )
    return ClickResult(
        ":no_entry: This request is no longer waiting for a decision: "
        f"{reason}, so your approval cannot reach it and nothing will run. It is closed as "
        "failed; ask for a new restore if it is still needed.",
        changed=True,
    )


def _handoff_failed(
    deps: BotDependencies, operation: Operation, clicker: str, exc: AuroraRestoreError
) -> ClickResult:
    """The workflow could not be told: take this approval back, so the request is pending
    again (its card shows the buttons) and a later click hands it over; nothing runs meanwhile.
    Should the hand-off have reached Step Functions after all, BeginRestore finds the request
    not approved and the restore fails before touching anything. Clicking again helps only
    when the failure was transient (throttling, AWS unreachable); a refusal (AccessDenied, the
    state machine's KMS key) stays until an operator fixes the deployment, and says so."""
    operation_id = operation.operation_id
    retryable = isinstance(exc, RetryableError)
    detail = {"error": exc.aws_error or exc.message, "retryable": retryable}
    try:
        apply(
            deps.pipeline,
            operation_id,
            StatusEvent.APPROVAL_WITHDRAWN,
            actor=_actor(clicker),
            audit_detail=detail,
            only_from={OperationStatus.APPROVED},
            decided_by=None,
            approvers=[a for a in operation.approvers if a != clicker],
        )
    except InvalidTransitionError:  # decided otherwise meanwhile: the card will say so
        deps.store.audit(operation_id, _actor(clicker), "approval.handoff_failed", detail)
    expires = (
        f"; the request still expires {slack_date(operation.approval_expires_at)}"
        if operation.approval_expires_at is not None
        else ""
    )
    if retryable:
        return ClickResult(
            f":warning: Your approval could not be handed to the workflow ({exc.message}), so "
            f"it was taken back and nothing is running. Click *Approve* again in a minute"
            f"{expires}.",
            changed=True,
        )
    logger.error("the approval of %s was refused: %s", operation_id, exc.aws_error or exc.message)
    return ClickResult(
        f":no_entry: Your approval could not be handed to the workflow: {exc.message}. "
        f"Clicking again will not help until {who_fixes(exc)}. Your approval was taken back "
        f"and nothing is running{expires}; once it is fixed, approve again.",
        changed=True,
    )
