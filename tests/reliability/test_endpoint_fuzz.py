"""The bot's HTTP endpoint under hostile and broken input, through real HTTP on loopback: always a
4xx or a friendly 200, never a 5xx, and no execution started except by a valid signed restore."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from functools import partial
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_stack.scenario import APPROVE, DENY, Driver, wait_for
from local_stack.slack_client import HttpReply, sign
from local_stack.stack import LocalStack
from tests.reliability import spec
from tests.reliability.conftest import RecordingSlackClient
from tests.reliability.leaks import LogRecorder
from tests.reliability.strategies import any_command_text

pytestmark = pytest.mark.e2e
FORM = "application/x-www-form-urlencoded"


def raw_post(stack: LocalStack, body: bytes, headers: dict[str, str]) -> HttpReply:
    """A POST with exactly these headers (SlackClient always sends a well-formed set)."""
    request = urllib.request.Request(
        stack.info["slack_events_url"], data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return HttpReply(answer.status, answer.read().decode())
    except urllib.error.HTTPError as error:
        return HttpReply(error.code, error.read().decode())


def command_body(info: dict[str, Any], user: str, text: str, response_url: str) -> str:
    return urlencode(
        {
            "command": "/restore",
            "text": text,
            "user_id": user,
            "user_name": "someone",
            "team_id": info["team_id"],
            "channel_id": info["channel_id"],
            "response_url": response_url,
            "trigger_id": f"{time.time():.6f}",
        }
    )


def click_body(info: dict[str, Any], user: str, action_id: str, value: Any, url: str) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": info["team_id"]},
        "channel": {"id": info["channel_id"]},
        "container": {"type": "message", "channel_id": info["channel_id"]},
        "response_url": url,
        "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": value}],
    }
    return urlencode({"payload": json.dumps(payload)})


def assert_refused_or_friendly(reply: HttpReply) -> None:
    assert reply.status < 500, reply
    if reply.status == 200 and reply.body:
        answer = json.loads(reply.body)
        spec.assert_user_facing(str(answer.get("text", "")))


def executions(driver: Driver) -> list[str]:
    listing = driver.sfn.list_executions(stateMachineArn=driver.info["state_machine_arn"])
    return sorted(execution["name"] for execution in listing["executions"])


@pytest.fixture
def before(driver: Driver) -> list[str]:
    return executions(driver)


def test_forged_stale_and_malformed_requests_are_refused(
    stack: LocalStack, driver: Driver, slack: RecordingSlackClient, before: list[str]
) -> None:
    info, now = stack.info, int(time.time())
    requester = info["users"]["requester"]
    valid = command_body(info, requester, f"{info['seed']['snapshot']} fuzz-forged", "x")
    signature = sign(info["signing_secret"], str(now), valid)
    cases: dict[str, tuple[HttpReply, int]] = {
        "unsigned": (slack.post(valid, signed=False), 401),
        "forged": (slack.post(valid, signing_secret="not-the-secret"), 401),
        "stale": (slack.post(valid, timestamp=now - 600), 401),
        "from the future": (slack.post(valid, timestamp=now + 600), 401),
        "signature of another body": (
            raw_post(
                stack,
                valid.replace("fuzz-forged", "fuzz-forgee").encode(),
                {
                    "Content-Type": FORM,
                    "X-Slack-Request-Timestamp": str(now),
                    "X-Slack-Signature": signature,
                },
            ),
            401,
        ),
        "no timestamp": (
            raw_post(stack, valid.encode(), {"Content-Type": FORM, "X-Slack-Signature": signature}),
            401,
        ),
        "timestamp not a number": (
            raw_post(
                stack,
                valid.encode(),
                {
                    "Content-Type": FORM,
                    "X-Slack-Request-Timestamp": "soon",
                    "X-Slack-Signature": sign(info["signing_secret"], "soon", valid),
                },
            ),
            401,
        ),
        "garbage signature": (
            raw_post(
                stack,
                valid.encode(),
                {
                    "Content-Type": FORM,
                    "X-Slack-Request-Timestamp": str(now),
                    "X-Slack-Signature": "v0=zz",
                },
            ),
            401,
        ),
        "unsigned garbage payload": (slack.post("payload=%7Bnot+json", signed=False), 401),
        "signed garbage payload": (slack.post("payload=%7Bnot+json"), 400),
        "payload a list": (slack.post(urlencode({"payload": "[1, 2]"})), 400),
        "payload null": (slack.post(urlencode({"payload": "null"})), 400),
        "payload a number": (slack.post(urlencode({"payload": "12"})), 400),
        "payload an empty object": (slack.post(urlencode({"payload": "{}"})), 404),
        "form body sent as JSON": (slack.post(valid, content_type="application/json"), 400),
        "JSON body that is not JSON": (
            slack.post("{garbage", content_type="application/json"),
            400,
        ),
        "empty body": (slack.post(""), 404),
        "not UTF-8": (
            raw_post(
                stack,
                b"\xff\xfe\xfa",
                {
                    "Content-Type": FORM,
                    "X-Slack-Request-Timestamp": str(now),
                    "X-Slack-Signature": "v0=00",
                },
            ),
            401,
        ),
        "multipart": (slack.post("--b\r\nx\r\n--b--", content_type="multipart/form-data"), 404),
        "another command": (slack.post(valid.replace("%2Frestore", "%2Fother")), 404),
        "oversized": (slack.post("text=" + "a" * 1_100_000), 413),
        "large but allowed garbage": (slack.post("payload=" + "%7B" * 200_000), 400),
        "unknown action": (slack.post(click_body(info, requester, "restore-nuke", "x", "u")), 404),
    }

    wrong = {
        name: (reply, status) for name, (reply, status) in cases.items() if reply.status != status
    }
    assert not wrong, wrong
    assert stack.runtime.wait_idle(timeout=30)
    assert executions(driver) == before


def test_buttons_whose_value_is_not_an_operation_get_a_friendly_answer(
    stack: LocalStack,
    driver: Driver,
    slack: RecordingSlackClient,
    before: list[str],
    log_recorder: LogRecorder,
) -> None:
    info = stack.info
    values: list[Any] = [
        "",
        "nothing",
        "ar-20260101120000-000000",  # well formed, no such operation
        "lock#staging-orders",
        "delivery#ar-20260101120000-000000:notify:succeeded",
        "ar-20260101120000-1a2b3c\n",
        "../../../etc/passwd",
        "x" * 3000,
        {"operation_id": "ar-20260101120000-000000"},
        None,
    ]
    urls = []
    for value in values:
        for action in (APPROVE, DENY):
            urls.append(slack.response_url())
            reply = slack.post(click_body(info, info["users"]["approver"], action, value, urls[-1]))
            assert reply.status == 200 and not reply.body, reply  # acknowledged at once

    answers = [
        wait_for("the answer to a click", partial(driver.responses, url), 30) for url in urls
    ]

    for answer in answers:
        assert len(answer) == 1
        text = answer[0]["text"]
        spec.assert_user_facing(text)
        assert "not a restore" in text or "no operation" in text, text
    assert executions(driver) == before
    assert not [text for text in log_recorder.texts if "unexpected error" in text]


# Each example is one signed HTTP request to the shared stack: a few dozen in all.
_FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_FUZZ
@given(
    text=any_command_text(),
    user=st.sampled_from(["U0LOUTSIDE", "U0LAPPROV1", "", "UNKNOWN", "U0LREQUEST\n"]),
    extra=st.dictionaries(
        st.sampled_from(["command", "user_id", "team_id", "text"]), st.text(max_size=20), max_size=2
    ),
)
def test_signed_slash_commands_with_any_text_get_an_answer_never_a_crash(
    stack: LocalStack,
    driver: Driver,
    slack: RecordingSlackClient,
    before: list[str],
    text: str,
    user: str,
    extra: dict[str, str],
) -> None:
    fields = {
        "command": "/restore",
        "text": text,
        "user_id": user,
        "team_id": stack.info["team_id"],
        "channel_id": stack.info["channel_id"],
        "response_url": slack.response_url(),
        "trigger_id": f"{time.time():.6f}",
        **extra,
    }

    reply = slack.post(urlencode(fields))

    assert_refused_or_friendly(reply)
    assert executions(driver) == before


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@_FUZZ
@given(
    payload=st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["block_actions", "view_submission", "shortcut", "x"]) | _JSON,
            "user": st.fixed_dictionaries({"id": st.sampled_from(["U0LAPPROV1", "U0LOUTSIDE"])})
            | _JSON,
            "actions": st.lists(
                st.fixed_dictionaries(
                    {"action_id": st.sampled_from([APPROVE, DENY, "other"]) | _JSON},
                    optional={"value": _JSON, "block_id": _JSON, "type": _JSON},
                ),
                max_size=2,
            )
            | _JSON,
            "team": _JSON,
            "channel": _JSON,
            "container": _JSON,
        },
    )
)
def test_signed_interactions_with_any_payload_get_an_answer_never_a_crash(
    stack: LocalStack,
    driver: Driver,
    slack: RecordingSlackClient,
    before: list[str],
    payload: dict[str, Any],
) -> None:
    payload["response_url"] = slack.response_url()

    reply = slack.post(urlencode({"payload": json.dumps(payload)}))

    assert_refused_or_friendly(reply)
    assert executions(driver) == before


def test_only_the_valid_signed_restore_starts_an_execution(
    stack: LocalStack, driver: Driver, slack: RecordingSlackClient, before: list[str]
) -> None:
    info, now = stack.info, int(time.time())
    url = slack.response_url()
    body = command_body(
        info, info["users"]["requester"], f"{info['seed']['snapshot']} fuzz-control", url
    )
    forged = [
        slack.post(body, signed=False),
        slack.post(body, signing_secret="guess"),
        slack.post(body, timestamp=now - 3600),
    ]
    replayed = [slack.post(body, timestamp=now) for _ in range(3)]  # Slack's retries of one command

    operation_id = driver.operation_id_from(url)

    assert [reply.status for reply in forged] == [401, 401, 401]
    assert [reply.status for reply in replayed] == [200, 200, 200]
    assert executions(driver) == sorted([*before, operation_id])
    reply, _ = driver.request(info["users"]["requester"], f"cancel {operation_id}")
    assert reply.status == 200
    driver.wait_for_execution_end(operation_id, timeout=30)
