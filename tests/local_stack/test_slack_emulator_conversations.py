"""The emulator refuses what Slack refuses about where a message goes and what it holds: an
ephemeral message to someone not in the channel, an archived channel, a deleted message, the
app's DM without the App Home messages tab, and markdown blocks over their cumulative limit."""

from __future__ import annotations

from slack_sdk import WebClient

from local_stack.slack_emulator import SlackEmulator
from tests.local_stack.test_slack_emulator_rules import refusal
from tests.slack_fixtures import SLACK_CHANNEL_ID as CHANNEL

ALICE, BOB = "U0ALICE", "U0BOB"


def test_an_ephemeral_message_reaches_only_people_in_the_channel(
    slack: SlackEmulator, slack_client: WebClient
) -> None:
    slack.add_user(ALICE, "alice")
    slack.add_user(BOB, "bob")
    slack.add_channel("C0TEAM", "team", members=[ALICE])

    assert slack_client.chat_postEphemeral(channel="C0TEAM", user=ALICE, text="hi")["ok"]
    denied = refusal(lambda: slack_client.chat_postEphemeral(channel="C0TEAM", user=BOB, text="x"))
    assert denied["error"] == "user_not_in_channel"

    # Everyone is in a channel seeded without a member list, until they leave it.
    assert slack_client.chat_postEphemeral(channel=CHANNEL, user=BOB, text="hi")["ok"]
    slack.set_membership(CHANNEL, BOB, False)
    gone = refusal(lambda: slack_client.chat_postEphemeral(channel=CHANNEL, user=BOB, text="x"))
    assert gone["error"] == "user_not_in_channel"
    assert slack_client.chat_postEphemeral(channel=CHANNEL, user=ALICE, text="still")["ok"]
    assert [e["user"] for e in slack.ephemerals()] == [ALICE, BOB, ALICE]


def test_an_archived_channel_takes_no_post_and_its_messages_no_update(
    slack: SlackEmulator, slack_client: WebClient
) -> None:
    slack.add_user(ALICE, "alice")
    card = slack_client.chat_postMessage(channel=CHANNEL, text="card")["ts"]

    slack.archive_channel(CHANNEL)

    for post in (
        lambda: slack_client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=card),
        lambda: slack_client.chat_postMessage(channel=CHANNEL, text="top level"),
        lambda: slack_client.chat_postEphemeral(channel=CHANNEL, user=ALICE, text="x"),
    ):
        assert refusal(post)["error"] == "is_archived"
    update = refusal(lambda: slack_client.chat_update(channel=CHANNEL, ts=card, text="done"))
    assert update["error"] == "is_inactive"
    # What was said stays readable.
    assert [m["text"] for m in slack_client.conversations_history(channel=CHANNEL)["messages"]] == [
        "card"
    ]
    assert slack_client.conversations_info(channel=CHANNEL)["channel"]["is_archived"] is True


def test_a_deleted_message_cannot_be_updated_and_a_deleted_parent_keeps_its_thread(
    slack: SlackEmulator, slack_client: WebClient
) -> None:
    lone = slack_client.chat_postMessage(channel=CHANNEL, text="lone")["ts"]
    card = slack_client.chat_postMessage(channel=CHANNEL, text="card")["ts"]
    slack_client.chat_postMessage(channel=CHANNEL, text="first reply", thread_ts=card)

    slack.delete_message(CHANNEL, lone)
    slack.delete_message(CHANNEL, card)

    for ts in (lone, card):
        answer = refusal(lambda t=ts: slack_client.chat_update(channel=CHANNEL, ts=t, text="x"))
        assert answer["error"] == "message_not_found"
    parent, *replies = slack.replies(CHANNEL, card)
    assert (parent["subtype"], parent["text"]) == ("tombstone", "This message was deleted.")
    assert [r["text"] for r in replies] == ["first reply"]
    assert slack_client.chat_postMessage(channel=CHANNEL, text="later", thread_ts=card)["ok"]
    assert [m["ts"] for m in slack.messages(CHANNEL)] == [card]


def test_the_apps_direct_messages_need_the_messages_tab() -> None:
    with SlackEmulator(messages_tab_enabled=False) as slack:
        slack.add_user(ALICE, "alice")
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        answer = refusal(lambda: client.chat_postMessage(channel=ALICE, text="your restore"))
        assert answer["error"] == "messages_tab_disabled"
    with SlackEmulator(messages_tab_enabled=True) as slack:
        slack.add_user(ALICE, "alice")
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        posted = client.chat_postMessage(channel=ALICE, text="your restore")
        assert posted["channel"].startswith("D")
        assert [m["text"] for m in slack.messages(posted["channel"])] == ["your restore"]


def test_markdown_blocks_over_12000_characters_in_all_are_msg_blocks_too_long(
    slack: SlackEmulator, slack_client: WebClient
) -> None:
    def markdown(size: int) -> dict[str, str]:
        return {"type": "markdown", "text": "x" * size}

    fits = [markdown(6000), markdown(6000)]
    assert slack_client.chat_postMessage(channel=CHANNEL, text="ok", blocks=fits)["ok"]

    too_long = [markdown(6000), markdown(6001)]
    answer = refusal(
        lambda: slack_client.chat_postMessage(channel=CHANNEL, text="no", blocks=too_long)
    )
    assert answer["error"] == "msg_blocks_too_long"
    assert len(slack.messages(CHANNEL)) == 1
