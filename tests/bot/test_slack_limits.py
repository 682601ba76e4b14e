"""The bot within what Slack accepts, through the emulator (which refuses what Slack refuses):
long errors on the card, permanent refusals in the notifier, App Home with long names."""

from __future__ import annotations

import json

import pytest

from bot import notifier
from bot.container import set_default_dependencies
from bot.deps import BotDependencies
from local_stack.slack_emulator import SlackEmulator
from pipeline.models import (
    Operation,
    OperationStatus,
    ProgressEvent,
    RestoreRequest,
    Stage,
    StageRecord,
    StageStatus,
    utc_now,
)
from tests.bot.conftest import REQUESTER, SLACK_CHANNEL_ID, SlackHttp, sign
from tests.bot.test_notifier import NO_FAILURES, OP_ID, sqs, start_operation, thread_texts

LONG_ERROR = "RestoreClusterError: " + " ".join(f"reason-{i:04d}" for i in range(600))  # ~7,000
SNAPSHOT_ARN = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:" + "nightly-" * 30 + "0001"


@pytest.fixture
def handler(deps: BotDependencies):
    set_default_dependencies(deps)
    yield notifier.handler
    set_default_dependencies(None)


@pytest.fixture
def running(deps: BotDependencies) -> Operation:
    return start_operation(deps, OP_ID)


def card(slack: SlackEmulator, operation: Operation) -> dict:
    return next(
        m for m in slack.messages(SLACK_CHANNEL_ID) if m["ts"] == operation.slack_message_ts
    )


def test_a_long_error_is_cut_on_the_card_and_whole_in_the_thread(
    handler, deps: BotDependencies, running: Operation, slack_world: SlackEmulator
) -> None:
    now = utc_now()
    deps.store.record_stage(
        OP_ID,
        Stage.RESTORE_CLUSTER,
        StageRecord(status=StageStatus.FAILED, started_at=now, ended_at=now, detail=LONG_ERROR),
    )
    deps.store.transition(
        OP_ID, OperationStatus.FAILED, expected={OperationStatus.RUNNING}, error=LONG_ERROR
    )
    failed = ProgressEvent.for_stage(OP_ID, Stage.RESTORE_CLUSTER, StageStatus.FAILED, LONG_ERROR)
    ended = ProgressEvent.for_stage(
        OP_ID,
        Stage.FINISH,
        StageStatus.FAILED,
        f"Restore failed: {LONG_ERROR}",
        operation_status=OperationStatus.FAILED,
    )

    assert handler(sqs(failed, ended), None) == NO_FAILURES

    blocks = json.dumps(card(slack_world, running)["blocks"])
    assert "reason-0000" in blocks and "(the whole error is in the thread)" in blocks
    assert "reason-0599" not in blocks
    [stage_reply, final_reply] = thread_texts(slack_world, running)
    assert LONG_ERROR in stage_reply and LONG_ERROR in final_reply


def test_a_refusal_slack_will_repeat_is_logged_and_dropped_not_redelivered(
    handler,
    deps: BotDependencies,
    running: Operation,
    slack_world: SlackEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack_world.set_bot_membership(SLACK_CHANNEL_ID, False)  # someone removed the app
    events = [
        ProgressEvent.for_stage(OP_ID, Stage.RESTORE_CLUSTER, status, "restoring")
        for status in (StageStatus.STARTED, StageStatus.SUCCEEDED)
    ]

    assert handler(sqs(*events), None) == NO_FAILURES
    assert handler(sqs(*events), None) == NO_FAILURES  # a redelivery is a duplicate now

    assert len(slack_world.calls_to("chat.postMessage")) == 1 + 2  # the card, one try each
    assert "not_in_channel" in caplog.text and "dropped, not retried" in caplog.text


def test_app_home_shows_ten_restores_of_long_snapshot_arns(
    slack_http: SlackHttp, deps: BotDependencies, slack_world: SlackEmulator
) -> None:
    ids = [f"ar-2026010100000{i}-aaaaa{i}" for i in range(10)]
    for operation_id in ids:
        deps.store.create(
            operation_id,
            RestoreRequest(snapshot=SNAPSHOT_ARN, target_cluster="home-db", requester=REQUESTER),
        )
    body = json.dumps(
        {
            "token": "legacy",
            "team_id": "T0LOCAL",
            "api_app_id": "A0LOCALAPP",
            "type": "event_callback",
            "event_id": "Ev2",
            "event_time": 1,
            "event": {"type": "app_home_opened", "user": REQUESTER, "channel": "D1", "tab": "home"},
        }
    )
    assert slack_http.send(body, {**sign(body), "content-type": "application/json"}).status == 200

    slack_world.wait_for(lambda: slack_world.home_view(REQUESTER) is not None)
    home = json.dumps(slack_world.home_view(REQUESTER))
    assert all(operation_id in home for operation_id in ids)
    assert SNAPSHOT_ARN[:30] in home and SNAPSHOT_ARN[-30:] in home
