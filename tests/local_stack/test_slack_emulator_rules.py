"""The emulator refuses what Slack refuses: Block Kit limits (invalid_blocks), channels the app is
not in (not_in_channel / channel_not_found), response_url after 5 uses or 30 minutes; and it
truncates `text` over 40,000 characters with Slack's warning instead of refusing it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from local_stack.slack_emulator import SlackEmulator
from tests.slack_fixtures import SLACK_CHANNEL_ID as CHANNEL


def refusal(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as raised:
        call()
    return dict(raised.value.response.data)  # type: ignore[arg-type]


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text: str = "Approve", *, value: str = "v", action_id: str = "a", **extra: Any) -> dict:
    element = {"type": "button", "text": {"type": "plain_text", "text": text}}
    return {**element, "value": value, "action_id": action_id, **extra}


def confirm(title: str = "Sure?", text: str = "Really.", yes: str = "Yes", no: str = "No") -> dict:
    def plain(t: str) -> dict[str, str]:
        return {"type": "plain_text", "text": t}

    return {"title": plain(title), "text": plain(text), "confirm": plain(yes), "deny": plain(no)}


def actions(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "actions", "elements": list(elements)}


OVER_LIMIT: dict[str, list[dict[str, Any]]] = {
    "section text 3001": [section("x" * 3001)],
    "section field 2001": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}],
    "section 11 fields": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
    "header 151": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
    "header in mrkdwn": [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}],
    "context 11 elements": [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}
    ],
    "context text 3001": [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c" * 3001}]}
    ],
    "button text 76": [actions(button("b" * 76))],
    "button value 2001": [actions(button(value="v" * 2001))],
    "action_id 256": [actions(button(action_id="a" * 256))],
    "confirm title 101": [actions(button(confirm=confirm(title="t" * 101)))],
    "confirm text 301": [actions(button(confirm=confirm(text="t" * 301)))],
    "confirm button 31": [actions(button(confirm=confirm(yes="y" * 31)))],
    "deny button 31": [actions(button(confirm=confirm(no="n" * 31)))],
    "empty text": [section("")],
    "unknown block type": [{"type": "no-such-block"}],
    "51 blocks": [section("s")] * 51,
}
AT_LIMIT: list[dict[str, Any]] = [
    section("x" * 3000),
    {"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2000}] * 10},
    {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "c" * 3000}] * 10},
    actions(
        button(
            "b" * 75,
            value="v" * 2000,
            action_id="a" * 255,
            confirm=confirm("t" * 100, "t" * 300, "y" * 30, "n" * 30),
        )
    ),
]


@pytest.mark.parametrize("blocks", OVER_LIMIT.values(), ids=OVER_LIMIT.keys())
def test_blocks_over_a_documented_limit_are_refused_as_slack_refuses_them(
    slack: SlackEmulator, slack_client: WebClient, blocks: list[dict[str, Any]]
) -> None:
    answer = refusal(
        lambda: slack_client.chat_postMessage(channel=CHANNEL, text="t", blocks=blocks)
    )

    assert answer["error"] == "invalid_blocks"
    assert answer["errors"] and all("[json-pointer:/blocks" in e for e in answer["errors"])
    assert answer["response_metadata"]["messages"] == [f"[ERROR] {e}" for e in answer["errors"]]
    assert slack.messages(CHANNEL) == []


def test_blocks_at_the_limits_are_accepted(slack_client: WebClient) -> None:
    assert slack_client.chat_postMessage(channel=CHANNEL, text="t", blocks=AT_LIMIT)["ok"]
    assert slack_client.chat_postMessage(channel=CHANNEL, text="t", blocks=[section("s")] * 50)[
        "ok"
    ]


def test_the_error_names_the_block_that_broke_the_limit(slack_client: WebClient) -> None:
    blocks = [section("fine"), section("x" * 3001)]
    answer = refusal(
        lambda: slack_client.chat_postMessage(channel=CHANNEL, text="t", blocks=blocks)
    )

    assert (
        "must be less than 3001 characters [json-pointer:/blocks/1/text/text]" in (answer["errors"])
    )


def test_updates_ephemerals_and_home_tabs_are_held_to_the_same_limits(
    slack: SlackEmulator, slack_client: WebClient
) -> None:
    slack.add_user("U0ALICE", "alice")
    ts = slack_client.chat_postMessage(channel=CHANNEL, text="card")["ts"]
    too_long = [section("x" * 3001)]

    for call in (
        lambda: slack_client.chat_update(channel=CHANNEL, ts=ts, text="t", blocks=too_long),
        lambda: slack_client.chat_postEphemeral(
            channel=CHANNEL, user="U0ALICE", text="t", blocks=too_long
        ),
        lambda: slack_client.views_publish(
            user_id="U0ALICE", view={"type": "home", "blocks": too_long}
        ),
        lambda: slack_client.views_publish(
            user_id="U0ALICE", view={"type": "home", "blocks": [section("s")] * 101}
        ),
    ):
        assert refusal(call)["error"] == "invalid_blocks"
    home = {"type": "home", "blocks": [section("s")] * 100}
    assert slack_client.views_publish(user_id="U0ALICE", view=home)["ok"]
    assert slack.messages(CHANNEL)[0]["text"] == "card"


def test_text_over_40000_characters_is_truncated_with_a_warning(
    slack: SlackEmulator, slack_client: WebClient
) -> None:
    answer = slack_client.chat_postMessage(channel=CHANNEL, text="x" * 40_001)

    assert answer["response_metadata"]["warnings"] == ["message_truncated"]
    assert len(slack.messages(CHANNEL)[0]["text"]) == 40_000
    plain = slack_client.chat_postMessage(channel=CHANNEL, text="x" * 40_000)
    assert "response_metadata" not in plain.data


def test_the_app_posts_and_reads_only_where_it_is_a_member(
    slack: SlackEmulator, slack_client: WebClient
) -> None:
    slack.add_user("U0ALICE", "alice")
    slack.add_channel("C0ELSEWHERE", "elsewhere", bot_is_member=False)
    slack.add_channel("G0SECRET", "secret", bot_is_member=False, is_private=True)

    for channel, error in (("C0ELSEWHERE", "not_in_channel"), ("G0SECRET", "channel_not_found")):
        for call in (
            lambda c=channel: slack_client.chat_postMessage(channel=c, text="card"),
            lambda c=channel: slack_client.chat_postEphemeral(channel=c, user="U0ALICE", text="x"),
            lambda c=channel: slack_client.conversations_history(channel=c),
        ):
            assert refusal(call)["error"] == error
    assert slack_client.conversations_info(channel="C0ELSEWHERE")["channel"]["is_member"] is False
    assert refusal(lambda: slack_client.conversations_info(channel="G0SECRET"))["error"] == (
        "channel_not_found"
    )
    # A person may still write there; the app sees nothing of it.
    slack.post_as_user("C0ELSEWHERE", "U0ALICE", "hello")
    assert slack.ephemerals("C0ELSEWHERE") == []

    slack.set_bot_membership("C0ELSEWHERE", True)  # /invite @aurora-restore
    assert slack_client.chat_postMessage(channel="C0ELSEWHERE", text="card")["ok"]
    assert slack_client.conversations_info(channel=CHANNEL)["channel"]["is_member"] is True


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_response_url_takes_5_posts_then_refuses() -> None:
    with SlackEmulator() as slack:
        webhook = WebhookClient(slack.response_url("cmd-1"))
        answers = [webhook.send(text=f"answer {i}") for i in range(6)]

        assert [a.status_code for a in answers] == [200] * 5 + [404]
        assert answers[5].body == "used_url"
        assert len(slack.responses("cmd-1")) == 5


def test_a_response_url_expires_30_minutes_after_it_was_issued() -> None:
    clock = ManualClock()
    with SlackEmulator(clock=clock) as slack:
        early, late = WebhookClient(slack.response_url("a")), WebhookClient(slack.response_url("b"))
        assert early.send(text="within the window").status_code == 200

        clock.now += 30 * 60 + 1
        refused = late.send(text="too late")

        assert (refused.status_code, refused.body) == (404, "expired_url")
        assert early.send(text="too late as well").status_code == 404
        assert slack.responses("b") == []
