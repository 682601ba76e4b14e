"""Handing an approval to the waiting workflow (SendTaskSuccess): transient failures are retried,
and when the hand-off finally fails the approver is told whether clicking again can help
(throttling: yes; a refusal such as AccessDenied: not until an operator fixes it); a workflow
that no longer waits (an expired task, a token Step Functions does not know) settles the
request so nothing stays pending. Step Functions is moto's, its failures scripted at the
client where moto cannot produce them; the damaged token is moto's own answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from bot import task_answers
from bot.ids import ActionId
from pipeline.models import OperationStatus, Stage, StageStatus
from tests.bot.conftest import APPROVER
from tests.bot.test_approval import Flow, buttons, published
from tests.bot.test_approval import flow as flow  # the fixture


class ScriptedAnswer:
    """Answers the next `failures` SendTaskSuccess/SendTaskFailure calls with an AWS error
    (by default as Step Functions throttles: HTTP 400 ThrottlingException), before they reach
    moto; then lets calls through."""

    def __init__(self, failures: int, code: str = "ThrottlingException") -> None:
        self.failures = failures
        self.code = code
        self.calls = 0

    def __call__(self, **_kwargs: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        self.calls += 1
        if self.failures <= 0:
            return None
        self.failures -= 1
        error = {"Code": self.code, "Message": MESSAGES.get(self.code, "Rate exceeded")}
        http = AWSResponse("https://states.us-east-1.amazonaws.com/", 400, {}, None)
        return http, {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}


MESSAGES = {
    "AccessDeniedException": (
        "User: arn:aws:sts::123456789012:assumed-role/aurora-restore-slack-endpoint-role/x is "
        "not authorized to perform: states:SendTaskSuccess"
    ),
    "TaskTimedOut": "Task Timed Out",
}


@pytest.fixture
def throttling(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedAnswer]:
    monkeypatch.setattr(task_answers, "HANDOFF_RETRY_DELAYS", (0.0, 0.0, 0.0), raising=False)
    script = ScriptedAnswer(failures=0)
    events = flow.deps.stepfunctions.meta.events
    for call in ("SendTaskSuccess", "SendTaskFailure"):
        events.register(f"before-call.sfn.{call}", script)
    yield script
    for call in ("SendTaskSuccess", "SendTaskFailure"):
        events.unregister(f"before-call.sfn.{call}", script)


def test_a_throttled_handoff_is_retried_and_the_restore_goes_on(
    flow: Flow, throttling: ScriptedAnswer
) -> None:
    operation_id = flow.pending()
    throttling.failures = len(task_answers.HANDOFF_RETRY_DELAYS)  # every retry is needed

    reply = flow.click(APPROVER, ActionId.APPROVE, operation_id)

    assert "Approved" in reply
    assert throttling.calls == len(task_answers.HANDOFF_RETRY_DELAYS) + 1
    execution = flow.execution(operation_id)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["approval"] == {"approvers": [APPROVER]}


def test_a_handoff_that_keeps_failing_is_taken_back_and_the_approver_told(
    flow: Flow, throttling: ScriptedAnswer
) -> None:
    operation_id = flow.pending()
    throttling.failures = 1_000

    reply = flow.click(APPROVER, ActionId.APPROVE, operation_id)

    assert "could not be handed to the workflow" in reply
    assert "Click *Approve* again" in reply
    operation = flow.deps.store.get(operation_id)
    assert operation.status == OperationStatus.PENDING_APPROVAL
    assert (operation.approvers, operation.decided_by) == ([], None)
    assert [b["action_id"] for b in buttons(flow.card(operation_id))] == [
        ActionId.APPROVE,
        ActionId.DENY,
    ]
    actions = [e.action for e in flow.deps.store.audit_events(operation_id)]
    assert "approval.handoff_failed" in actions

    throttling.failures = 0  # Step Functions answers again
    assert "Approved" in flow.click(APPROVER, ActionId.APPROVE, operation_id)
    assert flow.execution(operation_id)["status"] == "SUCCEEDED"
    assert flow.deps.store.get(operation_id).status == OperationStatus.APPROVED


def test_a_denial_the_workflow_cannot_be_told_of_still_stands_and_frees_the_target(
    flow: Flow, throttling: ScriptedAnswer
) -> None:
    operation_id = flow.pending()
    throttling.failures = 1_000

    reply = flow.click(APPROVER, ActionId.DENY, operation_id)

    assert "Denied" in reply
    assert throttling.calls == len(task_answers.HANDOFF_RETRY_DELAYS) + 1
    assert flow.deps.store.get(operation_id).status == OperationStatus.DENIED
    assert flow.deps.store.lock_holder("new-db") is None  # a new request may go ahead


def test_a_refused_handoff_says_clicking_again_will_not_help_and_who_can_fix_it(
    flow: Flow, throttling: ScriptedAnswer
) -> None:
    operation_id = flow.pending()
    throttling.code, throttling.failures = "AccessDeniedException", 1_000

    reply = flow.click(APPROVER, ActionId.APPROVE, operation_id)

    assert throttling.calls == 1  # a refusal is not retried
    assert "could not be handed to the workflow" in reply and "AccessDeniedException" in reply
    assert "Clicking again will not help" in reply and "Click *Approve* again" not in reply
    assert "operator" in reply and "IAM" in reply and "states:SendTaskSuccess" in reply
    operation = flow.deps.store.get(operation_id)
    assert operation.status == OperationStatus.PENDING_APPROVAL  # nothing runs meanwhile
    assert [b["action_id"] for b in buttons(flow.card(operation_id))] == [
        ActionId.APPROVE,
        ActionId.DENY,
    ]
    [failed] = [e for e in flow.deps.store.audit_events(operation_id) if "handoff" in e.action]
    assert failed.detail["retryable"] is False

    throttling.failures = 0  # the operator fixed the role
    assert "Approved" in flow.click(APPROVER, ActionId.APPROVE, operation_id)
    assert flow.execution(operation_id)["status"] == "SUCCEEDED"


def test_an_expired_task_is_too_late_and_the_request_expires_freeing_the_target(
    flow: Flow, throttling: ScriptedAnswer, sqs_progress: str
) -> None:
    operation_id = flow.pending()
    # What Step Functions answers once the wait expired: "The task token has either expired or
    # the task associated with the token has already been closed." (moto answers InvalidToken.)
    throttling.code, throttling.failures = "TaskTimedOut", 1

    reply = flow.click(APPROVER, ActionId.APPROVE, operation_id)

    assert "Too late" in reply and "nothing will run" in reply and "again" not in reply
    operation = flow.deps.store.get(operation_id)
    assert operation.status == OperationStatus.EXPIRED
    assert operation.stages[Stage.APPROVAL].status == StageStatus.FAILED
    assert flow.deps.store.lock_holder("new-db") is None
    [end] = [e for e in published(flow, sqs_progress, operation_id) if e.operation_status]
    assert end.operation_status == OperationStatus.EXPIRED
    assert "expired" in json.dumps(flow.card(operation_id)["blocks"])
    assert buttons(flow.card(operation_id)) == []


def test_a_token_step_functions_does_not_know_ends_the_request_and_its_workflow(
    flow: Flow, sqs_progress: str
) -> None:
    operation_id = flow.pending()
    flow.deps.store.save_task_token(operation_id, "AAAA-damaged-token")  # a damaged item
    stops: list[dict[str, Any]] = []
    events = flow.deps.stepfunctions.meta.events
    events.register(
        "provide-client-params.sfn.StopExecution", lambda params, **_: stops.append(params)
    )

    reply = flow.click(APPROVER, ActionId.APPROVE, operation_id)

    assert "no longer waiting for a decision" in reply and "nothing will run" in reply
    assert "Click *Approve* again" not in reply
    operation = flow.deps.store.get(operation_id)
    assert operation.status == OperationStatus.FAILED and operation.error
    assert flow.deps.store.lock_holder("new-db") is None
    # Its workflow, still waiting on the token it gave, is stopped: nothing waits any more.
    # (moto's execution, blocked on its callback, stays RUNNING when stopped: read the request.)
    [stop] = stops
    assert stop["executionArn"] == operation.execution_arn
    assert stop["error"] == "ApprovalTaskUnknown"
    [end] = [e for e in published(flow, sqs_progress, operation_id) if e.operation_status]
    assert end.operation_status == OperationStatus.FAILED
    assert buttons(flow.card(operation_id)) == []
