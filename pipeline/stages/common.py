"""Helpers every stage uses: load the stored plan, report fatal failures, shape check results."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypedDict

from pipeline.context import PipelineContext
from pipeline.errors import FatalError, InvalidTransitionError
from pipeline.models import Operation, OperationStatus, Plan, Stage, StageStatus
from pipeline.wait_budgets import WaitLoop, exhausted


class CheckResult(TypedDict):
    """What every check stage returns: the state machine's Choice reads both fields."""

    ready: bool
    attempt: int


def ensure_acting(operation: Operation) -> None:
    """Raise InvalidTransitionError once the operation has ended. StopExecution (a cancel) cannot
    stop a Lambda invocation already in flight: that invocation must not go on to copy, delete,
    restore or set up anything for a restore that was cancelled (or failed) in the meantime."""
    if operation.status.is_terminal:
        raise InvalidTransitionError(
            f"operation {operation.operation_id} is {operation.status}: its stages do nothing more",
            current_status=operation.status,
        )


def hold_target_lock(ctx: PipelineContext, operation: Operation) -> None:
    """Renew the target lock for `lock_ttl_seconds` at every stage of a running restore, so it
    outlasts any restore however long its waits and retries (the lock's TTL is a safety net for
    a restore that died, not a bound on one that runs). Should another restore have taken it
    after it expired, this one stops here (TargetLockedError) rather than run beside it."""
    if operation.status == OperationStatus.RUNNING:
        ctx.store.acquire_lock(
            operation.target_cluster,
            operation.operation_id,
            ttl_seconds=ctx.settings.lock_ttl_seconds,
        )


def load_plan(ctx: PipelineContext, operation_id: str) -> tuple[Operation, Plan]:
    operation = ctx.store.get(operation_id)
    ensure_acting(operation)
    hold_target_lock(ctx, operation)
    if operation.plan is None:
        raise FatalError(f"operation {operation_id} has no plan: the validate stage did not run")
    return operation, operation.plan


@contextmanager
def failing_stage(ctx: PipelineContext, operation_id: str, stage: Stage) -> Iterator[None]:
    """Mark the stage failed on a fatal error, then re-raise for the state machine's Catch.

    Retryable errors pass through untouched: the state machine retries them, and a stage shown as
    failed that then succeeds would mislead whoever reads the thread.
    """
    try:
        yield
    except FatalError as exc:
        ctx.reporter.finished(operation_id, stage, StageStatus.FAILED, exc.message)
        raise


def still_waiting(
    attempt: int,
    ctx: PipelineContext | None = None,
    operation_id: str = "",
    loop: WaitLoop | None = None,
    what: str = "",
    state: str = "",
) -> CheckResult:
    """The loop goes on; given the context and its `loop`, a check that reaches the loop's
    budget raises WaitExhaustedError instead, naming `what` it waited for, the `state` it was
    still in and how long it was waited for."""
    if ctx is not None and loop is not None:
        budget = ctx.settings.wait_budgets()[loop]
        if attempt + 1 >= budget:
            stage = ctx.store.get(operation_id).stages.get(_LOOP_STAGES[loop])
            exhausted(
                what,
                state,
                stage.started_at if stage else None,
                attempt + 1,
                f"the {loop} wait's budget of {budget} checks",
            )
    return CheckResult(ready=False, attempt=attempt + 1)


_LOOP_STAGES = {
    WaitLoop.COPY: Stage.COPY_SNAPSHOT,
    WaitLoop.SAFETY: Stage.DELETE_TARGET,
    WaitLoop.DELETE: Stage.DELETE_TARGET,
    WaitLoop.CLUSTER: Stage.RESTORE_CLUSTER,
    WaitLoop.INSTANCES: Stage.RESTORE_CLUSTER,
    WaitLoop.SWAP: Stage.SWAP,
    WaitLoop.UNDO: Stage.SWAP,
    WaitLoop.START: Stage.START_KEPT,
}


def ready(attempt: int) -> CheckResult:
    return CheckResult(ready=True, attempt=attempt + 1)


def instances_phrase(count: int, instance_class: str) -> str:
    return f"{count} instance{'s' if count != 1 else ''} of {instance_class}"
