"""The restore state machine definition (Amazon States Language), shared by infra and local stack."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

from pipeline.statemachine.history import (
    HISTORY_LIMIT,
    history_events,
    successor_names,
    wait_loops,
)

PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


def definition_text() -> str:
    return resources.files(__package__).joinpath("restore.asl.json").read_text(encoding="utf-8")


def placeholders(text: str | None = None) -> set[str]:
    """Every `${Name}` the definition expects a substitution for."""
    return set(PLACEHOLDER.findall(text if text is not None else definition_text()))


def render(substitutions: dict[str, str], *, time_scale: float = 1.0) -> dict[str, Any]:
    """Substitute placeholders (as DefinitionSubstitutions does) and optionally scale waits.

    Scaling is for the local stack: Wait states and retry intervals shrink so a restore that takes
    an hour on AWS replays in seconds. A missing substitution is an error, never left in place.
    """
    text = definition_text()
    missing = placeholders(text) - substitutions.keys()
    if missing:
        raise KeyError(f"no substitution for {', '.join(sorted(missing))}")
    rendered = PLACEHOLDER.sub(lambda match: substitutions[match.group(1)], text)
    definition: dict[str, Any] = json.loads(rendered)
    if time_scale != 1.0:
        _scale(definition, time_scale)
    return definition


def _scale(definition: dict[str, Any], factor: float) -> None:
    for state in definition["States"].values():
        if state["Type"] == "Wait" and "Seconds" in state:
            # Whole seconds (ASL), never rounded down to none while RDS statuses still take
            # scaled time: a poll loop that does not wait exhausts its attempts too early.
            seconds = state["Seconds"] * factor
            state["Seconds"] = max(1, int(seconds)) if seconds > 0 else 0
        if factor >= 1:
            continue
        for retrier in state.get("Retry", []):
            # ASL requires a positive integer interval, so scaled retries wait one second, flat.
            retrier["IntervalSeconds"] = max(1, int(retrier.get("IntervalSeconds", 1) * factor))
            retrier["BackoffRate"] = 1.0
            retrier.pop("MaxDelaySeconds", None)


def timeout_seconds() -> int:
    """The execution's own limit (`TimeoutSeconds`): past it Step Functions stops the execution
    without running any state, so no Catch records the failure or releases the lock."""
    return int(json.loads(definition_text())["TimeoutSeconds"])


def restore_budget_seconds(wait_budgets: Mapping[str, int]) -> int:
    """The longest a restore runs after approval: along the longest path of the definition from
    BeginRestore (a rollback's start loop and a restore's copy-to-set-up loops are different
    branches), every poll loop on it to its own maximum number of checks (`wait_budgets`,
    pipeline.settings.RestoreLimits), every Task on it exhausting each of its retriers once
    (Lambda run time is small beside these)."""
    states = json.loads(definition_text())["States"]
    loops = wait_loops(states)
    back_edges = {(loop.choice, loop.wait) for loop in loops}
    waits = {
        loop.choice: int(states[loop.wait]["Seconds"]) * wait_budgets[loop.budget] for loop in loops
    }
    longest: dict[str, int] = {}

    def after(name: str) -> int:
        """The longest run from entering `name` to the end (the graph without back edges is
        acyclic: wait_loops checks it)."""
        if name not in longest:
            state = states[name]
            own = waits.get(name, 0)
            if state["Type"] == "Task":
                own += retry_budget_seconds(state)
            following = [n for n in successor_names(state) if (name, n) not in back_edges]
            longest[name] = own + max((after(n) for n in following), default=0)
        return longest[name]

    return after(RESTORE_START)


def history_problem(wait_budgets: Mapping[str, int]) -> str | None:
    """Why these loop maxima could make an execution pass Step Functions' history limit (None
    when they cannot); pipeline.statemachine.history says what is counted."""
    states = json.loads(definition_text())["States"]
    missing = {loop.budget for loop in wait_loops(states)} - wait_budgets.keys()
    if missing:
        return f"no wait budget for the loop(s) {', '.join(sorted(missing))}"
    events = history_events(states, wait_budgets)
    if events >= HISTORY_LIMIT:
        return (
            f"the wait budgets {dict(wait_budgets)} allow an execution of up to {events} history "
            f"events; Step Functions ends an execution at {HISTORY_LIMIT}: lower them"
        )
    return None


RESTORE_START = "BeginRestore"  # the first state after the approval


def retry_budget_seconds(state: dict[str, Any]) -> int:
    """What a state's Retry waits in total when every retrier runs out (the ASL's delay:
    IntervalSeconds * BackoffRate^n, at most MaxDelaySeconds; defaults 1 s, 3 attempts, 2.0)."""
    total = 0.0
    for retrier in state.get("Retry", []):
        interval = float(retrier.get("IntervalSeconds", 1))
        backoff = float(retrier.get("BackoffRate", 2.0))
        cap = float(retrier.get("MaxDelaySeconds", float("inf")))
        for attempt in range(int(retrier.get("MaxAttempts", 3))):
            total += min(interval * backoff**attempt, cap)
    return int(total)


def approval_timing_problem(
    approval_expiry_seconds: int, *, wait_budgets: Mapping[str, int], lock_ttl_seconds: int
) -> str | None:
    """Why this approval expiry cannot work with the deployment (None when it can).

    The approval wait plus the longest restore must end inside the execution's timeout; the
    target lock is taken for the wait plus `lock_ttl_seconds` and renewed for `lock_ttl_seconds`
    when the restore begins, so `lock_ttl_seconds` must cover the longest restore.
    """
    restore = restore_budget_seconds(wait_budgets)
    limit = timeout_seconds()
    if approval_expiry_seconds + restore >= limit:
        return (
            f"approval_expiry_seconds {approval_expiry_seconds} plus the longest restore "
            f"({restore}s: every wait loop at its maximum, {dict(wait_budgets)}) is beyond "
            f"the state machine's own timeout of {limit}s: set approval_expiry_seconds below "
            f"{limit - restore}"
        )
    if lock_ttl_seconds < restore:
        return (
            f"lock_ttl_seconds {lock_ttl_seconds} is shorter than the longest restore "
            f"({restore}s): the target lock could expire while a restore still runs"
        )
    return None
