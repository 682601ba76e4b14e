"""A cancel and the swap exclude each other (pipeline.swap_guard): whichever is written first
wins, so a workflow is never stopped with the target's name half-swapped."""

from __future__ import annotations

import pytest

from pipeline.context import PipelineContext
from pipeline.errors import InvalidTransitionError
from pipeline.lifecycle import StatusEvent, apply
from pipeline.models import OperationStatus
from pipeline.stages.swap import swap_names
from pipeline.stages.swap_steps import SWAP_STARTED
from pipeline.swap_guard import SWAP_NOT_STARTED, mark_swap_started, swap_underway
from tests.pipeline.conftest import Operations, RdsSeed
from tests.pipeline.swapping import MAX_STEPS, resource_id, restore_beside, run_until_ready

RUNNING = OperationStatus.RUNNING


@pytest.fixture
def restored(ctx: PipelineContext, seed: RdsSeed, operations: Operations) -> str:
    return restore_beside(ctx, seed, operations)


def cancel(ctx: PipelineContext, operation_id: str) -> None:
    """The cancel as the bot writes it (bot.approval_clicks._cancel_running)."""
    apply(
        ctx,
        operation_id,
        StatusEvent.CANCELLED,
        only_from={OperationStatus.APPROVED, RUNNING},
        condition=SWAP_NOT_STARTED,
        cancelled_by="U0REQ",
    )


def test_a_cancel_written_while_the_swap_was_deciding_to_start_stops_it(
    ctx: PipelineContext, restored: str
) -> None:
    old_id = resource_id(ctx, "staging-db")
    read_by_the_swap = ctx.store.get(restored)  # still running when the swap read it
    cancel(ctx, restored)
    with pytest.raises(InvalidTransitionError):
        mark_swap_started(ctx, read_by_the_swap)
    stored = ctx.store.get(restored)
    assert stored.status == OperationStatus.CANCELLED
    assert SWAP_STARTED not in stored.resources
    with pytest.raises(InvalidTransitionError):
        swap_names(restored, 1, ctx)
    assert resource_id(ctx, "staging-db") == old_id


def test_once_the_swap_has_begun_a_cancel_is_not_written_and_the_swap_finishes(
    ctx: PipelineContext, restored: str
) -> None:
    new_id = resource_id(ctx, ctx.store.get(restored).plan.restore_cluster)  # type: ignore[union-attr]
    attempt = 0
    for _ in range(MAX_STEPS):
        attempt = swap_names(restored, attempt, ctx)["attempt"]
        if SWAP_STARTED in ctx.store.get(restored).resources:
            break
    assert swap_underway(ctx.store.get(restored))
    with pytest.raises(InvalidTransitionError):
        cancel(ctx, restored)
    stored = ctx.store.get(restored)
    assert (stored.status, stored.cancelled_by) == (RUNNING, None)
    run_until_ready(swap_names, restored, ctx)
    assert resource_id(ctx, "staging-db") == new_id


def test_a_cancel_before_the_swap_is_written(ctx: PipelineContext, restored: str) -> None:
    cancel(ctx, restored)
    stored = ctx.store.get(restored)
    assert (stored.status, stored.cancelled_by) == (OperationStatus.CANCELLED, "U0REQ")
    assert not swap_underway(stored)
