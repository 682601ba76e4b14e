"""Starting a restore (the lazy half of `/restore`): authorise, resolve the plan, create the
operation, lock the target and start the execution, or leave nothing half-done.

Lambda may run the lazy work twice for one command, so the operation id is derived from the
command itself: a repeat finds the operation it already created instead of making a second one.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from bot.deps import BotDependencies
from bot.errors import friendly_error
from bot.grammar import RollbackCommand
from bot.policy import can_request, check_target, required_approvals, retention_for
from bot.response_url import response_urls
from bot.text import STATUS_WORDS, plan_summary
from pipeline.errors import OperationExistsError, RollbackRefusedError, TargetLockedError
from pipeline.lifecycle import StatusEvent, apply
from pipeline.models import Operation, OperationStatus, RestoreRequest

BOT_ACTOR_PREFIX = "slack:"


def operation_id_for(command_key: str, requested_at: datetime) -> str:
    """A valid operation id (`ar-<utc time>-<6 hex>`) that is the same for a repeated command."""
    digest = hashlib.sha256(command_key.encode()).hexdigest()[:6]
    return f"ar-{requested_at.astimezone(UTC):%Y%m%d%H%M%S}-{digest}"


def start_restore(
    deps: BotDependencies,
    request: RestoreRequest,
    *,
    operation_id: str,
    response_url: str | None = None,
    requested_at: datetime | None = None,
) -> str:
    """Do the work and return the ephemeral answer for the requester (never raises).
    `response_url` is kept with the operation (bot/response_url.py): if the card cannot be
    posted in the channel (the app is not in it), it is the one way left to tell the requester.
    Its 30 minutes start at `requested_at`, the command's invocation."""
    try:
        return _start_restore(deps, request, operation_id, response_url, requested_at)
    except Exception as exc:
        return friendly_error(exc, action="start your restore")


def start_rollback(
    deps: BotDependencies,
    command: RollbackCommand,
    *,
    operation_id: str,
    response_url: str | None = None,
    requested_at: datetime | None = None,
) -> str:
    """A rollback is a restore of its own (approvals, lock, card, the same state machine) whose
    request names the operation rolled back; the plan (pipeline.rollback) says if it can be."""
    try:
        request = _rollback_request(deps, command)
    except Exception as exc:
        return friendly_error(exc, action="start your rollback")
    return start_restore(
        deps,
        request,
        operation_id=operation_id,
        response_url=response_url,
        requested_at=requested_at,
    )


def _rollback_request(deps: BotDependencies, command: RollbackCommand) -> RestoreRequest:
    original = deps.store.get(command.operation_id)
    plan = original.plan
    if plan is None or not plan.swap_target or plan.kept_cluster_id is None:
        raise RollbackRefusedError(
            f"operation `{command.operation_id}` did not replace its target through a swap, so "
            "no cluster was kept to roll back to"
        )
    return RestoreRequest(
        snapshot=plan.kept_cluster_id,
        target_cluster=original.target_cluster,
        replace=True,
        rollback_of=command.operation_id,
        requester=command.requester,
        origin=command.origin,
    )


