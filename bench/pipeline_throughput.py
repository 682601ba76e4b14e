"""The whole pipeline on the local stack with Wait states at zero: one restore end to end, then
N concurrent restores to N new targets, each driven as a person would (signed `/restore`, wait
for the card, click Approve) and read back through Step Functions.

A restore's time runs from its `/restore` request to the end of its execution. State transitions
are the `...StateEntered` events of the execution history (what Step Functions bills). Every
target is a new cluster name (no snapshots are taken, so moto's snapshot quota of 1,000 is far).
"""

from __future__ import annotations

import secrets
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.results import BenchResult, Measure
from bench.scenes import drain
from bench.stats import summarize
from local_stack.scenario import APPROVE, Driver
from local_stack.stack import LocalStack, StackOptions

NAME = "pipeline"
STEP_TIMEOUT_SECONDS = 240  # per step of one restore; generous for 20 at once on 2 cores


@dataclass(frozen=True)
class RestoreTiming:
    operation_id: str
    status: str
    seconds: float  # /restore request to the execution's end
    to_card_seconds: float  # /restore request to the approval card in the channel
    execution_seconds: float  # Step Functions' own start-to-stop, approval wait included
    state_transitions: int
    history_events: int
    retried_tasks: int  # failed Lambda attempts the state machine retried or caught
    failure: str = ""  # for a failed restore: the first task error of its history


def play_restore(info: dict[str, Any], target: str) -> RestoreTiming:
    """One restore through Slack and back; its own Driver (boto3 sessions are not shared)."""
    driver = Driver(info)
    started = time.perf_counter()
    reply, response_url = driver.request(
        info["users"]["requester"], f"{info['seed']['snapshot']} {target}"
    )
    if reply.status != 200:
        raise RuntimeError(f"/restore answered {reply.status}: {reply.body}")
    operation_id = driver.operation_id_from(response_url, timeout=STEP_TIMEOUT_SECONDS)
    card = driver.card(operation_id, timeout=STEP_TIMEOUT_SECONDS)
    to_card = time.perf_counter() - started
    clicked = driver.click(info["users"]["approver"], card, APPROVE)
    if clicked.status != 200:
        raise RuntimeError(f"Approve answered {clicked.status}: {clicked.body}")
    execution = driver.wait_for_execution_end(operation_id, timeout=STEP_TIMEOUT_SECONDS)
    seconds = time.perf_counter() - started
    events = execution_history(driver, execution["executionArn"])
    kinds = Counter(str(event["type"]) for event in events)
    return RestoreTiming(
        operation_id=operation_id,
        status=str(execution["status"]),
        seconds=seconds,
        to_card_seconds=to_card,
        execution_seconds=(execution["stopDate"] - execution["startDate"]).total_seconds(),
        state_transitions=sum(n for kind, n in kinds.items() if kind.endswith("StateEntered")),
        history_events=len(events),
        retried_tasks=kinds["LambdaFunctionFailed"],
        failure=first_failure(events) if execution["status"] != "SUCCEEDED" else "",
    )


def first_failure(events: list[dict[str, Any]]) -> str:
    """The first failed task (Lambda or service integration) of a history, else the execution's."""
    for key in ("lambdaFunctionFailedEventDetails", "taskFailedEventDetails"):
        for event in events:
            if key in event:
                details = event[key]
                return f"{details.get('error')}: {str(details.get('cause', ''))[:300]}"
    for event in events:
        if "executionFailedEventDetails" in event:
            details = event["executionFailedEventDetails"]
            return f"{details.get('error')}: {details.get('cause', '')}"
    return "no failure in the history"


def execution_history(driver: Driver, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = driver.sfn.get_execution_history(**arguments)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        arguments["nextToken"] = page["nextToken"]


def run(quick: bool) -> BenchResult:
    concurrency = 5 if quick else 20
    result = BenchResult(NAME, "Pipeline end to end on the local stack (time_scale=0)")
    run_id = secrets.token_hex(2)
    with LocalStack(StackOptions(time_scale=0, approval_timeout_seconds=3600)) as stack:
        info = stack.info
        play_restore(info, f"bench-warm-{run_id}")  # warm-up: every handler imported once
        drain(stack)
        single = play_restore(info, f"bench-one-{run_id}")
        drain(stack)
        targets = [f"bench-many-{run_id}-{index:02d}" for index in range(concurrency)]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            many = list(pool.map(lambda target: play_restore(info, target), targets))
        wall = time.perf_counter() - started
        drain(stack)
    _report(result, single, many, wall)
    return result


def _report(
    result: BenchResult, single: RestoreTiming, many: list[RestoreTiming], wall: float
) -> None:
    result.add(
        Measure(
            "one restore, /restore to execution end",
            single.seconds,
            "s",
            f"card after {single.to_card_seconds:.2f} s; {single.status}; "
            f"{single.state_transitions} state transitions, {single.history_events} events",
        )
    )
    succeeded = [r for r in many if r.status == "SUCCEEDED"]
    per_restore = summarize([r.seconds for r in many])
    to_card = summarize([r.to_card_seconds for r in many])
    transitions = [r.state_transitions for r in many]
    count = len(many)
    result.add(
        Measure(
            f"{count} concurrent restores, wall time",
            wall,
            "s",
            f"{len(succeeded)}/{count} SUCCEEDED; {count / wall:.2f} restores/s",
        )
    )
    detail = (
        f"n={per_restore.n} min {per_restore.min:.2f} IQR {per_restore.iqr:.2f}; "
        f"card after median {to_card.p50:.2f} max {to_card.max:.2f}"
    )
    result.add(Measure(f"{count} concurrent: per-restore median", per_restore.p50, "s", detail))
    result.add(Measure(f"{count} concurrent: per-restore max", per_restore.max, "s", detail))
    result.add(
        Measure(
            "state transitions per restore (median)",
            statistics.median(transitions),
            "",
            f"min {min(transitions)} max {max(transitions)}; history events median "
            f"{statistics.median(r.history_events for r in many):.0f}",
        )
    )
    result.data = {
        "single": single.__dict__,
        "concurrent": [r.__dict__ for r in many],
        "concurrent_wall_seconds": wall,
        "per_restore_seconds": per_restore.as_dict(),
    }
    retried = sum(r.retried_tasks for r in many)
    result.notes.append(
        f"{retried} failed Lambda attempts among the {count} concurrent restores were retried "
        "or caught by the state machine (they count in the history, not in the transitions)."
    )
    for failed in (r for r in many if r.status != "SUCCEEDED"):
        result.notes.append(
            f"NOT SUCCEEDED: {failed.operation_id} {failed.status}: {failed.failure[:240]}"
        )
