"""Each wait loop's own budget, in checks (one check per Wait of the loop, 30 s on AWS).

- The copy loop's budget comes from the copy's size (`AllocatedStorage`, GiB): a base plus so
  many seconds per GiB (a cross-Region copy "can take hours to complete", Aurora user guide,
  USER_CopySnapshot). Past it, the loop goes on while RDS's `PercentProgress` keeps moving (it
  gives up after `copy_stall_attempts` checks without progress), never past
  `copy_wait_max_attempts`.
- The safety snapshot, deleting the target, restoring the cluster, creating its instances, the
  swap and its undo, and a rollback starting its kept cluster have fixed budgets
  (pipeline.settings.RestoreLimits).

The maxima are what the state machine's Choice states compare with (`$.plan.wait_budgets.<loop>`,
from ValidateRequest): the definition itself bounds every loop. RestoreLimits refuses maxima whose
longest execution would pass Step Functions' 25,000-event history or the execution's timeout
(pipeline.statemachine.history_events, restore_budget_seconds).

A loop that gives up raises WaitExhaustedError naming the resource, its status and how long it
was waited for; the check function raises it on the check whose attempt reaches the budget, the
same check after which the Choice would leave the loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pipeline.errors import WaitExhaustedError
from pipeline.models import utc_now

CHECK_INTERVAL_SECONDS = 30  # every Wait state of the definition (tests/pipeline keep it so)


class WaitLoop(StrEnum):
    """The key of each loop's maximum in `$.plan.wait_budgets` (restore.asl.json)."""

    COPY = "copy"
    SAFETY = "safety"  # the safety snapshot of an in-place replace
    DELETE = "delete"
    CLUSTER = "cluster"
    INSTANCES = "instances"
    SWAP = "swap"
    UNDO = "undo"  # putting the names of a failed swap back
    START = "start"  # a rollback starting the cluster a replace kept, stopped


@dataclass(frozen=True)
class CopyBudget:
    """How the copy loop's budget follows the copy (pipeline.settings.RestoreLimits)."""

    base_seconds: int
    seconds_per_gib: int
    stall_attempts: int
    max_attempts: int

    def attempts_for(self, allocated_gib: int | None) -> int:
        """The checks a copy of this size gets before its progress must keep moving."""
        seconds = self.base_seconds + self.seconds_per_gib * max(allocated_gib or 0, 0)
        return min(self.max_attempts, max(1, math.ceil(seconds / CHECK_INTERVAL_SECONDS)))


@dataclass(frozen=True)
class CopyProgress:
    """What the copy loop carries from one check to the next (`$.wait`): the last
    PercentProgress seen (-1: none yet) and the attempt at which it last moved."""

    progress: int = -1
    moved_at: int = 0

    def after(self, attempt: int, percent: int | None) -> CopyProgress:
        if percent is not None and percent > self.progress:
            return CopyProgress(percent, attempt)
        return self


def copy_gives_up(
    budget: CopyBudget, attempt: int, allocated_gib: int | None, progress: CopyProgress
) -> str | None:
    """Why the copy loop stops after check number `attempt` (1-based), or None to go on."""
    if attempt >= budget.max_attempts:
        return f"its limit of {budget.max_attempts} checks"
    size_budget = budget.attempts_for(allocated_gib)
    if attempt < size_budget:
        return None
    size = f"{allocated_gib} GiB" if allocated_gib else "a copy of unknown size"
    if progress.progress < 0:
        return f"the {size_budget} checks budgeted for {size}, with no progress reported"
    if attempt - progress.moved_at >= budget.stall_attempts:
        return (
            f"the {size_budget} checks budgeted for {size}, and no progress in the last "
            f"{attempt - progress.moved_at} checks"
        )
    return None


def waited_phrase(since: datetime | None, attempts: int) -> str:
    """`2h 05m (250 checks)`: how long a loop waited, measured from when its stage started."""
    checks = f"{attempts} check{'s' if attempts != 1 else ''}"
    if since is None:
        return checks
    seconds = max(0, int((utc_now() - since).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    spent = f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"
    return f"{spent} ({checks})"


def exhausted(what: str, state: str, since: datetime | None, attempts: int, why: str) -> None:
    """Raise WaitExhaustedError: which resource, the state it was still in, how long."""
    raise WaitExhaustedError(
        f"gave up waiting for {what}: still {state} after {waited_phrase(since, attempts)}, {why}"
    )
