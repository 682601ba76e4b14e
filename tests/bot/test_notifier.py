"""Progress events → Slack: thread replies and card updates, exactly once, through 429s and
outages (the notifier raises so SNS delivers again; nothing is lost)."""

from __future__ import annotations

import json

import pytest
from slack_sdk.errors import SlackApiError

from bot import notifier
from bot.cards import post_card
from bot.config import set_default_dependencies
from bot.deps import BotDependencies
from bot.slack import SERVER_ERROR_RETRIES
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
from tests.bot.conftest import APPROVER, REQUESTER, SLACK_CHANNEL_ID

OP_ID = "ar-20260301120000-abcdef"


@pytest.fixture
def running(deps: BotDependencies) -> Operation:
    store = deps.store
    request = RestoreRequest(
        snapshot="snap",
        target_cluster="new-db",
        requester=REQUESTER,
        origin={"channel_id": SLACK_CHANNEL_ID},
    )
    store.create(OP_ID, request)
    operation = store.transition(
        OP_ID,
        OperationStatus.RUNNING,
        expected={OperationStatus.PENDING_APPROVAL},
        decided_by=APPROVER,
    )
    ts = post_card(deps, operation, SLACK_CHANNEL_ID)
    return store.update(OP_ID, slack_channel=SLACK_CHANNEL_ID, slack_message_ts=ts)


@pytest.fixture
def handler(deps: BotDependencies):
    set_default_dependencies(deps)
    yield notifier.handler
    set_default_dependencies(None)


def sns(*events: ProgressEvent) -> dict:
    return {
        "Records": [
            {"EventSource": "aws:sns", "Sns": {"Message": e.model_dump_json()}} for e in events
        ]
    }


def stage_events(deps: BotDependencies) -> list[ProgressEvent]:
    """Record the stages on the operation (as the pipeline does) and return their events."""
    events = []
    for stage in (Stage.RESTORE_CLUSTER, Stage.SETUP_DATABASE):
        deps.store.record_stage(
            OP_ID,
            stage,
            StageRecord(status=StageStatus.SUCCEEDED, started_at=utc_now(), ended_at=utc_now()),
        )
        events.append(ProgressEvent.for_stage(OP_ID, stage, StageStatus.STARTED, f"{stage} begins"))
        events.append(
            ProgressEvent.for_stage(
                OP_ID, stage, StageStatus.SUCCEEDED, f"{stage} ends", duration_seconds=65
            )
        )
    return events


def thread_texts(slack: SlackEmulator, operation: Operation) -> list[str]:
    return [m["text"] for m in slack.replies(SLACK_CHANNEL_ID, str(operation.slack_message_ts))[1:]]


def test_each_event_is_one_thread_reply_and_the_card_follows(
    handler, deps: BotDependencies, running: Operation, slack_world: SlackEmulator
) -> None:
    events = stage_events(deps)
    assert handler(sns(*events), None) == {"delivered": 4, "duplicates": 0}
    texts = thread_texts(slack_world, running)
    assert len(texts) == 4
    assert "*Restore cluster and instances* started" in texts[0]
    assert "done in 1m 5s" in texts[1]
    card = slack_world.messages(SLACK_CHANNEL_ID)[0]
    assert ":white_check_mark: Set up database users" in json.dumps(card["blocks"])


def test_duplicates_are_dropped(
    handler, deps: BotDependencies, running: Operation, slack_world: SlackEmulator
) -> None:
    events = stage_events(deps)
    handler(sns(*events), None)
    assert handler(sns(events[0], events[2]), None) == {"delivered": 0, "duplicates": 2}
    assert len(thread_texts(slack_world, running)) == 4


def test_429s_are_waited_out_and_no_message_is_lost(
    handler, deps: BotDependencies, running: Operation, slack_world: SlackEmulator
) -> None:
    slack_world.fail_next("chat.postMessage", status=429, retry_after=1, times=2)
    events = stage_events(deps)
    assert handler(sns(*events), None)["delivered"] == 4
    assert len(thread_texts(slack_world, running)) == 4
    thread_posts = [a for a in slack_world.calls_to("chat.postMessage") if a.get("thread_ts")]
    assert len(thread_posts) == 6  # two answered 429, then the four replies


def test_an_outage_raises_for_redelivery_and_loses_nothing(
    handler, deps: BotDependencies, running: Operation, slack_world: SlackEmulator
) -> None:
    events = stage_events(deps)
    slack_world.set_unavailable(True)
    with pytest.raises(SlackApiError):
        handler(sns(events[0]), None)
    slack_world.set_unavailable(False)
    assert handler(sns(events[0]), None) == {"delivered": 1, "duplicates": 0}  # SNS's retry
    assert len(thread_texts(slack_world, running)) == 1


def test_a_failed_card_update_does_not_repeat_the_reply(
    handler, deps: BotDependencies, running: Operation, slack_world: SlackEmulator
) -> None:
    [event, *_] = stage_events(deps)
    # Every attempt of the first delivery fails (one try plus the bounded retries).
    slack_world.fail_next("chat.update", status=503, times=SERVER_ERROR_RETRIES + 1)
    with pytest.raises(SlackApiError):
        handler(sns(event), None)
    handler(sns(event), None)
    assert len(thread_texts(slack_world, running)) == 1


def test_an_operation_that_ends_before_its_card_tells_the_requester(
    handler, deps: BotDependencies, slack_world: SlackEmulator
) -> None:
    request = RestoreRequest(
        snapshot="snap",
        target_cluster="new-db",
        requester=REQUESTER,
        origin={"channel_id": SLACK_CHANNEL_ID},
    )
    deps.store.create(OP_ID, request)
    early = ProgressEvent.for_stage(OP_ID, Stage.VALIDATE, StageStatus.STARTED, "resolving")
    failed = ProgressEvent.for_stage(
        OP_ID,
        Stage.VALIDATE,
        StageStatus.FAILED,
        "snapshot vanished",
        operation_status=OperationStatus.FAILED,
    )
    handler(sns(early, failed), None)
    assert slack_world.messages(SLACK_CHANNEL_ID) == []
    [ephemeral] = slack_world.ephemerals(SLACK_CHANNEL_ID)
    assert ephemeral["user"] == REQUESTER and "snapshot vanished" in ephemeral["text"]
