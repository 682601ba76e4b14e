"""Acts as Slack towards the bot: signed slash commands and button clicks over real HTTP.

Requests are form-encoded and signed exactly as Slack signs them (v0 HMAC-SHA256 of
`v0:{timestamp}:{body}` with the signing secret), so the bot's real verification runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def sign(signing_secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


class SlackClient:
    """What Slack does when a person types `/restore` or clicks a button."""

    def __init__(self, stack_info: dict[str, Any], *, timeout: float = 10.0) -> None:
        self._info = stack_info
        self._timeout = timeout

    def response_url(self) -> str:
        return f"{self._info['response_url_base']}{secrets.token_hex(8)}"

    def post(
        self,
        body: str,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        signing_secret: str | None = None,
        timestamp: int | None = None,
        signed: bool = True,
    ) -> HttpReply:
        """POST a raw body to the bot's endpoint; the keyword arguments forge bad requests."""
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        headers = {"Content-Type": content_type}
        if signed:
            secret = signing_secret if signing_secret is not None else self._info["signing_secret"]
            headers["X-Slack-Request-Timestamp"] = stamp
            headers["X-Slack-Signature"] = sign(secret, stamp, body)
        request = urllib.request.Request(  # noqa: S310 - the local stack's own loopback endpoint
            self._info["slack_events_url"], data=body.encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:  # noqa: S310
                return HttpReply(answer.status, answer.read().decode())
        except urllib.error.HTTPError as error:
            return HttpReply(error.code, error.read().decode())

    def slash_command(
        self,
        user: str,
        text: str,
        *,
        response_url: str | None = None,
        channel_id: str | None = None,
    ) -> HttpReply:
        """Type `/restore text` in the stack's channel, or in `channel_id`."""
        fields = {
            "token": "legacy-verification-token-unused",
            "team_id": self._info["team_id"],
            "team_domain": "local",
            "channel_id": channel_id or self._info["channel_id"],
            "channel_name": "db-restores",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/restore",
            "text": text,
            "api_app_id": "A0LOCAL001",
            "is_enterprise_install": "false",
            "response_url": response_url or self.response_url(),
            "trigger_id": f"{int(time.time())}.{secrets.token_hex(6)}",
        }
        return self.post(urlencode(fields))

    def click(
        self,
        user: str,
        message: dict[str, Any],
        action_id: str,
        *,
        response_url: str | None = None,
    ) -> HttpReply:
        """Click the button `action_id` on a message as read from the channel."""
        block_id, element = _find_button(message, action_id)
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "name": user.lower()},
            "api_app_id": "A0LOCAL001",
            "token": "legacy-verification-token-unused",
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": self._info["channel_id"],
                "is_ephemeral": False,
            },
            "trigger_id": f"{int(time.time())}.{secrets.token_hex(6)}",
            "team": {"id": self._info["team_id"], "domain": "local"},
            "channel": {"id": self._info["channel_id"], "name": "db-restores"},
            "message": message,
            "response_url": response_url or self.response_url(),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": element.get("text", {}),
                    "value": element.get("value", ""),
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return self.post(urlencode({"payload": json.dumps(payload)}))


def _find_button(message: dict[str, Any], action_id: str) -> tuple[str, dict[str, Any]]:
    for block in message.get("blocks", []):
        for element in block.get("elements", []):
            if element.get("type") == "button" and element.get("action_id") == action_id:
                return str(block.get("block_id", "")), element
    raise LookupError(f"no button `{action_id}` on message {message.get('ts')}")
