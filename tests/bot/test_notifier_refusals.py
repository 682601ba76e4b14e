"""When Slack refuses the card's thread or the card itself for good (the app removed from the
channel, the channel archived, the card deleted), the requester still learns how their restore
ended: once, in a direct message from the app, else where they asked; nothing is redelivered."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.deps import BotDependencies
from bot.notifier import delivery_log
from bot.response_url import response_urls
from bot.slack import SERVER_ERROR_RETRIES
from local_stack.slack_emulator import SlackEmulator
from pipeline.models import (
    Operation,
    OperationStatus,
    ProgressEvent,
    RestoreRequest,
    Stage,
    StageStatus,
)
from tests.bot.conftest import REQUESTER, SLACK_CHANNEL_ID
from tests.bot.test_notifier import (
    NO_FAILURES,
    OP_ID,
    failures,
    sqs,
    stage_events,
    thread_texts,
)
from tests.bot.test_notifier import handler as handler  # the fixtures
from tests.bot.test_notifier import running as running


def finished(outcome: OperationStatus = OperationStatus.SUCCEEDED) -> ProgressEvent:
    status = StageStatus.SUCCEEDED if outcome == OperationStatus.SUCCEEDED else StageStatus.FAILED
    return ProgressEvent.for_stage(
        OP_ID,
        Stage.FINISH,
        status,
        "Restore of `new-db-abcdef` finished" if status == StageStatus.SUCCEEDED else "it broke",
        operation_status=outcome,
    )


def remove_app(slack: SlackEmulator, _: Operation) -> None:
    slack.set_bot_membership(SLACK_CHANNEL_ID, False)


def archive(slack: SlackEmulator, _: Operation) -> None:
    slack.archive_channel(SLACK_CHANNEL_ID)


def delete_card(slack: SlackEmulator, operation: Operation) -> None:
    slack.delete_message(SLACK_CHANNEL_ID, str(operation.slack_message_ts))


@pytest.mark.parametrize(
    ("break_channel", "why"),
    [
        (remove_app, "the app is no longer in that channel"),
        (archive, "the channel was archived"),
        (delete_card, "the card was deleted"),
    ],
)
def test_the_outcome_reaches_the_requester_in_a_direct_message_once(
    handler,
    deps: BotDependencies,
    running: Operation,
    slack_world: SlackEmulator,
    break_channel: Callable[[SlackEmulator, Operation], None],
    why: str,
) -> None:
    first, second, *_ = stage_events(deps)
    assert handler(sqs(first), None) == NO_FAILURES  # the card's thread has a reply
    break_channel(slack_world, running)

    # Refused for good: dropped, not handed back, and nobody is told of a mere stage.
    assert handler(sqs(second), None) == NO_FAILURES
    assert slack_world.direct_messages(REQUESTER) == []

    end = finished(OperationStatus.FAILED)
    assert handler(sqs(end), None) == NO_FAILURES
    assert handler(sqs(end), None) == NO_FAILURES  # SQS delivers it again: a duplicate

    [dm] = slack_world.direct_messages(REQUESTER)
    assert why in dm["text"] and f"<#{SLACK_CHANNEL_ID}>" in dm["text"]
    assert OP_ID in dm["text"] and "it broke" in dm["text"] and "*Restore failed.*" in dm["text"]
    assert slack_world.ephemerals() == []


def test_a_refused_dm_falls_back_to_the_commands_response_url(
    handler, deps: BotDependencies, running: Operation, slack_world: SlackEmulator
) -> None:
    url = slack_world.response_url("the-command")
    assert response_urls(deps).keep(OP_ID, url, issued_at=deps.clock())
    slack_world.set_messages_tab(False)  # an admin turned the App Home messages tab off
    remove_app(slack_world, running)

    assert handler(sqs(finished()), None) == NO_FAILURES

    assert slack_world.direct_messages(REQUESTER) == []
    [answer] = slack_world.responses("the-command")
    assert "*Restore succeeded.*" in answer["text"] and answer["response_type"] == "ephemeral"
    assert "the app is no longer in that channel" in answer["text"]


def test_a_transient_failure_telling_the_requester_is_retried_and_tells_them_once(
    handler, deps: BotDependencies, running: Operation, slack_world: SlackEmulator
) -> None:
    end = finished()
    # An earlier attempt posted the thread reply, then its card update failed.
    log = delivery_log(deps)
    assert log.claim(end.event_id) is not None
    log.mark_replied(end.event_id)
    log.release(end.event_id)
    archive(slack_world, running)
    # The card update is refused for good (is_inactive); the DM meets Slack's 5xx throughout.
    slack_world.fail_next("chat.postMessage", status=503, times=SERVER_ERROR_RETRIES + 1)

    assert handler(sqs(end), None) == failures(end)  # handed back to SQS
    assert slack_world.direct_messages(REQUESTER) == []
    assert handler(sqs(end), None) == NO_FAILURES
    assert handler(sqs(end), None) == NO_FAILURES

    [dm] = slack_world.direct_messages(REQUESTER)
    assert "the channel was archived" in dm["text"] and "*Restore succeeded.*" in dm["text"]
    assert len(thread_texts(slack_world, running)) == 0  # the reply was the earlier attempt's


def test_an_operation_that_ends_before_its_card_with_no_way_in_its_channel_gets_a_dm(
    handler, deps: BotDependencies, slack_world: SlackEmulator
) -> None:
    slack_world.add_channel("C0ELSEWHERE", "elsewhere", bot_is_member=False)
    request = RestoreRequest(
        snapshot="snap",
        target_cluster="new-db",
        requester=REQUESTER,
        origin={"channel_id": "C0ELSEWHERE"},
    )
    deps.store.create(OP_ID, request)  # no response_url: it expired, or was never given
    failed = ProgressEvent.for_stage(
        OP_ID,
        Stage.VALIDATE,
        StageStatus.FAILED,
        "the approval card could not be posted",
        operation_status=OperationStatus.FAILED,
    )

    assert handler(sqs(failed), None) == NO_FAILURES

    [dm] = slack_world.direct_messages(REQUESTER)
    assert OP_ID in dm["text"] and "could not be posted" in dm["text"]
