"""The Slack emulator as the real slack_sdk WebClient sees it: messages, threads, reads, auth."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from local_stack.slack_emulator import SlackEmulator, SlackMethodError
from tests.slack_fixtures import SLACK_CHANNEL_ID as CHANNEL
from tests.slack_fixtures import SLACK_CHANNEL_NAME

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*Restore* requested"}}


def error_of(call) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return str(raised.value.response["error"])


def test_post_message_answers_with_slack_shape_and_is_read_back(slack, slack_client):
    response = slack_client.chat_postMessage(channel=CHANNEL, text="card", blocks=[SECTION])

    assert response["ok"] is True
    assert response["channel"] == CHANNEL
    message = response["message"]
    assert message["ts"] == response["ts"]
    assert message["user"] == slack.bot_user_id
    assert message["bot_id"].startswith("B")
    assert (message["type"], message["text"], message["blocks"]) == ("message", "card", [SECTION])
    assert slack.messages(CHANNEL) == [message]
    history = slack_client.conversations_history(channel=CHANNEL)
    assert history["messages"] == [message]


def test_channel_given_by_name_is_answered_with_its_id(slack, slack_client):
    response = slack_client.chat_postMessage(channel=f"#{SLACK_CHANNEL_NAME}", text="hello")

    assert response["channel"] == CHANNEL
    assert [m["text"] for m in slack.messages(CHANNEL)] == ["hello"]


def test_timestamps_are_unique_and_increasing(slack_client):
    stamps = [slack_client.chat_postMessage(channel=CHANNEL, text=str(i))["ts"] for i in range(20)]

    assert len(set(stamps)) == 20
    assert stamps == sorted(stamps, key=float)
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)


def test_unknown_channel_and_missing_text_are_refused(slack, slack_client):
    assert error_of(lambda: slack_client.chat_postMessage(channel="C0NOPE", text="x")) == (
        "channel_not_found"
    )
    with pytest.warns(UserWarning):  # slack_sdk warns, then Slack refuses
        assert error_of(lambda: slack_client.chat_postMessage(channel=CHANNEL)) == "no_text"
    bad_blocks = [{"text": "no type"}]
    assert error_of(
        lambda: slack_client.chat_postMessage(channel=CHANNEL, text="x", blocks=bad_blocks)
    ) == ("invalid_blocks")
    assert slack.messages(CHANNEL) == []


def test_thread_replies_attach_to_their_parent(slack, slack_client):
    parent_ts = slack_client.chat_postMessage(channel=CHANNEL, text="card")["ts"]
    first = slack_client.chat_postMessage(channel=CHANNEL, text="started", thread_ts=parent_ts)
    # A reply's ts names the same thread, as in Slack.
    second = slack_client.chat_postMessage(channel=CHANNEL, text="done", thread_ts=first["ts"])

    assert first["message"]["thread_ts"] == parent_ts
    assert first["message"]["parent_user_id"] == slack.bot_user_id
    assert second["message"]["thread_ts"] == parent_ts
    thread = slack.replies(CHANNEL, parent_ts)
    assert [m["text"] for m in thread] == ["card", "started", "done"]
    parent = thread[0]
    assert parent["reply_count"] == 2
    assert parent["latest_reply"] == second["ts"]
    assert parent["reply_users"] == [slack.bot_user_id]
    assert [m["text"] for m in slack.messages(CHANNEL)] == ["card"]
    replies = slack_client.conversations_replies(channel=CHANNEL, ts=parent_ts)
    assert replies["messages"] == thread


def test_a_broadcast_reply_also_shows_in_the_channel(slack, slack_client):
    parent_ts = slack_client.chat_postMessage(channel=CHANNEL, text="card")["ts"]
    slack_client.chat_postMessage(
        channel=CHANNEL, text="failed", thread_ts=parent_ts, reply_broadcast=True
    )

    assert [m["text"] for m in slack.messages(CHANNEL)] == ["card", "failed"]


def test_reply_to_an_unknown_thread_is_refused(slack_client):
    assert error_of(
        lambda: slack_client.chat_postMessage(channel=CHANNEL, text="x", thread_ts="1.000001")
    ) == ("thread_not_found")


def test_update_replaces_what_is_given_and_keeps_the_rest(slack, slack_client):
    ts = slack_client.chat_postMessage(channel=CHANNEL, text="pending", blocks=[SECTION])["ts"]

    response = slack_client.chat_update(channel=CHANNEL, ts=ts, text="approved")

    assert (response["channel"], response["ts"], response["text"]) == (CHANNEL, ts, "approved")
    [message] = slack.messages(CHANNEL)
    assert (message["text"], message["blocks"]) == ("approved", [SECTION])
    assert message["edited"]["user"] == slack.bot_user_id
    slack_client.chat_update(channel=CHANNEL, ts=ts, text="approved", blocks=[])
    assert slack.messages(CHANNEL)[0]["blocks"] == []


def test_update_of_missing_or_foreign_messages_is_refused(slack, slack_client):
    slack.add_user("U0ALICE", "alice")
    human_ts = slack.post_as_user(CHANNEL, "U0ALICE", "hi")

    assert error_of(lambda: slack_client.chat_update(channel=CHANNEL, ts="1.1", text="x")) == (
        "message_not_found"
    )
    assert error_of(lambda: slack_client.chat_update(channel="C0NOPE", ts=human_ts, text="x")) == (
        "channel_not_found"
    )
    assert error_of(lambda: slack_client.chat_update(channel=CHANNEL, ts=human_ts, text="x")) == (
        "cant_update_message"
    )


def test_history_is_newest_first_and_paginates_with_cursors(slack_client):
    posted = [slack_client.chat_postMessage(channel=CHANNEL, text=f"m{i}")["ts"] for i in range(5)]

    first = slack_client.conversations_history(channel=CHANNEL, limit=2)
    assert [m["ts"] for m in first["messages"]] == posted[::-1][:2]
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    second = slack_client.conversations_history(channel=CHANNEL, limit=2, cursor=cursor)
    assert [m["ts"] for m in second["messages"]] == posted[::-1][2:4]
    # slack_sdk follows next_cursor itself when a response is iterated.
    sizes = [
        len(page["messages"])
        for page in slack_client.conversations_history(channel=CHANNEL, limit=2)
    ]
    assert sizes == [2, 2, 1]
    assert error_of(
        lambda: slack_client.conversations_history(channel=CHANNEL, cursor="bm9wZQ==")
    ) == ("invalid_cursor")


def test_history_honours_oldest_and_latest(slack_client):
    stamps = [slack_client.chat_postMessage(channel=CHANNEL, text=f"m{i}")["ts"] for i in range(4)]

    window = slack_client.conversations_history(channel=CHANNEL, oldest=stamps[0], latest=stamps[3])
    assert [m["ts"] for m in window["messages"]] == [stamps[2], stamps[1]]
    inclusive = slack_client.conversations_history(
        channel=CHANNEL, oldest=stamps[0], latest=stamps[3], inclusive=True
    )
    assert [m["ts"] for m in inclusive["messages"]] == stamps[::-1]


def test_replies_paginate_parent_first(slack_client):
    parent = slack_client.chat_postMessage(channel=CHANNEL, text="card")["ts"]
    for i in range(4):
        slack_client.chat_postMessage(channel=CHANNEL, text=f"r{i}", thread_ts=parent)

    pages = slack_client.conversations_replies(channel=CHANNEL, ts=parent, limit=2)

    texts = [[m["text"] for m in page["messages"]] for page in pages]
    assert texts == [["card", "r0"], ["r1", "r2"], ["r3"]]
    assert error_of(lambda: slack_client.conversations_replies(channel=CHANNEL, ts="9.9")) == (
        "thread_not_found"
    )


def test_wrong_or_missing_token_is_refused(slack):
    wrong = WebClient(token="xoxb-wrong", base_url=slack.api_url)
    anonymous = WebClient(base_url=slack.api_url)

    assert error_of(lambda: wrong.chat_postMessage(channel=CHANNEL, text="x")) == "invalid_auth"
    assert error_of(lambda: wrong.conversations_history(channel=CHANNEL)) == "invalid_auth"
    assert error_of(lambda: anonymous.auth_test()) == "not_authed"
    assert slack.messages(CHANNEL) == []


def _raw_post(url: str, body: bytes, content_type: str, headers: dict[str, str] | None = None):
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": content_type, **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.read().decode()


def test_form_encoded_calls_take_the_token_as_a_field(slack):
    blocks = json.dumps([SECTION])
    form = urllib.parse.urlencode(
        {"token": slack.bot_token, "channel": CHANNEL, "text": "form", "blocks": blocks}
    ).encode()

    status, body = _raw_post(
        slack.api_url + "chat.postMessage", form, "application/x-www-form-urlencoded"
    )

    assert status == 200
    assert json.loads(body)["ok"] is True
    assert slack.messages(CHANNEL)[0]["blocks"] == [SECTION]
    assert all("token" not in args for _, args in slack.calls)


def test_a_token_inside_a_json_body_is_not_accepted(slack):
    body = json.dumps({"token": slack.bot_token, "channel": CHANNEL, "text": "x"}).encode()

    _, answer = _raw_post(slack.api_url + "chat.postMessage", body, "application/json")

    assert json.loads(answer) == {"ok": False, "error": "not_authed"}


def test_ephemeral_messages_are_recorded_not_posted(slack, slack_client):
    slack.add_user("U0ALICE", "alice")

    response = slack_client.chat_postEphemeral(
        channel=CHANNEL, user="U0ALICE", text="Usage: /restore ...", blocks=[SECTION]
    )

    assert response["message_ts"]
    [ephemeral] = slack.ephemerals(CHANNEL)
    assert ephemeral["user"] == "U0ALICE"
    assert ephemeral["text"] == "Usage: /restore ..."
    assert ephemeral["message_ts"] == response["message_ts"]
    assert slack.ephemerals("C0OTHER") == []
    assert slack.messages(CHANNEL) == []
    assert error_of(
        lambda: slack_client.chat_postEphemeral(channel=CHANNEL, user="U0NOBODY", text="x")
    ) == ("user_not_in_channel")


def test_permalink_points_at_the_message_and_its_thread(slack_client):
    parent = slack_client.chat_postMessage(channel=CHANNEL, text="card")["ts"]
    reply = slack_client.chat_postMessage(channel=CHANNEL, text="r", thread_ts=parent)["ts"]

    link = slack_client.chat_getPermalink(channel=CHANNEL, message_ts=reply)["permalink"]

    assert f"/archives/{CHANNEL}/p{reply.replace('.', '')}" in link
    assert f"thread_ts={parent}" in link
    assert error_of(lambda: slack_client.chat_getPermalink(channel=CHANNEL, message_ts="1.2")) == (
        "message_not_found"
    )


def test_directory_methods(slack, slack_client):
    slack.add_user("U0ALICE", "alice")
    slack.add_usergroup("S0DBAS", "dbas", ["U0ALICE", "U0BOB"])

    assert slack_client.auth_test()["user_id"] == slack.bot_user_id
    assert slack_client.auth_test()["team_id"] == slack.team_id
    assert slack_client.conversations_info(channel=CHANNEL)["channel"]["name"] == "db-restores"
    user = slack_client.users_info(user="U0ALICE")["user"]
    assert (user["id"], user["name"], user["is_bot"]) == ("U0ALICE", "alice", False)
    assert slack_client.usergroups_users_list(usergroup="S0DBAS")["users"] == ["U0ALICE", "U0BOB"]
    assert error_of(lambda: slack_client.users_info(user="U0NOBODY")) == "user_not_found"
    assert error_of(lambda: slack_client.usergroups_users_list(usergroup="S0NOPE")) == (
        "no_such_subteam"
    )
    assert error_of(lambda: slack_client.conversations_info(channel="C0NOPE")) == (
        "channel_not_found"
    )
    assert error_of(lambda: slack_client.api_call("files.upload")) == "unknown_method"


def test_app_home_view_is_recorded_per_user(slack, slack_client):
    slack.add_user("U0ALICE", "alice")
    view = {"type": "home", "blocks": [SECTION]}

    first = slack_client.views_publish(user_id="U0ALICE", view=view)["view"]
    again = slack_client.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": []})

    assert first["type"] == "home"
    assert again["view"]["id"] == first["id"]
    assert slack.home_view("U0ALICE")["blocks"] == []
    assert slack.home_view(slack.bot_user_id) is None
    assert error_of(
        lambda: slack_client.views_publish(user_id="U0ALICE", view={"type": "modal"})
    ) == ("invalid_arguments")


def test_response_url_records_posts_and_lists_them(slack):
    url = slack.response_url("T0LOCAL/1/abc")
    webhook = WebhookClient(url)

    first = webhook.send(text="Restore queued", response_type="ephemeral")
    webhook.send(text="replaced", replace_original=True)

    assert (first.status_code, first.body) == (200, "ok")
    expected = [
        {"text": "Restore queued", "response_type": "ephemeral"},
        {"text": "replaced", "replace_original": True},
    ]
    assert slack.responses("T0LOCAL/1/abc") == expected
    with urllib.request.urlopen(url, timeout=5) as answer:
        assert json.loads(answer.read()) == expected
    assert slack.responses("T0LOCAL/1/other") == []
    with pytest.raises(urllib.error.HTTPError) as refused:
        _raw_post(url, b"not json", "application/json")
    assert refused.value.code == 400


def test_concurrent_replies_are_all_kept_in_order(slack, slack_client):
    parent = slack_client.chat_postMessage(channel=CHANNEL, text="card")["ts"]

    def post_replies(worker: int) -> None:
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        for i in range(10):
            client.chat_postMessage(channel=CHANNEL, text=f"{worker}-{i}", thread_ts=parent)

    threads = [threading.Thread(target=post_replies, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    thread_messages = slack.replies(CHANNEL, parent)
    assert len(thread_messages) == 81
    assert thread_messages[0]["reply_count"] == 80
    stamps = [m["ts"] for m in thread_messages]
    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 81


def test_wait_for_returns_once_something_is_posted(slack, slack_client):
    timer = threading.Timer(0.05, lambda: slack.post_as_user(CHANNEL, slack.bot_user_id, "late"))
    timer.start()

    # The condition may read through the API: it runs without the emulator's lock.
    slack.wait_for(
        lambda: len(slack_client.conversations_history(channel=CHANNEL)["messages"]) == 1
    )

    assert slack.messages(CHANNEL)[0]["text"] == "late"
    with pytest.raises(TimeoutError):
        slack.wait_for(lambda: len(slack.messages(CHANNEL)) == 2, timeout=0.05)


def test_reading_an_unknown_channel_raises(slack):
    with pytest.raises(SlackMethodError, match="channel_not_found"):
        slack.messages("C0NOPE")


def test_emulator_restarts_cleanly():
    emulator = SlackEmulator(bot_token="xoxb-custom", team_id="T0OTHER")
    with emulator:
        client = WebClient(token="xoxb-custom", base_url=emulator.api_url)
        assert client.auth_test()["team_id"] == "T0OTHER"
    emulator.stop()  # stopping twice is harmless
    with pytest.raises(RuntimeError):
        _ = emulator.api_url


def test_posting_to_a_user_id_opens_the_apps_direct_messages(slack, slack_client):
    slack.add_user("U0ALICE", "alice")

    first = slack_client.chat_postMessage(channel="U0ALICE", text="your restore finished")
    second = slack_client.chat_postMessage(channel="U0ALICE", text="again")

    assert first["channel"].startswith("D") and second["channel"] == first["channel"]
    info = slack_client.conversations_info(channel=first["channel"])["channel"]
    assert (info["is_im"], info["user"]) == (True, "U0ALICE")
    assert [m["text"] for m in slack.messages("U0ALICE")] == ["your restore finished", "again"]
    assert slack.messages(CHANNEL) == []


def test_message_metadata_is_kept_and_read_only_on_request(slack_client):
    metadata = {"event_type": "restore_card", "event_payload": {"operation_id": "op-1"}}
    ts = slack_client.chat_postMessage(channel=CHANNEL, text="card", metadata=metadata)["ts"]

    plain = slack_client.conversations_history(channel=CHANNEL)["messages"][0]
    full = slack_client.conversations_history(channel=CHANNEL, include_all_metadata=True)

    assert "metadata" not in plain
    assert full["messages"][0]["metadata"] == metadata
    assert error_of(
        lambda: slack_client.chat_update(channel=CHANNEL, ts=ts, text="x", metadata={"a": 1})
    ) == ("invalid_metadata_format")


def test_malformed_thread_ts_is_refused(slack_client):
    assert error_of(
        lambda: slack_client.chat_postMessage(channel=CHANNEL, text="x", thread_ts="yesterday")
    ) == ("invalid_thread_ts")
