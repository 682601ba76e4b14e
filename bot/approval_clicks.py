"""Approve, deny and cancel: authorise the person, make the decision with a conditional write
(first writer wins), then answer the waiting workflow with its task token.

Each function returns what to tell the person who clicked (ephemerally); the caller refreshes
the card from the store afterwards, so the card always shows what was actually decided.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass

from bot.deps import BotDependencies
from bot.policy import can_approve, can_cancel
from bot.restore_flow import BOT_ACTOR_PREFIX
from bot.task_answers import TaskAnswer, TaskError, send_task_failure, send_task_success
from bot.text import STATUS_WORDS, slack_date, user
from pipeline.errors import (
    AlreadyDecidedError,
    AuroraRestoreError,
    InvalidTransitionError,
    RetryableError,
)
from pipeline.models import Operation, OperationStatus

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


def _refusal(
    deps: BotDependencies, operation: Operation, clicker: str, *, approvals_so_far: list[str]
) -> ClickResult | None:
    """Why this click cannot decide (already settled, or not allowed by the policy), if so."""
    if operation.status != OperationStatus.PENDING_APPROVAL:
        return ClickResult(_settled(operation), changed=False)
    decision = can_approve(
        deps.policy,
        clicker=clicker,
        groups_of_clicker=deps.groups_of(clicker),
        requester=operation.request.requester,
        approvals_so_far=approvals_so_far,
    )
    if not decision.allowed:
        return ClickResult(f":no_entry: {decision.message}", changed=False)
    return None


def approve(deps: BotDependencies, operation_id: str, clicker: str) -> ClickResult:
    store = deps.store
    operation = store.get(operation_id)
    refusal = _refusal(deps, operation, clicker, approvals_so_far=operation.approvers)
    if refusal is not None:
        return refusal
    token = store.task_token(operation_id)
    if token is None:
        return ClickResult(
            ":hourglass: This request is not ready for a decision yet; try again in a moment.",
            changed=False,
        )
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
    missing = operation.required_approvals - len(operation.approvers)
    if missing > 0:
        return ClickResult(
            f":ballot_box_with_check: Your approval is recorded. `{operation.target_cluster}` needs "
            f"{missing} more approval{'s' if missing > 1 else ''} from a different approver.",
            changed=True,
        )
    try:
        operation = store.transition(
            operation_id,
            OperationStatus.APPROVED,
            expected={OperationStatus.PENDING_APPROVAL},
            decided_by=clicker,
        )
    except InvalidTransitionError:
        return ClickResult(_settled(store.get(operation_id)), changed=False)
    store.audit(
        operation_id,
        _actor(clicker),
        "approval.decided",
        {"outcome": "approved", "approvers": operation.approvers},
    )
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
    # An approver who already approved may still change their mind and deny.
    refusal = _refusal(deps, operation, clicker, approvals_so_far=[])
    if refusal is not None:
        return refusal
    try:
        operation = _close_pending(
            deps,
            operation_id,
            OperationStatus.DENIED,
            clicker=clicker,
            error=TaskError.DENIED,
            audit=("approval.decided", {"outcome": "denied"}),
            decided_by=clicker,
        )
    except InvalidTransitionError:
        return ClickResult(_settled(store.get(operation_id)), changed=False)
    return ClickResult(
        f":no_entry: Denied. Nothing will be restored into `{operation.target_cluster}`.",
        changed=True,
    )


def cancel(deps: BotDependencies, operation_id: str, clicker: str) -> ClickResult:
    store = deps.store
    operation = store.get(operation_id)
    if operation.status.is_terminal:
        return ClickResult(
            f":information_source: `{operation_id}` has already ended: "
            f"{STATUS_WORDS[operation.status]}.",
            changed=False,
        )
    decision = can_cancel(
        deps.policy,
        clicker=clicker,
        groups_of_clicker=deps.groups_of(clicker),
        requester=operation.request.requester,
    )
    if not decision.allowed:
        return ClickResult(f":no_entry: {decision.message}", changed=False)
    if operation.status == OperationStatus.PENDING_APPROVAL:
        return _cancel_pending(deps, operation, clicker)
    return _cancel_running(deps, operation, clicker)


def _cancel_pending(deps: BotDependencies, operation: Operation, clicker: str) -> ClickResult:
    store, operation_id = deps.store, operation.operation_id
    try:
        operation = _close_pending(
            deps,
            operation_id,
            OperationStatus.CANCELLED,
            clicker=clicker,
            error=TaskError.CANCELLED,
            audit=("operation.cancel_requested", {"was": "pending"}),
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
    outcome: OperationStatus,
    *,
    clicker: str,
    error: TaskError,
    audit: tuple[str, dict[str, str]],
    **fields: str,
) -> Operation:
    """PENDING_APPROVAL → denied or cancelled (first writer wins, else InvalidTransitionError);
    then the workflow hears of it (the state machine records the outcome) and the lock goes."""
    store = deps.store
    operation = store.transition(
        operation_id, outcome, expected={OperationStatus.PENDING_APPROVAL}, **fields
    )
    store.audit(operation_id, _actor(clicker), *audit)
    token = store.task_token(operation_id)
    try:
        # Without a token yet, the request-approval task sees the outcome and fails the task.
        if token is not None:
            send_task_failure(deps, token, error, f"{STATUS_WORDS[outcome]} by {clicker}")
    except AuroraRestoreError as exc:
        # The decision stands (nothing can run: the restore begins only from APPROVED); the
        # workflow, never told, ends at its approval expiry.
        logger.warning("could not tell the workflow of %s: %s", operation_id, exc.message)
    finally:
        store.release_lock(operation.target_cluster, operation_id)
    return operation


def _cancel_running(deps: BotDependencies, operation: Operation, clicker: str) -> ClickResult:
    from pipeline.stages.lifecycle import finish_operation

    store, operation_id = deps.store, operation.operation_id
    if operation.execution_arn:
        deps.stepfunctions.stop_execution(
            executionArn=operation.execution_arn,
            error=str(TaskError.CANCELLED),
            cause=f"cancelled by {clicker}",
        )
    try:
        store.transition(
            operation_id,
            OperationStatus.CANCELLED,
            expected={OperationStatus.APPROVED, OperationStatus.RUNNING},
            cancelled_by=clicker,
        )
    except InvalidTransitionError:
        return ClickResult(_settled(store.get(operation_id)), changed=False)
    store.audit(
        operation_id,
        _actor(clicker),
        "operation.cancel_requested",
        {"was": str(operation.status), "stage": str(operation.current_stage or "")},
    )
    # A stopped execution runs no lifecycle task, so the bot finishes the operation itself:
    # release the lock, close the stage in flight, publish the terminal event.
    finish_operation(
        deps.pipeline,
        operation_id,
        OperationStatus.CANCELLED,
        f"Restore of `{operation.target_cluster}` was cancelled by {user(clicker)}",
    )
    leftovers = ", ".join(f"`{v}`" for v in operation.resources.values())
    return ClickResult(
        f":heavy_multiplication_x: Cancelled `{operation_id}` and stopped its workflow."
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
    from pipeline.stages.lifecycle import finish_operation

    operation_id, target = operation.operation_id, operation.target_cluster
    deps.store.audit(operation_id, _actor(clicker), "approval.too_late", {"answer": str(answer)})
    if answer == TaskAnswer.CLOSED:
        finish_operation(
            deps.pipeline,
            operation_id,
            OperationStatus.EXPIRED,
            f"Nobody approved the restore of `{target}` in time; the request expired",
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
    finish_operation(
        deps.pipeline,
        operation_id,
        OperationStatus.FAILED,
        f"Restore of `{target}` failed: {reason}",
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
    with suppress(InvalidTransitionError):  # decided otherwise meanwhile: the card will say so
        deps.store.transition(
            operation_id,
            OperationStatus.PENDING_APPROVAL,
            expected={OperationStatus.APPROVED},
            decided_by=None,
            approvers=[a for a in operation.approvers if a != clicker],
        )
    retryable = isinstance(exc, RetryableError)
    deps.store.audit(
        operation_id,
        _actor(clicker),
        "approval.handoff_failed",
        {"error": exc.aws_error or exc.message, "retryable": retryable},
    )
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
        f"Clicking again will not help until {_who_fixes(exc)}. Your approval was taken back "
        f"and nothing is running{expires}; once it is fixed, approve again.",
        changed=True,
    )


# What the workflow's refusals need, by AWS error code (SendTaskSuccess's errors).
_FIXES = {
    "AccessDenied": "an operator allows the Slack endpoint's IAM role `states:SendTaskSuccess` "
    "on this state machine (the deployment's IAM policy)",
    "KmsAccessDeniedException": "an operator lets the Slack endpoint use the state machine's "
    "KMS key (its key policy, or the role's)",
    "KmsInvalidStateException": "an operator enables the state machine's KMS key again",
}


def _who_fixes(exc: AuroraRestoreError) -> str:
    code = (exc.aws_error or "").split(":", 1)[0].strip()
    fix = _FIXES.get("AccessDenied" if code.startswith("AccessDenied") else code)
    return fix or "an operator looks into it (the Slack endpoint's log has this error)"
