"""Failures the emulator answers with, as slack_sdk sees them: 429, 5xx, rate limits, outages."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from local_stack.slack_emulator import SlackEmulator
from tests.slack_fixtures import SLACK_CHANNEL_ID as CHANNEL


class ManualClock:
    """A clock the test moves by hand, so rate-limit tests never depend on real time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def limited_slack(clock: ManualClock):
    with SlackEmulator(clock=clock) as emulator:
        emulator.add_channel(CHANNEL, "db-restores")
        emulator.add_channel("C0OTHER", "other")
        yield emulator


def refusal(call) -> SlackApiError:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value


def test_scripted_429_carries_retry_after_and_then_clears(slack, slack_client):
    slack.fail_next("chat.postMessage", retry_after=7)

    error = refusal(lambda: slack_client.chat_postMessage(channel=CHANNEL, text="x"))

    assert error.response.status_code == 429
    assert error.response["error"] == "ratelimited"
    assert error.response.headers["Retry-After"] == "7"
    assert slack.messages(CHANNEL) == []
    assert slack_client.chat_postMessage(channel=CHANNEL, text="x")["ok"] is True


def test_rate_limit_retry_handler_succeeds_on_the_retry(slack):
    slack.fail_next("chat.postMessage", retry_after=0)
    client = WebClient(
        token=slack.bot_token,
        base_url=slack.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )

    response = client.chat_postMessage(channel=CHANNEL, text="progress")

    assert response["ok"] is True
    assert [m["text"] for m in slack.messages(CHANNEL)] == ["progress"]
    assert [method for method, _ in slack.calls] == ["chat.postMessage", "chat.postMessage"]


def test_failures_apply_to_the_named_method_and_count_down(slack, slack_client):
    slack.fail_next("chat.update", status=500, times=2)

    assert slack_client.chat_postMessage(channel=CHANNEL, text="card")["ok"] is True
    for _ in range(2):
        error = refusal(lambda: slack_client.chat_update(channel=CHANNEL, ts="1.1", text="x"))
        assert (error.response.status_code, error.response["error"]) == (500, "internal_error")
    # The script is used up: the method answers normally again.
    assert refusal(lambda: slack_client.chat_update(channel=CHANNEL, ts="1.1", text="x")).response[
        "error"
    ] == ("message_not_found")


def test_wildcard_failure_hits_any_method(slack, slack_client):
    slack.fail_next("*", status=503)

    error = refusal(lambda: slack_client.auth_test())

    assert (error.response.status_code, error.response["error"]) == (503, "service_unavailable")
    assert slack_client.auth_test()["ok"] is True


def test_server_error_retry_handler_succeeds_on_the_retry(slack):
    slack.fail_next("chat.postMessage", status=503)
    client = WebClient(
        token=slack.bot_token,
        base_url=slack.api_url,
        retry_handlers=[ServerErrorRetryHandler(max_retry_count=1)],
    )

    assert client.chat_postMessage(channel=CHANNEL, text="x")["ok"] is True
    assert len(slack.messages(CHANNEL)) == 1


def test_scripted_failures_are_validated(slack):
    with pytest.raises(ValueError):
        slack.fail_next("chat.postMessage", status=404)
    with pytest.raises(ValueError):
        slack.fail_next("chat.postMessage", times=0)
    with pytest.raises(ValueError):
        slack.set_rate_limit(0)


def test_rate_limit_is_per_channel_with_retry_after(limited_slack, clock):
    limited_slack.set_rate_limit(1)
    client = WebClient(token=limited_slack.bot_token, base_url=limited_slack.api_url)

    assert client.chat_postMessage(channel=CHANNEL, text="first")["ok"] is True
    refused = refusal(lambda: client.chat_postMessage(channel=CHANNEL, text="second"))
    assert (refused.response.status_code, refused.response["error"]) == (429, "ratelimited")
    assert refused.response.headers["Retry-After"] == "1"
    assert client.chat_postMessage(channel="C0OTHER", text="elsewhere")["ok"] is True
    # Updates and reads are not subject to chat.postMessage's limit.
    assert client.conversations_history(channel=CHANNEL)["ok"] is True

    clock.now += 1.0
    assert client.chat_postMessage(channel=CHANNEL, text="second")["ok"] is True
    assert [m["text"] for m in limited_slack.messages(CHANNEL)] == ["first", "second"]


def test_slower_rate_asks_for_a_longer_wait_and_can_be_lifted(limited_slack, clock):
    limited_slack.set_rate_limit(0.25)
    client = WebClient(token=limited_slack.bot_token, base_url=limited_slack.api_url)
    client.chat_postMessage(channel=CHANNEL, text="first")

    clock.now += 1.5
    refused = refusal(lambda: client.chat_postMessage(channel=CHANNEL, text="second"))
    assert refused.response.headers["Retry-After"] == "3"

    limited_slack.set_rate_limit(None)
    assert client.chat_postMessage(channel=CHANNEL, text="second")["ok"] is True


def test_unavailable_slack_answers_503_to_everything_until_back(slack, slack_client):
    slack.set_unavailable(True)

    for call in (
        lambda: slack_client.chat_postMessage(channel=CHANNEL, text="x"),
        lambda: slack_client.conversations_history(channel=CHANNEL),
        lambda: slack_client.auth_test(),
    ):
        assert refusal(call).response.status_code == 503
    assert slack.messages(CHANNEL) == []

    slack.set_unavailable(False)
    assert slack_client.chat_postMessage(channel=CHANNEL, text="x")["ok"] is True


def test_refused_calls_are_still_recorded(slack, slack_client):
    slack.fail_next("chat.postMessage")
    refusal(lambda: slack_client.chat_postMessage(channel=CHANNEL, text="x"))

    assert slack.calls_to("chat.postMessage") == [{"channel": CHANNEL, "text": "x"}]
