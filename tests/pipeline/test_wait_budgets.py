"""Each wait loop has its own budget: the copy's from its size and progress, the others fixed;
all of them bounded by the definition so that no execution can reach Step Functions' history
limit, its own timeout or the target lock's TTL."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from pipeline.context import PipelineContext
from pipeline.errors import WaitExhaustedError
from pipeline.settings import RestoreLimits
from pipeline.stages.copy_snapshot import check_copy, copy_snapshot
from pipeline.stages.lifecycle import LifecycleAction, run_lifecycle
from pipeline.stages.plan import validate_request
from pipeline.stages.restore_cluster import check_cluster, restore_cluster
from pipeline.statemachine import (
    approval_timing_problem,
    definition_text,
    restore_budget_seconds,
    timeout_seconds,
)
from pipeline.statemachine.history import HISTORY_LIMIT, history_events, state_events, wait_loops
from pipeline.wait_budgets import (
    CHECK_INTERVAL_SECONDS,
    CopyBudget,
    CopyProgress,
    WaitLoop,
    copy_gives_up,
)
from tests.pipeline.conftest import SOURCE_REGION, Operations, RdsSeed

BUDGET = CopyBudget(base_seconds=1800, seconds_per_gib=60, stall_attempts=40, max_attempts=1440)
STATES = json.loads(definition_text())["States"]


@pytest.mark.parametrize(
    ("gib", "attempts"),
    [
        (None, 60),  # size unknown: the base alone (30 min)
        (0, 60),
        (1, 62),  # 30 min + 1 min, in 30 s checks
        (100, 260),  # 100 GiB: 2 h 10 min
        (1024, 1440),  # 1 TiB would be 17.5 h: the loop's maximum, 12 h
    ],
)
def test_the_copy_budget_follows_the_size(gib: int | None, attempts: int) -> None:
    assert BUDGET.attempts_for(gib) == attempts


def test_a_copy_goes_on_past_its_size_budget_while_its_progress_moves() -> None:
    moving = CopyProgress(progress=40, moved_at=250)
    assert copy_gives_up(BUDGET, 259, 100, moving) is None  # within the size budget
    assert copy_gives_up(BUDGET, 260, 100, moving) is None  # past it, progress 10 checks ago
    assert copy_gives_up(BUDGET, 289, 100, moving) is None
    stalled = copy_gives_up(BUDGET, 290, 100, moving)
    assert stalled == ("the 260 checks budgeted for 100 GiB, and no progress in the last 40 checks")
    assert copy_gives_up(BUDGET, 260, 100, CopyProgress()) == (
        "the 260 checks budgeted for 100 GiB, with no progress reported"
    )
    assert copy_gives_up(BUDGET, 1440, 100, CopyProgress(99, 1439)) == "its limit of 1440 checks"


def test_progress_moves_only_when_the_percentage_rises() -> None:
    seen = CopyProgress().after(1, 0)
    assert seen == CopyProgress(0, 1)
    assert seen.after(2, 0) == seen
    assert seen.after(3, None) == seen
    assert seen.after(4, 5) == CopyProgress(5, 4)


def _copy_in_progress(ctx: PipelineContext, seed: RdsSeed, operations: Operations) -> str:
    seed.cluster("prod-db", region=SOURCE_REGION)
    seed.snapshot("prod-db", "prod-snap-1", region=SOURCE_REGION)
    op_id = operations.create("prod-snap-1", "staging-db", source_region=SOURCE_REGION)
    validate_request(op_id, ctx)
    run_lifecycle(op_id, LifecycleAction.BEGIN, ctx)
    copy_snapshot(op_id, ctx)
    seed.set_snapshot_status(f"{op_id}-copy", "copying")
    return op_id


def _poll(ctx: PipelineContext, seed: RdsSeed, op_id: str, progress_at: list[int]) -> None:
    """Check as the ASL loop does (carrying `$.wait`), the copy at each percentage in turn."""
    wait = {"attempt": 0, "progress": -1, "progress_moved_at": 0}
    for percent in progress_at:
        seed.backend().cluster_snapshots[f"{op_id}-copy"].percent_progress = percent
        result = check_copy(
            op_id,
            wait["attempt"],
            ctx,
            CopyProgress(wait["progress"], wait["progress_moved_at"]),
        )
        assert not result["ready"]
        wait = dict(result)
    raise AssertionError(f"the copy loop never gave up: {wait}")


def test_a_stalled_copy_gives_up_after_its_size_budget_and_says_how_far_it_got(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    # conftest: 60 s + 1 s per GiB (moto's copy is 1 GiB) = 3 checks, 3 without progress.
    op_id = _copy_in_progress(ctx, seed, operations)

    with pytest.raises(WaitExhaustedError) as gave_up:
        _poll(ctx, seed, op_id, [7] * 20)

    message = gave_up.value.message
    assert message.startswith(f"gave up waiting for the snapshot copy `{op_id}-copy`: still ")
    assert "`copying` at 7% after " in message
    assert "(4 checks)" in message  # progress last moved at check 1: checks 2, 3, 4 without
    assert "the 3 checks budgeted for 1 GiB, and no progress in the last 3 checks" in message


def test_a_copy_that_keeps_moving_runs_to_the_loops_maximum(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    op_id = _copy_in_progress(ctx, seed, operations)

    with pytest.raises(WaitExhaustedError, match=r"\(9 checks\), its limit of 9 checks"):
        _poll(ctx, seed, op_id, list(range(5, 100, 5)))


def test_the_cluster_wait_gives_up_at_its_own_budget_naming_the_cluster_and_its_status(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    op_id = operations.create("prod-snap-1", "staging-db")
    validate_request(op_id, ctx)
    run_lifecycle(op_id, LifecycleAction.BEGIN, ctx)
    seed.drop_automated_snapshots("staging-db")
    restore_cluster(op_id, ctx)
    seed.set_cluster_status("staging-db", "creating")
    budget = ctx.settings.cluster_wait_max_attempts  # 6 in conftest, the delete loop's is 7

    assert check_cluster(op_id, budget - 2, ctx) == {"ready": False, "attempt": budget - 1}
    with pytest.raises(WaitExhaustedError) as gave_up:
        check_cluster(op_id, budget - 1, ctx)

    message = gave_up.value.message
    assert message.startswith("gave up waiting for the restored cluster `staging-db`: still ")
    assert "`creating` after " in message
    assert f"({budget} checks), the cluster wait's budget of {budget} checks" in message


def test_every_loop_of_the_definition_has_its_own_budget_and_a_30_second_check() -> None:
    loops = wait_loops(STATES)
    assert sorted(loop.budget for loop in loops) == sorted(WaitLoop)
    for loop in loops:
        assert STATES[loop.wait]["Seconds"] == CHECK_INTERVAL_SECONDS
        # entered + exited for the Wait and the Choice; the Task also scheduled, started,
        # succeeded: 9 events an iteration.
        assert sum(state_events(STATES[name]) for name in loop.states) == 9


def test_no_execution_with_the_default_budgets_can_pass_the_history_limit() -> None:
    budgets = RestoreLimits().wait_budgets()
    loops = wait_loops(STATES)
    in_loops = {name for loop in loops for name in loop.states}
    # Worked out from the definition: every loop at its maximum, 9 events an iteration, ...
    looping = sum(9 * budgets[loop.budget] for loop in loops)
    assert looping == 9 * (1320 + 120 + 120 + 240 + 240 + 80 + 80 + 60)
    # ... every other state once, every retrier of every Task exhausted once.
    fixed = history_events(STATES, {loop.budget: 0 for loop in loops})
    assert fixed > sum(2 for name in STATES if name not in in_loops)
    assert history_events(STATES, budgets) == looping + fixed < HISTORY_LIMIT


def test_budgets_that_could_pass_the_history_limit_are_refused_at_cold_start() -> None:
    fixed = history_events(STATES, {loop.budget: 0 for loop in wait_loops(STATES)})
    too_many = (HISTORY_LIMIT - fixed) // 9 + 1 - (120 + 120 + 240 + 240 + 80 + 80 + 60)
    lock = 40 * 3600  # long enough for either
    assert RestoreLimits(copy_wait_max_attempts=too_many - 1, lock_ttl_seconds=lock)
    with pytest.raises(ValidationError, match="Step Functions ends an execution at 25000"):
        RestoreLimits(copy_wait_max_attempts=too_many, lock_ttl_seconds=lock)


def test_the_longest_restore_fits_the_execution_timeout_and_the_lock() -> None:
    limits = RestoreLimits()
    longest = restore_budget_seconds(limits.wait_budgets())
    # A rollback's start loop is on another branch than the copy, delete and restore loops:
    # the longest restore runs every loop but that one to its maximum.
    budgets = limits.wait_budgets()
    waits = CHECK_INTERVAL_SECONDS * (sum(budgets.values()) - budgets[WaitLoop.START])
    assert waits <= longest < limits.lock_ttl_seconds
    rollback = {**budgets, WaitLoop.COPY: 0, WaitLoop.SAFETY: 0, WaitLoop.DELETE: 0}
    rollback |= {WaitLoop.CLUSTER: 0, WaitLoop.INSTANCES: 0}
    assert restore_budget_seconds(rollback) >= CHECK_INTERVAL_SECONDS * (
        budgets[WaitLoop.START] + budgets[WaitLoop.SWAP] + budgets[WaitLoop.UNDO]
    )
    assert longest < timeout_seconds()
    day = 24 * 3600
    problem = approval_timing_problem(
        day, wait_budgets=limits.wait_budgets(), lock_ttl_seconds=limits.lock_ttl_seconds
    )
    assert problem is None  # a day to approve, then the longest restore, within 48 h


def test_budgets_the_lock_would_not_cover_are_refused_at_cold_start() -> None:
    # (The timeout needs no case of its own: 48 h of 30 s checks is 51,840 history events.)
    with pytest.raises(ValidationError, match="longest restore takes"):
        RestoreLimits(lock_ttl_seconds=12 * 3600)  # the defaults' longest restore is 22.7 h
    assert RestoreLimits(lock_ttl_seconds=24 * 3600).lock_ttl_seconds
