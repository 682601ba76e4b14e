"""The lifecycle table, walked whole against moto's DynamoDB through the real store: every
(status, event) either does what its cell says (status, lock, audit, terminal event) or raises
InvalidTransitionError naming both."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.context import PipelineContext
from pipeline.errors import InvalidTransitionError
from pipeline.lifecycle import TRANSITIONS, LockEffect, StatusEvent, apply
from pipeline.models import OperationStatus, ProgressEvent, RestoreRequest, new_operation_id

REPOSITORY = Path(__file__).resolve().parents[2]
TARGET = "staging-db"
Progress = Callable[[], list[ProgressEvent]]


def operation_in(ctx: PipelineContext, status: OperationStatus) -> str:
    """An operation of TARGET, holding its lock, put straight into `status`."""
    operation_id = new_operation_id()
    request = RestoreRequest(snapshot="prod-snap-1", target_cluster=TARGET, requester="U_REQ")
    ctx.store.create(operation_id, request)
    ctx.store.acquire_lock(TARGET, operation_id, ttl_seconds=3600)
    if status != OperationStatus.PENDING_APPROVAL:
        ctx.store.transition(operation_id, status, expected={OperationStatus.PENDING_APPROVAL})
    return operation_id


def test_every_status_and_event_does_what_the_table_says(
    ctx: PipelineContext, progress: Progress
) -> None:
    for status in OperationStatus:
        for event in StatusEvent:
            operation_id = operation_in(ctx, status)
            audited = len(ctx.store.audit_events(operation_id))
            cell = TRANSITIONS.get((status, event))
            case = f"{status} + {event}"
            if cell is None:
                with pytest.raises(InvalidTransitionError) as raised:
                    apply(ctx, operation_id, event)
                assert str(status) in str(raised.value) and str(event) in str(raised.value), case
                assert raised.value.current_status == status, case
                assert ctx.store.get(operation_id).status == status, case
                assert ctx.store.lock_holder(TARGET) == operation_id, case
                assert len(ctx.store.audit_events(operation_id)) == audited, case
            else:
                after = apply(ctx, operation_id, event, actor="tester", outcome="it ended")
                assert after.status == cell.to, case
                held = None if cell.lock == LockEffect.RELEASE else operation_id
                assert ctx.store.lock_holder(TARGET) == held, case
                actions = [e.action for e in ctx.store.audit_events(operation_id)[audited:]]
                moved = cell.to != status
                expected = [cell.audit] if cell.audit and (moved or cell.ends) else []
                assert [a for a in actions if not a.startswith("notify.")] == expected, case
                terminal = [
                    e
                    for e in progress()
                    if e.operation_id == operation_id and e.operation_status is not None
                ]
                published = [e.operation_status for e in terminal]
                assert published == ([cell.to] if cell.ends else []), case
            ctx.store.release_lock(TARGET, operation_id)  # the next case takes it afresh


def test_a_repeated_ending_publishes_its_terminal_event_once(
    ctx: PipelineContext, progress: Progress
) -> None:
    operation_id = operation_in(ctx, OperationStatus.RUNNING)
    for _ in range(2):
        apply(ctx, operation_id, StatusEvent.FAILED, error="X: broke")
    apply(ctx, operation_id, StatusEvent.SUCCEEDED)  # a different outcome: the first stands

    assert ctx.store.get(operation_id).status == OperationStatus.FAILED
    terminal = [e for e in progress() if e.operation_status is not None]
    assert [e.operation_status for e in terminal] == [OperationStatus.FAILED]
    assert [e.action for e in ctx.store.audit_events(operation_id)].count("operation.failed") == 1


def test_an_illegal_transition_names_the_status_and_the_event(ctx: PipelineContext) -> None:
    operation_id = operation_in(ctx, OperationStatus.SUCCEEDED)
    with pytest.raises(InvalidTransitionError, match="SUCCEEDED: `approved` is not a legal"):
        apply(ctx, operation_id, StatusEvent.APPROVED)


def test_only_the_lifecycle_module_changes_statuses_and_releases_locks() -> None:
    """`OperationStore.transition` and `release_lock` are called from pipeline.lifecycle only."""
    callers = []
    for package in ("bot", "pipeline", "infra", "local_stack", "bench"):
        for path in sorted((REPOSITORY / package).rglob("*.py")):
            relative = str(path.relative_to(REPOSITORY))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"transition", "release_lock"}
                    and relative != "pipeline/lifecycle.py"
                ):
                    callers.append(f"{relative}:{node.lineno}")
    assert callers == []
