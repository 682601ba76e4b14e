"""Approval through the buttons, resuming a real `.waitForTaskToken` execution on moto's
Step Functions: who may decide, two approvers, races, deny, cancel, expiry."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from bot.approval_clicks import approve
from bot.deps import BotDependencies
from bot.ids import ActionId
from bot.notifier import deliver, delivery_log
from bot.request_approval import ApprovalCardError, SlackUnavailableError, request_approval
from pipeline.lifecycle import StatusEvent, apply
from pipeline.models import OperationStatus, ProgressEvent, Stage, StageStatus
from pipeline.stages.swap_steps import COMMITTED, SWAP_STARTED
from tests.bot.conftest import (
    APPROVER,
    GROUP_APPROVER,
    OUTSIDER,
    REQUESTER,
    SECOND_APPROVER,
    SLACK_CHANNEL_ID,
    SNAPSHOT,
    SlackHttp,
    StateMachine,
)

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def wait_until(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)


class Flow:
    """Request a restore, let the workflow ask for approval, and look at the result."""

    def __init__(self, http: SlackHttp, deps: BotDependencies, machine: StateMachine) -> None:
        self.http, self.deps, self.machine = http, deps, machine

    def request(self, target: str = "new-db", user: str = REQUESTER) -> str:
        _, key = self.http.command(user, f"{SNAPSHOT} {target}")
        text = self.http.wait_reply(key)[0]["text"]
        return next(w.strip("`.:") for w in text.split() if w.strip("`.:").startswith("ar-"))

    def deliver_task(self, operation_id: str) -> str:
        """Play the request-approval Lambda with the token the execution sent (bounded wait)."""
        sqs = self.deps.aws.client("sqs")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for message in sqs.receive_message(
                QueueUrl=self.machine.queue_url, WaitTimeSeconds=0
            ).get("Messages", []):
                body = json.loads(message["Body"])
                sqs.delete_message(
                    QueueUrl=self.machine.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
                if body["operation_id"] == operation_id:
                    request_approval(self.deps, operation_id, body["task_token"])
                    return str(body["task_token"])
            time.sleep(0.05)
        raise TimeoutError("the execution never asked for approval")

    def pending(self, target: str = "new-db", user: str = REQUESTER) -> str:
        operation_id = self.request(target, user)
        self.deliver_task(operation_id)
        return operation_id

    def click(self, user: str, action: ActionId, operation_id: str) -> str:
        response, key = self.http.click(user, action, operation_id)
        assert response.status == 200
        return str(self.http.wait_reply(key)[0]["text"])

    def execution(self, operation_id: str) -> dict[str, Any]:
        arn = self.deps.store.get(operation_id).execution_arn
        wait_until(
            lambda: (
                self.deps.stepfunctions.describe_execution(executionArn=arn)["status"] in TERMINAL
            )
        )
        return dict(self.deps.stepfunctions.describe_execution(executionArn=arn))

    def card(self, operation_id: str) -> dict[str, Any]:
        ts = self.deps.store.get(operation_id).slack_message_ts
        return next(m for m in self.http.slack.messages(SLACK_CHANNEL_ID) if m["ts"] == ts)


@pytest.fixture
def flow(slack_http: SlackHttp, deps: BotDependencies, state_machine: StateMachine) -> Flow:
    return Flow(slack_http, deps, state_machine)


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in message.get("blocks", []) if b["type"] == "actions" for e in b["elements"]]


def test_the_card_is_posted_once_with_buttons_that_carry_only_the_operation_id(flow: Flow) -> None:
    operation_id = flow.request()
    token = flow.deliver_task(operation_id)
    request_approval(flow.deps, operation_id, token)  # a retried task invocation
    cards = [
        m for m in flow.http.slack.messages(SLACK_CHANNEL_ID) if operation_id in m.get("text", "")
    ]
    assert len(cards) == 1
    assert [b["value"] for b in buttons(cards[0])] == [operation_id, operation_id]
    everything_slack_saw = json.dumps(flow.http.slack.calls)
    assert token not in everything_slack_saw


def published(flow: Flow, queue_url: str, operation_id: str) -> list[ProgressEvent]:
    sqs = flow.deps.aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    events = [ProgressEvent.model_validate_json(m["Body"]) for m in messages]
    return [e for e in events if e.operation_id == operation_id]


def test_the_approvers_are_asked_once_through_the_progress_path(
    flow: Flow, sqs_progress: str
) -> None:
    operation_id = flow.request()
    token = flow.deliver_task(operation_id)
    request_approval(flow.deps, operation_id, token)  # a retried task invocation: asks nobody again

    [asked] = [e for e in published(flow, sqs_progress, operation_id) if e.stage == Stage.APPROVAL]
    assert asked.status == StageStatus.STARTED
    assert f"<@{APPROVER}>" in asked.detail and f"<@{SECOND_APPROVER}>" in asked.detail
    operation = flow.deps.store.get(operation_id)
    assert operation.stages[Stage.APPROVAL].status == StageStatus.STARTED
    actions = [e.action for e in flow.deps.store.audit_events(operation_id)]
    assert actions.count("approval.started") == 1

    assert deliver(flow.deps, asked, delivery_log(flow.deps))  # what the notifier does with it
    thread = flow.http.slack.replies(SLACK_CHANNEL_ID, operation.slack_message_ts)
    assert "*Approval* started: Approval needed from" in thread[-1]["text"]
    assert f"<@{APPROVER}>" in thread[-1]["text"]


def test_approval_resumes_the_execution(flow: Flow) -> None:
    operation_id = flow.pending()
    reply = flow.click(APPROVER, ActionId.APPROVE, operation_id)
    assert "Approved" in reply
    execution = flow.execution(operation_id)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["approval"] == {"approvers": [APPROVER]}
    operation = flow.deps.store.get(operation_id)
    assert (operation.status, operation.decided_by) == (OperationStatus.APPROVED, APPROVER)
    card = flow.card(operation_id)
    assert buttons(card) == [] and f"Approved by <@{APPROVER}>" in json.dumps(card["blocks"])
    assert "approval.decided" in [e.action for e in flow.deps.store.audit_events(operation_id)]


def test_usergroup_members_may_approve(flow: Flow) -> None:
    operation_id = flow.pending()
    assert "Approved" in flow.click(GROUP_APPROVER, ActionId.APPROVE, operation_id)
    assert flow.execution(operation_id)["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("requester", "clicker", "action", "says"),
    [
        (APPROVER, APPROVER, ActionId.APPROVE, "someone else has to approve"),
        (APPROVER, APPROVER, ActionId.DENY, "someone else has to approve or deny"),
        (REQUESTER, REQUESTER, ActionId.APPROVE, "Only approvers"),
        (REQUESTER, OUTSIDER, ActionId.APPROVE, "Only approvers"),
        (REQUESTER, OUTSIDER, ActionId.DENY, "Only approvers"),
    ],
)
def test_refusals_are_ephemeral_and_change_nothing(
    flow: Flow, requester: str, clicker: str, action: ActionId, says: str
) -> None:
    operation_id = flow.pending(user=requester)
    reply_key = flow.http.click(clicker, action, operation_id)[1]
    [reply] = flow.http.wait_reply(reply_key)
    assert says in reply["text"]
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert flow.deps.store.get(operation_id).status == OperationStatus.PENDING_APPROVAL
    assert len(buttons(flow.card(operation_id))) == 2


def test_two_approver_targets_need_two_different_people(flow: Flow) -> None:
    operation_id = flow.pending("critical-orders")
    assert "needs 1 more approval" in flow.click(APPROVER, ActionId.APPROVE, operation_id)
    assert "already approved" in flow.click(APPROVER, ActionId.APPROVE, operation_id)
    operation = flow.deps.store.get(operation_id)
    assert operation.status == OperationStatus.PENDING_APPROVAL
    assert "1 of 2" in json.dumps(flow.card(operation_id)["blocks"])
    assert "Approved" in flow.click(SECOND_APPROVER, ActionId.APPROVE, operation_id)
    execution = flow.execution(operation_id)
    assert json.loads(execution["output"])["approval"] == {"approvers": [APPROVER, SECOND_APPROVER]}


def test_a_double_click_decides_once(flow: Flow) -> None:
    operation_id = flow.pending()
    first = flow.click(APPROVER, ActionId.APPROVE, operation_id)
    second = flow.click(APPROVER, ActionId.APPROVE, operation_id)
    assert "Approved" in first and "already decided" in second
    assert flow.execution(operation_id)["status"] == "SUCCEEDED"


def test_two_approvers_clicking_at_once_make_one_decision(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    operation_id = flow.pending()
    successes: list[str] = []
    real = flow.deps.stepfunctions.send_task_success

    def counting(**kwargs: Any) -> Any:
        successes.append(kwargs["taskToken"])
        return real(**kwargs)

    monkeypatch.setattr(flow.deps.stepfunctions, "send_task_success", counting)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def decide(user: str) -> None:
        barrier.wait()
        results.append(approve(flow.deps, operation_id, user).reply)

    threads = [threading.Thread(target=decide, args=(u,)) for u in (APPROVER, SECOND_APPROVER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    assert len(successes) == 1
    assert sum("Approved." in r for r in results) == 1
    assert sum("already" in r for r in results) == 1
    assert flow.execution(operation_id)["status"] == "SUCCEEDED"


def test_deny_fails_the_task_and_says_so_on_the_card(flow: Flow) -> None:
    operation_id = flow.pending()
    assert "Denied" in flow.click(APPROVER, ActionId.DENY, operation_id)
    execution = flow.execution(operation_id)
    assert execution["status"] == "FAILED"
    operation = flow.deps.store.get(operation_id)
    assert (operation.status, operation.decided_by) == (OperationStatus.DENIED, APPROVER)
    assert f"Denied by <@{APPROVER}>" in json.dumps(flow.card(operation_id)["blocks"])
    assert flow.deps.store.lock_holder("new-db") is None
    assert "already decided" in flow.click(SECOND_APPROVER, ActionId.APPROVE, operation_id)


def test_cancel_while_pending(flow: Flow) -> None:
    operation_id = flow.pending()
    _, key = flow.http.command(OUTSIDER, f"cancel {operation_id}")
    assert "Only the person who asked" in flow.http.wait_reply(key)[0]["text"]
    _, key = flow.http.command(REQUESTER, f"cancel {operation_id}")
    assert "Cancelled" in flow.http.wait_reply(key)[0]["text"]
    assert flow.execution(operation_id)["status"] == "FAILED"
    operation = flow.deps.store.get(operation_id)
    assert (operation.status, operation.cancelled_by) == (OperationStatus.CANCELLED, REQUESTER)
    assert f"Cancelled by <@{REQUESTER}>" in json.dumps(flow.card(operation_id)["blocks"])
    assert flow.deps.store.lock_holder("new-db") is None
    assert "operation.cancel_requested" in [
        e.action for e in flow.deps.store.audit_events(operation_id)
    ]


def test_cancel_while_running_stops_the_execution(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto leaves a stopped callback execution RUNNING, so record the real call on its way.
    stops: list[dict[str, Any]] = []
    real = flow.deps.stepfunctions.stop_execution

    def recording(**kwargs: Any) -> Any:
        stops.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(flow.deps.stepfunctions, "stop_execution", recording)
    operation_id = flow.pending()
    # Hold the execution in its wait: record the approval as the pipeline would see it running.
    flow.deps.store.transition(
        operation_id,
        OperationStatus.RUNNING,
        expected={OperationStatus.PENDING_APPROVAL},
        decided_by=APPROVER,
    )
    _, key = flow.http.command(APPROVER, f"cancel {operation_id}")
    assert "stopped its workflow" in flow.http.wait_reply(key)[0]["text"]
    arn = flow.deps.store.get(operation_id).execution_arn
    assert stops == [
        {"executionArn": arn, "error": "RestoreCancelled", "cause": f"cancelled by {APPROVER}"}
    ]
    operation = flow.deps.store.get(operation_id)
    assert (operation.status, operation.cancelled_by) == (OperationStatus.CANCELLED, APPROVER)
    assert flow.deps.store.lock_holder("new-db") is None


@pytest.mark.parametrize(
    ("resources", "says"),
    [
        ({SWAP_STARTED: "2026-12-03T10:00:00+00:00"}, "would leave `new-db` without its cluster"),
        (
            {SWAP_STARTED: "2026-12-03T10:00:00+00:00", COMMITTED: "true"},
            "already serves the restored data",
        ),
    ],
)
def test_once_the_swap_has_begun_a_cancel_is_refused_and_nothing_is_stopped(
    flow: Flow, monkeypatch: pytest.MonkeyPatch, resources: dict[str, str], says: str
) -> None:
    stops: list[dict[str, Any]] = []
    monkeypatch.setattr(flow.deps.stepfunctions, "stop_execution", lambda **kw: stops.append(kw))
    operation_id = flow.pending()
    flow.deps.store.transition(
        operation_id,
        OperationStatus.RUNNING,
        expected={OperationStatus.PENDING_APPROVAL},
        decided_by=APPROVER,
    )
    # The stage the card shows is past the swap (or the bot read it before the swap began):
    # the stored swap start decides, as a condition of the cancel's write.
    flow.deps.store.update(operation_id, resources=resources, current_stage=Stage.DELETE_COPY)
    _, key = flow.http.command(APPROVER, f"cancel {operation_id}")
    reply = flow.http.wait_reply(key)[0]["text"]
    assert "can no longer be cancelled" in reply and says in reply
    assert f"/restore rollback {operation_id}" in reply
    assert stops == []
    operation = flow.deps.store.get(operation_id)
    assert (operation.status, operation.cancelled_by) == (OperationStatus.RUNNING, None)
    assert flow.deps.store.lock_holder("new-db") == operation_id


def test_expiry_updates_card_and_thread_and_late_clicks_are_told(
    flow: Flow, sqs_progress: str
) -> None:
    operation_id = flow.pending()
    # What the state machine's MarkExpired task does when the approval times out.
    apply(flow.deps.pipeline, operation_id, StatusEvent.EXPIRED, outcome="the request expired")
    sqs = flow.deps.aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=sqs_progress, MaxNumberOfMessages=10)["Messages"]
    log = delivery_log(flow.deps)
    for message in messages:
        deliver(flow.deps, ProgressEvent.model_validate_json(message["Body"]), log)
    card = flow.card(operation_id)
    assert buttons(card) == [] and "expired" in json.dumps(card["blocks"])
    thread = flow.http.slack.replies(SLACK_CHANNEL_ID, card["ts"])
    assert "Restore expired without a decision" in thread[-1]["text"]
    assert flow.deps.store.lock_holder("new-db") is None
    assert "already decided" in flow.click(APPROVER, ActionId.APPROVE, operation_id)


def test_slack_rate_limiting_the_card_is_retried_by_the_workflow_not_fatal(flow: Flow) -> None:
    operation_id = flow.request()
    flow.http.slack.fail_next("chat.postMessage", status=429, retry_after=0, times=20)
    with pytest.raises(SlackUnavailableError, match="ratelimited"):
        flow.deliver_task(operation_id)
    assert flow.deps.store.get(operation_id).slack_message_ts is None


def test_a_channel_the_bot_cannot_post_in_fails_the_approval_task(
    flow: Flow, deps: BotDependencies
) -> None:
    operation_id = flow.request()
    deps.store.update(
        operation_id,
        request=deps.store.get(operation_id).request.model_copy(
            update={"origin": {"channel_id": "C0NOSUCHCH"}}
        ),
    )
    with pytest.raises(ApprovalCardError, match="channel_not_found"):
        flow.deliver_task(operation_id)
