"""Handing an approval to the waiting workflow (SendTaskSuccess) survives transient failures,
and when it finally cannot, the approver is told and can approve again: an approved restore is
never left waiting until it expires (moto's Step Functions, failures scripted at the client)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from bot import task_answers
from bot.ids import ActionId
from pipeline.models import OperationStatus
from tests.bot.conftest import APPROVER
from tests.bot.test_approval import Flow, buttons
from tests.bot.test_approval import flow as flow  # the fixture


class ScriptedThrottling:
    """Answers the next `failures` SendTaskSuccess/SendTaskFailure calls as Step Functions does when it throttles
    (HTTP 400 ThrottlingException), before they reach moto; then lets calls through."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, **_kwargs: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        self.calls += 1
        if self.failures <= 0:
            return None
        self.failures -= 1
        error = {"Code": "ThrottlingException", "Message": "Rate exceeded"}
        http = AWSResponse("https://states.us-east-1.amazonaws.com/", 400, {}, None)
        return http, {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}


@pytest.fixture
def throttling(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedThrottling]:
    monkeypatch.setattr(task_answers, "HANDOFF_RETRY_DELAYS", (0.0, 0.0, 0.0), raising=False)
    script = ScriptedThrottling(failures=0)
    events = flow.deps.stepfunctions.meta.events
    for call in ("SendTaskSuccess", "SendTaskFailure"):
        events.register(f"before-call.sfn.{call}", script)
    yield script
    for call in ("SendTaskSuccess", "SendTaskFailure"):
        events.unregister(f"before-call.sfn.{call}", script)


def test_a_throttled_handoff_is_retried_and_the_restore_goes_on(
    flow: Flow, throttling: ScriptedThrottling
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
    flow: Flow, throttling: ScriptedThrottling
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
    flow: Flow, throttling: ScriptedThrottling
) -> None:
    operation_id = flow.pending()
    throttling.failures = 1_000

    reply = flow.click(APPROVER, ActionId.DENY, operation_id)

    assert "Denied" in reply
    assert throttling.calls == len(task_answers.HANDOFF_RETRY_DELAYS) + 1
    assert flow.deps.store.get(operation_id).status == OperationStatus.DENIED
    assert flow.deps.store.lock_holder("new-db") is None  # a new request may go ahead