def _start_restore(
    deps: BotDependencies,
    request: RestoreRequest,
    operation_id: str,
    response_url: str | None,
    requested_at: datetime | None,
) -> str:
    from pipeline.plan import resolve_plan
    from pipeline.rollback import resolve_rollback_plan

    policy = deps.policy
    decision = can_request(policy, request.requester, deps.groups_of(request.requester))
    if decision.allowed:
        decision = check_target(policy, request.target_cluster, replace=request.replace)
    if not decision.allowed:
        return f":no_entry: {decision.message}"
    # The policy's retention for the target travels with the request: the pipeline reads no policy.
    request = request.model_copy(
        update={"retention": retention_for(policy, request.target_cluster)}
    )

    resolve = resolve_rollback_plan if request.rollback_of else resolve_plan
    plan = resolve(request, operation_id, deps.pipeline)
    if request.dry_run:
        return plan_summary(request, plan)

    now = deps.clock()
    actor = BOT_ACTOR_PREFIX + request.requester
    try:
        deps.store.create(
            operation_id,
            request,
            required_approvals=required_approvals(policy, request.target_cluster),
            approval_expires_at=now + timedelta(seconds=policy.approval_expiry_seconds),
            now=now,
        )
        deps.store.update(operation_id, plan=plan)
        if response_url:
            # One use already: this answer goes back through it (Bolt's `respond`).
            response_urls(deps).keep(
                operation_id, response_url, issued_at=requested_at or now, uses=1
            )
        deps.store.audit(
            operation_id, actor, "operation.requested", {"request": request.model_dump(mode="json")}
        )
    except OperationExistsError:
        existing = deps.store.get(operation_id)
        if existing.status != OperationStatus.PENDING_APPROVAL or existing.execution_arn:
            return _already_started(existing)
        # A repeat of a start that stopped half-way: locking and starting again are idempotent.

    try:
        # Held through the whole approval wait and then the restore; BeginRestore renews it.
        deps.store.acquire_lock(
            request.target_cluster,
            operation_id,
            ttl_seconds=policy.approval_expiry_seconds + deps.pipeline.settings.lock_ttl_seconds,
        )
    except TargetLockedError as exc:
        _abandon(deps, operation_id, actor, f"target locked by {exc.holder}")
        return _locked_message(deps, request.target_cluster, exc.holder)
    except Exception as exc:
        _abandon(deps, operation_id, actor, f"could not lock the target: {type(exc).__name__}")
        raise

    try:
        execution = deps.stepfunctions.start_execution(
            stateMachineArn=deps.settings.state_machine_arn,
            name=operation_id,
            input=json.dumps(
                {
                    "operation_id": operation_id,
                    "approval_timeout_seconds": policy.approval_expiry_seconds,
                }
            ),
        )
    except Exception as exc:
        # Nothing half-done: the lock goes and the operation says why it never started.
        _abandon(deps, operation_id, actor, f"could not start the workflow: {type(exc).__name__}")
        raise
    deps.store.update(operation_id, execution_arn=execution["executionArn"])
    if request.rollback_of:
        return (
            f":white_check_mark: Rollback requested: `{operation_id}`. An approval card for "
            f"rolling `{request.target_cluster}` back to `{request.snapshot}` is on its way to "
            f"this channel; follow progress in its thread or with `/restore status {operation_id}`."
        )
    return (
        f":white_check_mark: Restore requested: `{operation_id}`. "
        f"An approval card for `{request.snapshot}` → `{request.target_cluster}` is on its way to "
        f"this channel; follow progress in its thread or with `/restore status {operation_id}`."
    )


def _abandon(deps: BotDependencies, operation_id: str, actor: str, reason: str) -> None:
    """PENDING_APPROVAL → FAILED; the lock is released if this operation holds it."""
    apply(
        deps.pipeline,
        operation_id,
        StatusEvent.NOT_STARTED,
        actor=actor,
        audit_detail={"reason": reason},
        only_from={OperationStatus.PENDING_APPROVAL},
        error=reason,
    )


def _locked_message(deps: BotDependencies, target: str, holder: str | None) -> str:
    who = ""
    if holder:
        try:
            holding = deps.store.get(holder)
            who = f" (asked by <@{holding.request.requester}>, {STATUS_WORDS[holding.status]})"
        except Exception:
            who = ""
    return (
        f":lock: `{target}` is busy: restore `{holder}`{who} holds it. Wait for it to finish, "
        f"or cancel it with `/restore cancel {holder}`."
    )


def _already_started(operation: Operation) -> str:
    return (
        f":information_source: This request is already `{operation.operation_id}` "
        f"({STATUS_WORDS[operation.status]})."
    )
