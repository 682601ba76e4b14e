"""Progress events from the FIFO queue → Slack: thread replies and card updates, exactly once and
in order, through 429s and outages (a record that cannot be delivered is reported as a batch item
failure with the rest of its operation, so SQS hands them out again; nothing is lost)."""

from __future__ import annotations

import json

import pytest

from bot import notifier
from bot.container import set_default_dependencies
from bot.deps import BotDependencies
from bot.notifier import delivery_log
from bot.slack import SERVER_ERROR_RETRIES
from bot.slack_messages import post_card
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
OTHER_OP_ID = "ar-20260301120000-fedcba"
NO_FAILURES: dict = {"batchItemFailures": []}


def start_operation(deps: BotDependencies, operation_id: str) -> Operation:
    """An approved, running operation whose card is posted (its thread takes the replies)."""
    store = deps.store
    request = RestoreRequest(
        snapshot="snap",
        target_cluster=f"new-db-{operation_id[-6:]}",
        requester=REQUESTER,
        origin={"channel_id": SLACK_CHANNEL_ID},
    )
    store.create(operation_id, request)
    operation = store.transition(
        operation_id,
        OperationStatus.RUNNING,
        expected={OperationStatus.PENDING_APPROVAL},
        decided_by=APPROVER,
    )
    ts = post_card(deps, operation, SLACK_CHANNEL_ID)
    return store.update(operation_id, slack_channel=SLACK_CHANNEL_ID, slack_message_ts=ts)


@pytest.fixture
def running(deps: BotDependencies) -> Operation:
    return start_operation(deps, OP_ID)


@pytest.fixture
def handler(deps: BotDependencies):
    set_default_dependencies(deps)
    yield notifier.handler
    set_default_dependencies(None)


def sqs_record(event: ProgressEvent, *, body: str | None = None) -> dict:
    """A record as Lambda's SQS event source mapping passes it (raw delivery: the event is the
    body); the message id is the event id, so a test can name the record it expects back."""
    return {
        "messageId": f"msg-{event.event_id}",
        "receiptHandle": f"handle-{event.event_id}",
        "body": event.model_dump_json() if body is None else body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "MessageGroupId": event.operation_id,
            "MessageDeduplicationId": event.event_id,
        },
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:progress.fifo",
        "awsRegion": "us-east-1",
    }


def sqs(*events: ProgressEvent) -> dict:
    return {"Records": [sqs_record(e) for e in events]}


def failures(*events: ProgressEvent) -> dict:
    return {"batchItemFailures": [{"itemIdentifier": f"msg-{e.event_id}"} for e in events]}


def stage_events(deps: BotDependencies, operation_id: str = OP_ID) -> list[ProgressEvent]:
    """Record the stages on the operation (as the pipeline does) and return their events."""
    events = []
    for stage in (Stage.RESTORE_CLUSTER, Stage.SETUP_DATABASE):
        deps.store.record_stage(
            operation_id,
            stage,
            StageRecord(status=StageStatus.SUCCEEDED, started_at=utc_now(), ended_at=utc_now()),
        )
        events.append(
            ProgressEvent.for_stage(operation_id, stage, StageStatus.STARTED, f"{stage} begins")
        )
        events.append(
            ProgressEvent.for_stage(
                operation_id, stage, StageStatus.SUCCEEDED, f"{stage} ends", duration_seconds=65
            )
        )
    return events


def thread_texts(slack: SlackEmulator, operation: Operation) -> list[str]:
    return [m["text"] for m in slack.replies(SLACK_CHANNEL_ID, str(operation.slack_message_ts))[1:]]


def test_each_event_is_one_thread_reply_and_the_card_follows(
    handler, deps: BotDependencies, running: Operation, slack_world: SlackEmulator
) -> None:
    events = stage_events(deps)
    assert handler(sqs(*events), None) == NO_FAILURES
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
    handler(sqs(*events), None)
    assert handler(sqs(events[0], events[2]), None) == NO_FAILURES
    assert len(thread_texts(slack_world, running)) == 4


