"""How many history events the longest execution of the definition can write.

Step Functions ends an execution that reaches 25,000 events in its history ("Maximum execution
history size: 25,000 events in a single state machine execution history", Step Functions service
quotas), without running a Catch: no failure would be recorded nor the target lock released. So
every wait loop is bounded by the definition (its Choice compares `$.wait.attempt` with
`$.plan.wait_budgets.<loop>`) and the budgets are refused when the longest execution could
pass the limit.

Events counted per state (Step Functions history event types): every state is entered and
exited (2); a Task also has its scheduled, started and succeeded events (5 in all; a callback
Task its submitted event too, 6); each retried attempt adds scheduled, started and failed (3).
The longest execution visits every state outside the loops once (removing the loops' back
edges leaves the definition acyclic, which `wait_loops` checks), runs every loop to its
maximum, and every Task exhausts each of its retriers once, as restore_budget_seconds counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HISTORY_LIMIT = 25_000
EXECUTION_EVENTS = 2  # ExecutionStarted and its end (Succeeded, Failed, TimedOut, Aborted)
BUDGET_PATH = "$.plan.wait_budgets."
_STATE_EVENTS = {"Task": 5, "Wait": 2, "Choice": 2, "Pass": 2, "Succeed": 2, "Fail": 1}
_RETRY_EVENTS = 3


@dataclass(frozen=True)
class PollLoop:
    """One poll loop: Wait -> check Task -> Choice, whose third exit reads `budget`."""

    budget: str  # the key under $.plan.wait_budgets
    wait: str
    check: str
    choice: str

    @property
    def states(self) -> tuple[str, str, str]:
        return (self.wait, self.check, self.choice)


def wait_loops(states: Mapping[str, Any]) -> list[PollLoop]:
    """Every loop of the definition, found from its Choices: a Choice whose Default is a Wait
    whose Next is a Task whose Next is the Choice again. Raises ValueError for a loop without
    a budget, or for any other cycle (which nothing would bound)."""
    loops = []
    for name, state in states.items():
        if state["Type"] != "Choice":
            continue
        wait = states.get(state.get("Default", ""), {})
        check_name = wait.get("Next", "")
        if wait.get("Type") != "Wait" or states.get(check_name, {}).get("Next") != name:
            continue
        budgets = [
            choice["NumericGreaterThanEqualsPath"][len(BUDGET_PATH) :]
            for choice in state.get("Choices", [])
            if str(choice.get("NumericGreaterThanEqualsPath", "")).startswith(BUDGET_PATH)
        ]
        if len(budgets) != 1:
            raise ValueError(f"the wait loop of {name} has no budget under {BUDGET_PATH}")
        loops.append(PollLoop(budgets[0], state["Default"], check_name, name))
    _ensure_acyclic(states, {(loop.choice, loop.wait) for loop in loops})
    return loops


def successor_names(state: Mapping[str, Any]) -> list[str]:
    names = [state[key] for key in ("Next", "Default") if key in state]
    names += [choice["Next"] for choice in state.get("Choices", [])]
    names += [catcher["Next"] for catcher in state.get("Catch", [])]
    return names


def _ensure_acyclic(states: Mapping[str, Any], back_edges: set[tuple[str, str]]) -> None:
    done: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in path:
            raise ValueError(f"a cycle through {name} that no wait budget bounds")
        path.append(name)
        for following in successor_names(states[name]):
            if (name, following) not in back_edges:
                visit(following)
        path.pop()
        done.add(name)

    for name in states:
        visit(name)


def state_events(state: Mapping[str, Any]) -> int:
    """The events one visit of a state writes, its retries not counted."""
    events = _STATE_EVENTS.get(state["Type"], 2)
    if state["Type"] == "Task" and str(state.get("Resource", "")).endswith(".waitForTaskToken"):
        events += 1  # TaskSubmitted
    return events


def retry_events(state: Mapping[str, Any]) -> int:
    """The events of every retrier of a state exhausted once (ASL default: 3 attempts)."""
    return _RETRY_EVENTS * sum(int(r.get("MaxAttempts", 3)) for r in state.get("Retry", []))


def history_events(states: Mapping[str, Any], wait_budgets: Mapping[str, int]) -> int:
    """The most events an execution of `states` can write with these loop maxima."""
    loops = wait_loops(states)
    in_loops = {name for loop in loops for name in loop.states}
    fixed = sum(state_events(state) for name, state in states.items() if name not in in_loops)
    looping = sum(
        wait_budgets[loop.budget] * sum(state_events(states[name]) for name in loop.states)
        for loop in loops
    )
    retries = sum(retry_events(state) for state in states.values())
    return EXECUTION_EVENTS + fixed + looping + retries
