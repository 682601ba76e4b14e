"""Lifecycle and finish: idempotent transitions, lock release, audit and the terminal event."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from pipeline.context import PipelineContext
from pipeline.errors import InvalidTransitionError
from pipeline.models import OperationStatus, ProgressEvent, Stage, StageStatus
from pipeline.stages.copy_snapshot import copy_snapshot
from pipeline.stages.finish import record_success
from pipeline.stages.lifecycle import LifecycleAction, error_text, run_lifecycle
from pipeline.stages.plan import validate_request
from tests.pipeline.conftest import SOURCE_REGION, Operations, RdsSeed

Progress = Callable[[], list[ProgressEvent]]


@pytest.fixture
def approved_op(ctx: PipelineContext, seed: RdsSeed, operations: Operations) -> str:
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    op_id = operations.create("prod-snap-1", "staging-db")
    validate_request(op_id, ctx)
    return op_id


def terminal_events(events: list[ProgressEvent]) -> list[ProgressEvent]:
    return [event for event in events if event.operation_status is not None]


def test_begin_runs_once_and_announces_skipped_stages(
    ctx: PipelineContext, operations: Operations, approved_op: str
) -> None:
    assert run_lifecycle(approved_op, LifecycleAction.BEGIN, ctx) == {"status": "RUNNING"}
    assert run_lifecycle(approved_op, LifecycleAction.BEGIN, ctx) == {"status": "RUNNING"}

    stored = ctx.store.get(approved_op)
    assert stored.stages[Stage.COPY_SNAPSHOT].status == StageStatus.SKIPPED
    assert stored.stages[Stage.DELETE_TARGET].status == StageStatus.SKIPPED
    assert operations.audit_actions(approved_op).count("operation.running") == 1


def test_begin_ends_the_approval_stage_once_with_its_latency(
    ctx: PipelineContext, operations: Operations, approved_op: str, progress: Progress
) -> None:
    ctx.reporter.started(approved_op, Stage.APPROVAL, "Approval needed from the approvers.")
    asked_at = ctx.store.get(approved_op).stages[Stage.APPROVAL].started_at

    run_lifecycle(approved_op, LifecycleAction.BEGIN, ctx)
    run_lifecycle(approved_op, LifecycleAction.BEGIN, ctx)  # a retried invocation

    record = ctx.store.get(approved_op).stages[Stage.APPROVAL]
    assert record.status == StageStatus.SUCCEEDED
    assert record.started_at == asked_at  # the latency runs from the card's ask to the start
    assert record.detail == "approved (1 approval)"
    ended = [e for e in progress() if e.stage == Stage.APPROVAL and e.status != StageStatus.STARTED]
    assert [(e.status, e.duration_seconds) for e in ended] == [
        (StageStatus.SUCCEEDED, record.duration_seconds)
    ]
    assert operations.audit_actions(approved_op).count("approval.succeeded") == 1


def test_begin_refuses_an_operation_that_was_not_approved(
    ctx: PipelineContext, operations: Operations
) -> None:
    op_id = operations.create("prod-snap-1", "staging-db", approve=False)
    with pytest.raises(InvalidTransitionError):
        run_lifecycle(op_id, LifecycleAction.BEGIN, ctx)


def test_fail_records_the_error_releases_the_lock_and_publishes_once(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations, progress: Progress
) -> None:
    seed.cluster("prod-db", region=SOURCE_REGION)
    seed.snapshot("prod-db", "prod-snap-1", region=SOURCE_REGION)
    op_id = operations.create("prod-snap-1", "staging-db", source_region=SOURCE_REGION)
    validate_request(op_id, ctx)
    run_lifecycle(op_id, LifecycleAction.BEGIN, ctx)
    copy_snapshot(op_id, ctx)  # started, never finished: the copy wait loop gave up
    error = {
        "Error": "WaitExhaustedError",
        "Cause": "gave up waiting for the snapshot copy after the maximum number of checks",
    }

    for _ in range(2):
        assert run_lifecycle(op_id, LifecycleAction.FAIL, ctx, error) == {"status": "FAILED"}

    stored = ctx.store.get(op_id)
    assert stored.error is not None and stored.error.startswith("WaitExhaustedError: gave up")
    assert stored.stages[Stage.COPY_SNAPSHOT].status == StageStatus.FAILED
    assert ctx.store.lock_holder("staging-db") is None
    assert operations.audit_actions(op_id).count("operation.failed") == 1
    [terminal] = terminal_events(progress())
    assert terminal.operation_status == OperationStatus.FAILED
    assert terminal.stage == Stage.FINISH and terminal.status == StageStatus.FAILED
    assert "gave up waiting" in terminal.detail


def test_error_text_reads_the_lambda_error_message_from_the_cause() -> None:
    cause = json.dumps(
        {"errorMessage": "cluster `staging-db` is in status `failed`", "errorType": "X"}
    )
    assert error_text({"Error": "ResourceFailedError", "Cause": cause}) == (
        "ResourceFailedError: cluster `staging-db` is in status `failed`"
    )
    assert error_text({"Error": "States.Timeout"}) == "States.Timeout"
    assert error_text(None) == "unknown error"


def test_deny_after_the_bot_recorded_it_still_releases_and_announces(
    ctx: PipelineContext, operations: Operations, progress: Progress
) -> None:
    op_id = operations.create("prod-snap-1", "staging-db", approve=False)
    ctx.store.transition(
        op_id,
        OperationStatus.DENIED,
        expected={OperationStatus.PENDING_APPROVAL},
        decided_by="U_APPROVER",
    )

    result = run_lifecycle(op_id, LifecycleAction.DENY, ctx, {"Error": "ApprovalDenied"})

    assert result == {"status": "DENIED"}
    assert ctx.store.lock_holder("staging-db") is None
    [terminal] = terminal_events(progress())
    assert terminal.operation_status == OperationStatus.DENIED
    assert terminal.detail == "Restore of `staging-db` was denied by U_APPROVER"


@pytest.mark.parametrize(
    ("action", "outcome"),
    [
        (LifecycleAction.EXPIRE, OperationStatus.EXPIRED),
        (LifecycleAction.CANCEL, OperationStatus.CANCELLED),
    ],
)
def test_expire_and_cancel_end_a_pending_operation(
    ctx: PipelineContext, operations: Operations, action: LifecycleAction, outcome: OperationStatus
) -> None:
    op_id = operations.create("prod-snap-1", "staging-db", approve=False)

    assert run_lifecycle(op_id, action, ctx, {"Error": "States.Timeout"}) == {"status": outcome}

    assert ctx.store.get(op_id).status == outcome
    assert ctx.store.lock_holder("staging-db") is None
    assert operations.audit_actions(op_id)[-2:] == [f"operation.{outcome.lower()}", "notify.failed"]


def test_finish_marks_success_and_a_later_failure_cannot_overturn_it(
    ctx: PipelineContext, operations: Operations, approved_op: str, progress: Progress
) -> None:
    run_lifecycle(approved_op, LifecycleAction.BEGIN, ctx)

    assert record_success(approved_op, ctx) == {"status": "SUCCEEDED"}
    assert record_success(approved_op, ctx) == {"status": "SUCCEEDED"}
    assert run_lifecycle(approved_op, LifecycleAction.FAIL, ctx, {"Error": "X"}) == {
        "status": "SUCCEEDED"
    }

    assert ctx.store.lock_holder("staging-db") is None
    [terminal] = terminal_events(progress())
    assert terminal.operation_status == OperationStatus.SUCCEEDED
    assert terminal.detail.startswith("Restored `staging-db` from `prod-snap-1`")
    assert operations.audit_actions(approved_op).count("operation.succeeded") == 1


def test_finish_refuses_an_operation_that_is_not_running(
    ctx: PipelineContext, approved_op: str
) -> None:
    with pytest.raises(InvalidTransitionError):
        record_success(approved_op, ctx)
    assert ctx.store.get(approved_op).status == OperationStatus.APPROVED
