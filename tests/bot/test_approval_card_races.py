"""The approval task against what can happen while it works: a decision that lands while the card
is being posted, and Slack failing the follow-up card update of a retried task."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.approval_clicks import deny
from bot.deps import BotDependencies
from bot.request_approval import request_approval
from bot.slack import build_web_client
from pipeline.models import OperationStatus, Stage, StageStatus
from tests.bot.conftest import APPROVER, SlackHttp, StateMachine
from tests.bot.test_approval import Flow, buttons


class DecidesWhileThePostIsInFlight(WebClient):
    """Slack's answer to the card post arrives only after an approver has already denied."""

    def __init__(self, deps: BotDependencies, operation_id: str) -> None:
        reference = build_web_client(deps.bot_token, deps.settings.slack_api_url)
        super().__init__(token=reference.token, base_url=reference.base_url)
        self._decide = lambda: deny(deps, operation_id, APPROVER)
        self.decided = False

    def chat_postMessage(self, **kwargs: Any) -> Any:
        answer = super().chat_postMessage(**kwargs)
        if not kwargs.get("thread_ts") and not self.decided:
            self.decided = True
            self._decide()
        return answer


def with_client(deps: BotDependencies, client: WebClient) -> BotDependencies:
    return BotDependencies(
        settings=deps.settings,
        policy=deps.policy,
        signing_secret=deps.signing_secret,
        bot_token=deps.bot_token,
        pipeline=deps.pipeline,
        web_client=lambda: client,
    )


@pytest.fixture
def flow(slack_http: SlackHttp, deps: BotDependencies, state_machine: StateMachine) -> Flow:
    return Flow(slack_http, deps, state_machine)


def test_a_denial_during_the_card_post_shows_on_the_card_and_asks_nobody(
    flow: Flow, slack_http: SlackHttp, deps: BotDependencies, state_machine: StateMachine
) -> None:
    operation_id = flow.request()
    racing = DecidesWhileThePostIsInFlight(deps, operation_id)

    Flow(slack_http, with_client(deps, racing), state_machine).deliver_task(operation_id)

    assert racing.decided
    operation = deps.store.get(operation_id)
    assert (operation.status, operation.decided_by) == (OperationStatus.DENIED, APPROVER)
    card = flow.card(operation_id)  # the card's ts was stored after the denial
    assert buttons(card) == []
    assert f"Denied by <@{APPROVER}>" in json.dumps(card["blocks"])
    assert Stage.APPROVAL not in operation.stages  # nobody is asked to approve a denied request
    assert flow.execution(operation_id)["status"] == "FAILED"
    assert deps.store.lock_holder("new-db") is None


def test_a_retried_task_survives_slack_failing_the_card_update(
    flow: Flow, deps: BotDependencies, caplog: pytest.LogCaptureFixture
) -> None:
    operation_id = flow.pending()
    flow.http.slack.fail_next("chat.update", status=500, times=20)
    caplog.set_level(logging.WARNING, logger="aurora_restore.bot.request_approval")

    request_approval(deps, operation_id, str(deps.store.task_token(operation_id)))

    operation = deps.store.get(operation_id)
    assert operation.status == OperationStatus.PENDING_APPROVAL
    assert operation.stages[Stage.APPROVAL].status == StageStatus.STARTED
    assert "could not update the card" in caplog.text
    assert len(buttons(flow.card(operation_id))) == 2  # the card as first posted still works
