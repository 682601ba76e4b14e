"""Slack requests as the bot's Lambda function receives them: API Gateway (REST, v1) proxy events
with bodies and signatures exactly as Slack sends them.

The bodies come from local_stack.slack_client (the same fields Slack sends), captured instead of
posted, so the benchmarks and the end-to-end tests speak one dialect.
"""

from __future__ import annotations

import time
from typing import Any

from local_stack.functions import BOT_FUNCTION
from local_stack.names import ACCOUNT
from local_stack.slack_client import HttpReply, SlackClient, sign
from local_stack.slack_endpoint import proxy_event

SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


class _CapturingSlack(SlackClient):
    """Builds Slack's request bodies without sending them."""

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__(info)
        self.body = ""

    def post(self, body: str, **_: Any) -> HttpReply:
        self.body = body
        return HttpReply(200, "")


def slash_command_body(info: dict[str, Any], user: str, text: str) -> str:
    capture = _CapturingSlack(info)
    capture.slash_command(user, text)
    return capture.body


def click_body(info: dict[str, Any], user: str, message: dict[str, Any], action_id: str) -> str:
    capture = _CapturingSlack(info)
    capture.click(user, message, action_id)
    return capture.body


def api_gateway_event(
    body: str, signing_secret: str, *, timestamp: int | None = None, host: str = "localhost"
) -> dict[str, Any]:
    """A signed POST to /slack/events as API Gateway hands it to the function (a new dict each
    call: Bolt's adapter writes into the event)."""
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    headers = {
        "Host": host,
        "User-Agent": SLACK_USER_AGENT,
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(body.encode())),
        "Accept-Encoding": "gzip,deflate",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sign(signing_secret, stamp, body),
    }
    return proxy_event(headers, body, stage="bench")


def bot_function_context(region: str) -> dict[str, str]:
    """The Lambda context attributes Bolt's adapter reads (its lazy work invokes this ARN)."""
    return {
        "function_name": BOT_FUNCTION,
        "invoked_function_arn": f"arn:aws:lambda:{region}:{ACCOUNT}:function:{BOT_FUNCTION}",
        "aws_request_id": "bench",
    }
