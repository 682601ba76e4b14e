"""The target lock outlives the approval wait and is renewed when the restore begins, so a
second restore of the same target can never start beside a first (real store, moto)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.context import PipelineContext
from pipeline.errors import InvalidTransitionError, TargetLockedError
from pipeline.models import OperationStatus, utc_now
from pipeline.stages.common import load_plan
from pipeline.stages.lifecycle import LifecycleAction, run_lifecycle
from pipeline.store_schema import LOCK_PREFIX, OPERATION_KEY, TTL_ATTRIBUTE
from tests.pipeline.conftest import Operations
from tests.pipeline.test_lifecycle import approved_op as approved_op  # the fixture


def lock_expiry(ctx: PipelineContext, target: str) -> int:
    item = ctx.clients.dynamodb.get_item(
        TableName=ctx.settings.operations_table,
        Key={OPERATION_KEY: {"S": LOCK_PREFIX + target}},
        ConsistentRead=True,
    )["Item"]
    return int(item[TTL_ATTRIBUTE]["N"])


def test_the_restore_renews_the_lock_for_its_whole_run(
    ctx: PipelineContext, approved_op: str
) -> None:
    # The request took the lock for an hour (Operations.create); the restore may take longer.
    started = utc_now()
    run_lifecycle(approved_op, LifecycleAction.BEGIN, ctx)

    assert (
        lock_expiry(ctx, "staging-db") >= int(started.timestamp()) + ctx.settings.lock_ttl_seconds
    )
    later = started + timedelta(hours=2)
    with pytest.raises(TargetLockedError):
        ctx.store.acquire_lock("staging-db", "ar-second", ttl_seconds=60, now=later)


def test_a_restore_whose_lock_was_taken_meanwhile_never_starts(
    ctx: PipelineContext, operations: Operations, approved_op: str
) -> None:
    # The first request's hour-long lock ran out and a second restore of the target took it.
    later = utc_now() + timedelta(hours=2)
    ctx.store.acquire_lock("staging-db", "ar-second", ttl_seconds=6 * 3600, now=later)

    with pytest.raises(TargetLockedError, match="ar-second"):
        run_lifecycle(approved_op, LifecycleAction.BEGIN, ctx)

    assert ctx.store.get(approved_op).status == OperationStatus.APPROVED  # not RUNNING
    assert "operation.running" not in operations.audit_actions(approved_op)
    assert lock_expiry(ctx, "staging-db") > int(later.timestamp())  # the other's lock stands


def expire_lock_soon(ctx: PipelineContext, target: str, holder: str, seconds: int) -> None:
    ctx.clients.dynamodb.put_item(
        TableName=ctx.settings.operations_table,
        Item={
            OPERATION_KEY: {"S": LOCK_PREFIX + target},
            "holder": {"S": holder},
            TTL_ATTRIBUTE: {"N": str(int(utc_now().timestamp()) + seconds)},
        },
    )


def test_every_stage_of_a_running_restore_renews_the_target_lock(
    ctx: PipelineContext, approved_op: str
) -> None:
    run_lifecycle(approved_op, LifecycleAction.BEGIN, ctx)
    expire_lock_soon(ctx, "staging-db", approved_op, seconds=10)  # hours of waits and retries

    load_plan(ctx, approved_op)  # what every stage does first

    assert lock_expiry(ctx, "staging-db") >= int(utc_now().timestamp()) + (
        ctx.settings.lock_ttl_seconds - 5
    )


def test_a_stage_whose_lock_another_restore_took_stops(
    ctx: PipelineContext, approved_op: str
) -> None:
    run_lifecycle(approved_op, LifecycleAction.BEGIN, ctx)
    expire_lock_soon(ctx, "staging-db", "ar-second", seconds=3600)  # taken after it expired

    with pytest.raises(TargetLockedError, match="ar-second"):
        load_plan(ctx, approved_op)


def test_a_stage_of_an_ended_restore_never_takes_the_lock_again(
    ctx: PipelineContext, approved_op: str
) -> None:
    run_lifecycle(approved_op, LifecycleAction.BEGIN, ctx)
    run_lifecycle(approved_op, LifecycleAction.FAIL, ctx, {"Error": "X"})  # releases it

    with pytest.raises(InvalidTransitionError):
        load_plan(ctx, approved_op)  # a late retry of a stage

    lock = ctx.clients.dynamodb.get_item(
        TableName=ctx.settings.operations_table,
        Key={OPERATION_KEY: {"S": LOCK_PREFIX + "staging-db"}},
        ConsistentRead=True,
    )
    assert "Item" not in lock