def test_429s_are_waited_out_and_no_message_is_lost(
    handler, deps: BotDependencies, running: Operation, slack_world: SlackEmulator
) -> None:
    slack_world.fail_next("chat.postMessage", status=429, retry_after=1, times=2)
    events = stage_events(deps)
    assert handler(sqs(*events), None) == NO_FAILURES
    assert len(thread_texts(slack_world, running)) == 4
    thread_posts = [a for a in slack_world.calls_to("chat.postMessage") if a.get("thread_ts")]
    assert len(thread_posts) == 6  # two answered 429, then the four replies


def test_an_outage_hands_the_whole_thread_back_in_order_and_loses_nothing(
    handler, deps: BotDependencies, running: Operation, slack_world: SlackEmulator
) -> None:
    events = stage_events(deps)
    slack_world.set_unavailable(True)
    # The first event fails; the later ones are not even tried, so they cannot overtake it.
    assert handler(sqs(*events), None) == failures(*events)
    assert len(slack_world.calls_to("chat.postMessage")) == 1 + SERVER_ERROR_RETRIES + 1
    slack_world.set_unavailable(False)
    assert handler(sqs(*events), None) == NO_FAILURES  # SQS hands them out again
    texts = thread_texts(slack_world, running)
    assert [t.rsplit(": ", 1)[0] for t in texts] == [
        ":hourglass_flowing_sand: *Restore cluster and instances* started",
        ":white_check_mark: *Restore cluster and instances* done in 1m 5s",
        ":hourglass_flowing_sand: *Set up database users* started",
        ":white_check_mark: *Set up database users* done in 1m 5s",
    ]


def test_a_failure_holds_back_only_its_own_operation(
    handler, deps: BotDependencies, running: Operation, slack_world: SlackEmulator
) -> None:
    other = start_operation(deps, OTHER_OP_ID)
    mine, theirs = stage_events(deps), stage_events(deps, OTHER_OP_ID)
    # Another invocation is delivering this operation's second event right now.
    assert delivery_log(deps).claim(mine[1].event_id) is not None
    interleaved = [mine[0], theirs[0], mine[1], theirs[1], mine[2], theirs[2], mine[3], theirs[3]]
    assert handler(sqs(*interleaved), None) == failures(mine[1], mine[2], mine[3])
    assert len(thread_texts(slack_world, running)) == 1
    assert len(thread_texts(slack_world, other)) == 4
    delivery_log(deps).release(mine[1].event_id)  # that invocation gave up its claim
    assert handler(sqs(mine[1], mine[2], mine[3]), None) == NO_FAILURES
    texts = thread_texts(slack_world, running)
    assert [t.split(" ")[1] for t in texts] == ["*Restore", "*Restore", "*Set", "*Set"]
    assert [" started" in t for t in texts] == [True, False, True, False]


def test_an_sns_envelope_body_is_accepted_and_a_foreign_body_is_dropped(
    handler, deps: BotDependencies, running: Operation, slack_world: SlackEmulator
) -> None:
    first, second, *_ = stage_events(deps)
    envelope = json.dumps({"Type": "Notification", "Message": first.model_dump_json()})
    foreign = sqs_record(second, body='{"token": "xoxb-not-a-progress-event"}')
    foreign["messageId"] = "msg-foreign"
    event = {"Records": [sqs_record(first, body=envelope), foreign, sqs_record(second)]}
    # A body that is not a progress event can never be delivered: dropped, not retried, and
    # it holds back nothing behind it.
    assert handler(event, None) == NO_FAILURES
    assert len(thread_texts(slack_world, running)) == 2


def test_a_failed_card_update_does_not_repeat_the_reply(
    handler, deps: BotDependencies, running: Operation, slack_world: SlackEmulator
) -> None:
    [event, *_] = stage_events(deps)
    # Every attempt of the first delivery fails (one try plus the bounded retries).
    slack_world.fail_next("chat.update", status=503, times=SERVER_ERROR_RETRIES + 1)
    assert handler(sqs(event), None) == failures(event)
    assert handler(sqs(event), None) == NO_FAILURES
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
    assert handler(sqs(early, failed), None) == NO_FAILURES
    assert slack_world.messages(SLACK_CHANNEL_ID) == []
    [ephemeral] = slack_world.ephemerals(SLACK_CHANNEL_ID)
    assert ephemeral["user"] == REQUESTER and "snapshot vanished" in ephemeral["text"]
