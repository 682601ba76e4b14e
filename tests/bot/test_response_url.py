"""The `/restore` command's response_url is kept only when it is Slack's, used at most 5 times
within its 30 minutes and then forgotten (nothing tries a dead one), and never logged."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from slack_sdk.webhook import WebhookClient

from bot.deps import BotDependencies
from bot.requester import tell_requester
from bot.response_url import RESPONSE_URL_USES, ResponseUrls, is_response_url, response_urls
from bot.restore_flow import start_restore
from local_stack.slack_emulator import SlackEmulator
from local_stack.slack_emulator.faults import RESPONSE_URL
from pipeline.models import Operation, RestoreRequest
from pipeline.store_schema import OPERATION_KEY
from tests.bot.conftest import REQUESTER, SNAPSHOT, SlackHttp

OP_ID = "ar-20260301120000-abcdef"
ELSEWHERE = "C0ELSEWHERE"  # a channel the app is not in: the response_url is the way left


@pytest.mark.parametrize(
    ("url", "slacks"),
    [
        ("https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN", True),
        ("https://hooks.slack.com/actions/T0LOCAL/1232321423432/D09sSasdasdAS9091209", True),
        ("http://hooks.slack.com/commands/T1/2/abc", False),  # not TLS
        ("https://hooks.slack.com.example.net/commands/T1/2/abc", False),
        ("https://user@hooks.slack.com/commands/T1/2/abc", False),
        ("https://hooks.slack.com:8443/commands/T1/2/abc", False),
        ("https://hooks.slack.com/services/T1/B2/abc", False),  # an incoming webhook
        ("https://hooks.slack.com/commands/T1/2/abc?redirect=https://example.net", False),
        ("https://example.net/commands/T1/2/abc", False),
        ("", False),
    ],
)
def test_only_slacks_response_urls_are_accepted(url: str, slacks: bool) -> None:
    assert is_response_url(url) is slacks


def test_the_local_emulators_urls_are_accepted_only_where_configured(slack: SlackEmulator) -> None:
    url = slack.response_url("cmd-1")
    assert is_response_url(url, slack.response_url_base)
    assert not is_response_url(url)  # a deployment configures no extra base
    assert not is_response_url(slack.response_url_base, slack.response_url_base)


def stored(deps: BotDependencies, operation_id: str = OP_ID) -> dict:
    item = deps.aws.dynamodb.get_item(
        TableName=deps.pipeline.settings.operations_table,
        Key={OPERATION_KEY: {"S": operation_id}},
        ConsistentRead=True,
    )["Item"]
    return {k: v for k, v in item.items() if k.startswith("slack_response_url")}


@pytest.fixture
def elsewhere(deps: BotDependencies, slack_world: SlackEmulator) -> Operation:
    """An operation asked for in a channel the app is not in."""
    slack_world.add_channel(ELSEWHERE, "elsewhere", bot_is_member=False)
    request = RestoreRequest(
        snapshot=SNAPSHOT,
        target_cluster="new-db",
        requester=REQUESTER,
        origin={"channel_id": ELSEWHERE},
    )
    return deps.store.create(OP_ID, request)


def test_a_url_that_is_not_slacks_is_not_kept(
    deps: BotDependencies, slack_world: SlackEmulator
) -> None:
    request = RestoreRequest(
        snapshot=SNAPSHOT, target_cluster="new-db", requester=REQUESTER, origin={}
    )
    answer = start_restore(
        deps, request, operation_id=OP_ID, response_url="https://hooks.example.net/commands/x"
    )
    assert "Restore requested" in answer
    assert stored(deps) == {}


def test_a_response_url_is_used_5_times_then_forgotten_and_never_tried_again(
    deps: BotDependencies, slack_world: SlackEmulator, elsewhere: Operation
) -> None:
    urls = response_urls(deps)
    assert urls.keep(OP_ID, slack_world.response_url("cmd"), issued_at=deps.clock(), uses=1)

    told = [tell_requester(deps, elsewhere, f"update {i}") for i in range(RESPONSE_URL_USES)]

    assert told == [True] * (RESPONSE_URL_USES - 1) + [False]
    assert [r["text"] for r in slack_world.responses("cmd")] == [
        f"update {i}" for i in range(RESPONSE_URL_USES - 1)
    ]
    assert stored(deps) == {}  # gone with its fifth use (the command's own answer was the first)


def test_an_expired_response_url_is_forgotten_unused(
    deps: BotDependencies, slack_world: SlackEmulator, elsewhere: Operation
) -> None:
    url = slack_world.response_url("late")  # Slack's emulator would still take it, just
    issued = deps.clock() - timedelta(minutes=30, seconds=1)
    assert response_urls(deps).keep(OP_ID, url, issued_at=issued)

    assert tell_requester(deps, elsewhere, "too late") is False

    assert slack_world.responses("late") == []
    assert stored(deps) == {}


def test_a_response_url_slack_refuses_is_forgotten(
    deps: BotDependencies, slack_world: SlackEmulator, elsewhere: Operation
) -> None:
    url = slack_world.response_url("spent")
    for i in range(RESPONSE_URL_USES):  # used up by someone else: Slack counts, not just us
        assert WebhookClient(url).send(text=f"answer {i}").status_code == 200
    assert response_urls(deps).keep(OP_ID, url, issued_at=deps.clock())

    assert tell_requester(deps, elsewhere, "one more") is False

    assert len(slack_world.responses("spent")) == RESPONSE_URL_USES
    assert stored(deps) == {}


def test_the_response_url_is_never_logged(
    slack_http: SlackHttp,
    deps: BotDependencies,
    slack_world: SlackEmulator,
    elsewhere: Operation,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # As on Lambda: our loggers and Slack's libraries at DEBUG, the rest at INFO (botocore's
    # DEBUG output carries request bodies by design and is never enabled in production).
    caplog.set_level(logging.INFO)
    for name in ("aurora_restore", "slack_sdk", "slack_bolt"):
        caplog.set_level(logging.DEBUG, logger=name)
    # Bolt's `respond` answers the command through its response_url...
    _, key = slack_http.command(REQUESTER, f"{SNAPSHOT} logged-db")
    slack_http.wait_reply(key)
    # ...and the notifier through a kept one, here Slack unreachable (the client retries).
    dead = "http://127.0.0.1:9/response/unreachable"
    urls = ResponseUrls(
        deps.aws.dynamodb, deps.pipeline.settings.operations_table, extra_base=dead[:-11]
    )
    assert urls.keep(OP_ID, dead, issued_at=deps.clock())
    with pytest.raises(OSError):
        urls.send(OP_ID, "hello", now=deps.clock())

    assert caplog.records, "nothing was logged at all: the check would prove nothing"
    assert slack_world.response_url_base not in caplog.text
    assert "unreachable" not in caplog.text


def test_a_response_url_slack_cannot_serve_now_is_kept_for_the_next_message(
    deps: BotDependencies, slack_world: SlackEmulator, elsewhere: Operation
) -> None:
    url = slack_world.response_url("busy")
    assert response_urls(deps).keep(OP_ID, url, issued_at=deps.clock(), uses=1)
    slack_world.fail_next(RESPONSE_URL, status=503)

    assert tell_requester(deps, elsewhere, "first") is False  # Slack's side failed
    assert tell_requester(deps, elsewhere, "second") is True

    assert [r["text"] for r in slack_world.responses("busy")] == ["second"]
    assert stored(deps) != {}  # still kept: two of its five uses are left
