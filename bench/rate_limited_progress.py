"""Progress posting under Slack's rate limit: N concurrent restores in one channel while the Slack
emulator accepts one chat.postMessage per second per channel and answers the rest with 429 and
Retry-After.

Judged only by the stack's public behaviour: each operation's thread is read with
conversations.replies and compared with what the pipeline recorded (the audit table's
`<stage>.<status>` events, in order, cross-checked with the stages in the operations table).
Events before the approval card exists (validation) are shown by the card's checklist and may
or may not also appear as replies; if they do, at most once and in order. Every other event
must appear exactly once and in order; the total time is compared with the lower bound of one
message per second.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3

from bench.pipeline_throughput import execution_history, first_failure, play_restore
from bench.results import BenchResult, Measure
from bench.scenes import drain
from local_stack.scenario import APPROVE, Driver, ScenarioError, wait_for
from local_stack.stack import LocalStack, StackOptions
from pipeline.models import STAGE_TITLES, Stage, StageStatus
from pipeline.store import OperationStore

NAME = "progress_rate_limit"
STEP_TIMEOUT_SECONDS = 300
QUIET_SECONDS = 30  # no new message for this long after every execution ended: delivery is over
BEFORE_CARD = {Stage.VALIDATE}  # shown in the card's checklist; a reply is optional
_VERBS = {
    "started": StageStatus.STARTED,
    "done": StageStatus.SUCCEEDED,
    "failed": StageStatus.FAILED,
    "skipped": StageStatus.SKIPPED,
}
_LABELS = {title: stage for stage, title in STAGE_TITLES.items()}
_PROGRESS = re.compile(r"\*(?P<label>[^*\n]+)\* (?P<verb>started|done|failed|skipped)\b")
Step = tuple[Stage, StageStatus]


@dataclass
class Played:
    target: str
    operation_id: str | None = None
    status: str = "UNKNOWN"
    error: str = ""


@dataclass
class ThreadCheck:
    operation_id: str
    expected: list[Step]  # every stage event the pipeline recorded, in order
    delivered: list[Step]
    other_replies: int
    approval_requests: int
    last_ts: float
    has_card: bool
    missing: list[Step] = field(default_factory=list)
    duplicated: list[Step] = field(default_factory=list)
    unexpected: list[Step] = field(default_factory=list)
    in_order: bool = True
    problems: list[str] = field(default_factory=list)

    @property
    def required(self) -> list[Step]:
        return [step for step in self.expected if step[0] not in BEFORE_CARD]

    @property
    def messages(self) -> int:
        """Messages this restore posted in the channel: its card and every reply."""
        return int(self.has_card) + len(self.delivered) + self.other_replies

    @property
    def exact(self) -> bool:
        return not (self.missing or self.duplicated or self.unexpected or self.problems)


def play(info: dict[str, Any], target: str) -> Played:
    """Request, wait for the card, approve, wait for the end; a failure is recorded, not raised."""
    driver = Driver(info)
    played = Played(target)
    try:
        _, response_url = driver.request(
            info["users"]["requester"], f"{info['seed']['snapshot']} {target}"
        )
        played.operation_id = driver.operation_id_from(response_url, timeout=STEP_TIMEOUT_SECONDS)
        card = _card_unless_ended(driver, played.operation_id)
        if card is not None:
            driver.click(info["users"]["approver"], card, APPROVE)
            driver.wait_for_execution_end(played.operation_id, STEP_TIMEOUT_SECONDS)
    except ScenarioError as exc:
        played.error = str(exc)
    if played.operation_id:
        execution = driver.execution(played.operation_id)
        played.status = str(execution.get("status", "UNKNOWN"))
        if played.status == "FAILED":
            played.error = first_failure(execution_history(driver, execution["executionArn"]))
    return played


def _card_unless_ended(driver: Driver, operation_id: str) -> dict[str, Any] | None:
    """The approval card; None when the execution ended without one (bounded wait)."""

    def probe() -> tuple[dict[str, Any] | None] | None:
        try:
            return (driver.card(operation_id, timeout=0.01),)
        except ScenarioError:
            ended = driver.execution(operation_id)["status"] != "RUNNING"
            return (None,) if ended else None

    return wait_for(f"the card of {operation_id}", probe, STEP_TIMEOUT_SECONDS, interval=0.25)[0]


def run(quick: bool) -> BenchResult:
    count = 3 if quick else 10
    result = BenchResult(NAME, "Progress messages under 1 message/s/channel (429 + Retry-After)")
    run_id = secrets.token_hex(2)
    with LocalStack(StackOptions(time_scale=0, approval_timeout_seconds=3600)) as stack:
        info = stack.info
        play_restore(info, f"bench-rl-warm-{run_id}")  # warm-up without the limit: imports
        drain(stack)
        stack.slack.set_rate_limit(1)
        posts_before = len(stack.slack.calls_to("chat.postMessage"))
        started_wall = time.time()
        targets = [f"bench-rl-{run_id}-{index:02d}" for index in range(count)]
        with ThreadPoolExecutor(max_workers=count) as pool:
            played = list(pool.map(lambda target: play(info, target), targets))
        executions_done = time.time() - started_wall
        store = _store(info)
        operations = [p.operation_id for p in played if p.operation_id]
        checks = _wait_for_delivery(stack, store, operations)
        post_calls = len(stack.slack.calls_to("chat.postMessage")) - posts_before
        drain(stack)
        failed_async = len(stack.runtime.failed_async)
    _report(result, played, checks, started_wall, executions_done, post_calls, failed_async)
    return result


def _store(info: dict[str, Any]) -> OperationStore:
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=info["aws_endpoint_url"],
        region_name=info["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
    )
    return OperationStore(dynamodb, info["operations_table"], info["audit_table"])


def _wait_for_delivery(
    stack: LocalStack, store: OperationStore, operations: list[str]
) -> list[ThreadCheck]:
    """Poll the threads until all expected replies are there, or nothing moved for a while."""
    driver = Driver(stack.info)
    deadline = time.monotonic() + STEP_TIMEOUT_SECONDS * 2
    last_change, last_seen = time.monotonic(), -1
    while True:
        checks = [_check(driver, store, operation_id) for operation_id in operations]
        seen = sum(c.messages for c in checks)
        if seen != last_seen:
            last_change, last_seen = time.monotonic(), seen
        complete = all(not c.missing for c in checks)
        quiet = time.monotonic() - last_change > QUIET_SECONDS and (
            stack.wait_for_progress_delivered(timeout=0)
        )
        if complete or quiet or time.monotonic() > deadline:
            if complete:
                time.sleep(3)  # a late duplicate would show within a few Retry-After cycles
                checks = [_check(driver, store, operation_id) for operation_id in operations]
            return checks
        time.sleep(0.5)


def _check(driver: Driver, store: OperationStore, operation_id: str) -> ThreadCheck:
    operation = store.get(operation_id)
    expected = _expected_steps(store, operation_id)
    delivered: list[Step] = []
    other = approval_requests = 0
    last_ts = 0.0
    if operation.slack_message_ts:
        thread = driver.web.conversations_replies(
            channel=driver.info["channel_id"], ts=operation.slack_message_ts, limit=1000
        )["messages"]
        for reply in thread[1:]:
            last_ts = max(last_ts, float(reply["ts"]))
            step = _parse_step(str(reply.get("text", "")))
            # The approval stage's start asks the approvers: exactly one such reply per card.
            approval_requests += "Approval needed" in str(reply.get("text", ""))
            if step is None:
                other += 1
            else:
                delivered.append(step)
        last_ts = max(last_ts, float(thread[0]["ts"]))
    check = ThreadCheck(
        operation_id,
        expected,
        delivered,
        other,
        approval_requests,
        last_ts,
        has_card=bool(operation.slack_message_ts),
    )
    counts = Counter(delivered)
    if not operation.slack_message_ts:
        check.problems.append("no approval card was posted (the restore could not ask)")
        return check
    check.missing = [step for step in expected if step not in counts and step[0] not in BEFORE_CARD]
    check.duplicated = [step for step, n in counts.items() if n > 1]
    check.unexpected = [step for step in counts if step not in expected]
    first_seen = list(dict.fromkeys(step for step in delivered if step in expected))
    check.in_order = first_seen == [step for step in expected if step in counts]
    for stage, record in operation.stages.items():
        if (stage, record.status) not in expected:
            check.problems.append(f"{stage} is {record.status} in the table, not audited")
    return check


def _expected_steps(store: OperationStore, operation_id: str) -> list[Step]:
    steps: list[Step] = []
    for event in store.audit_events(operation_id):
        stage, _, status = event.action.partition(".")
        if event.actor != "pipeline" or stage not in Stage.__members__.values():
            continue
        if status in StageStatus.__members__.values():
            steps.append((Stage(stage), StageStatus(status)))
    return steps


def _parse_step(text: str) -> Step | None:
    match = _PROGRESS.search(text)
    if match is None or match["label"] not in _LABELS:
        return None
    return _LABELS[match["label"]], _VERBS[match["verb"]]


def _report(
    result: BenchResult,
    played: list[Played],
    checks: list[ThreadCheck],
    started_wall: float,
    executions_done: float,
    post_calls: int,
    failed_async: int,
) -> None:
    messages = sum(c.messages for c in checks)
    expected = sum(len(c.required) for c in checks)
    delivered_once = sum(len(c.required) - len(c.missing) for c in checks)
    last = max((c.last_ts for c in checks), default=started_wall)
    total = last - started_wall
    lower_bound = float(messages)  # one message per second in the channel
    with_card = [c for c in checks if c.has_card]
    exact = [c for c in with_card if c.exact and c.in_order]
    succeeded = sum(p.status == "SUCCEEDED" for p in played)
    result.add(
        Measure(
            "restores that got their approval card",
            len(with_card),
            "",
            f"of {len(played)}; {succeeded} SUCCEEDED (failures in the notes)",
        )
    )
    result.add(
        Measure(
            "threads exactly once and in order",
            len(exact),
            "",
            f"of {len(with_card)} threads; progress replies {delivered_once}/{expected} delivered",
        )
    )
    result.add(Measure("missing progress replies", expected - delivered_once, ""))
    result.add(Measure("duplicated progress replies", sum(len(c.duplicated) for c in checks), ""))
    result.add(Measure("threads out of order", sum(not c.in_order for c in checks), ""))
    result.add(
        Measure(
            "total time to last message",
            total,
            "s",
            f"{messages} messages (cards + replies); executions ended after "
            f"{executions_done:.0f} s; {post_calls - messages} postMessage calls refused",
        )
    )
    result.add(Measure("lower bound (messages x 1 s)", lower_bound, "s"))
    result.add(Measure("total / lower bound", total / lower_bound if lower_bound else 0, "x"))
    result.data = {
        "restores": [p.__dict__ for p in played],
        "threads": [_thread_data(c) for c in checks],
        "post_message_calls": post_calls,
        "failed_async_invocations": failed_async,
    }
    _notes(result, played, checks, failed_async)


def _thread_data(check: ThreadCheck) -> dict[str, Any]:
    return {
        "operation_id": check.operation_id,
        "expected": [f"{stage}.{status}" for stage, status in check.expected],
        "delivered": [f"{stage}.{status}" for stage, status in check.delivered],
        "other_replies": check.other_replies,
        "in_order": check.in_order,
        "problems": check.problems,
    }


def _notes(
    result: BenchResult, played: list[Played], checks: list[ThreadCheck], failed_async: int
) -> None:
    for p in played:
        if p.error or p.status != "SUCCEEDED":
            result.notes.append(f"restore to {p.target}: {p.status} {p.error}".rstrip())
    for c in checks:
        problems = []
        if c.missing:
            problems.append("missing " + ", ".join(f"{s}.{t}" for s, t in c.missing))
        if c.duplicated:
            problems.append("duplicated " + ", ".join(f"{s}.{t}" for s, t in c.duplicated))
        if c.unexpected:
            problems.append("unexpected " + ", ".join(f"{s}.{t}" for s, t in c.unexpected))
        if not c.in_order:
            problems.append("out of order")
        if c.has_card and c.approval_requests != 1:
            problems.append(f"{c.approval_requests} 'Approval needed' replies, not 1")
        problems.extend(c.problems)
        if problems:
            result.notes.append(f"DELIVERY PROBLEM in {c.operation_id}: {'; '.join(problems)}")
    if failed_async:
        result.notes.append(f"{failed_async} asynchronous invocation(s) failed for good.")
