"""The Slack endpoint answers 4xx, never 5xx, to requests Slack would never send.

Bolt parses the body and reads its shape (`team`, `user`, `actions[0]`, ...) before and around
its signature check, and raises on a shape it does not expect; the exception escapes the Lambda
handler and API Gateway answers 502, which looks like an outage and trips the alarms. Such a request
gets 401 unless it carries a valid signature, and 400 if it does (only a holder of the signing
secret can send one). A timestamp header that is not a number makes Bolt's own verification raise
into the app's error handler, which would answer an unverified request: it is refused first.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.signature import SignatureVerifier

from bot.errors import correlation_id

logger = logging.getLogger("aurora_restore.bot")


def refuse_before_bolt(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """A response for a request Bolt must not see, or None to hand it to Bolt."""
    timestamp = _headers(event).get("x-slack-request-timestamp")
    if timestamp is not None and not (timestamp.isascii() and timestamp.isdigit()):
        return response(401, "invalid request")
    return None


def refuse_unhandled(
    event: Mapping[str, Any], signing_secret: str, error: Exception
) -> dict[str, Any]:
    """The response for a request Bolt raised on: 400 if signed, 401 if not (logged, no payload)."""
    signed = is_signed(_body(event), _headers(event), signing_secret)
    logger.warning(
        "refused a %s request the Slack app could not handle: %s (reference %s)",
        "signed" if signed else "unsigned",
        type(error).__name__,
        correlation_id(),
    )
    return response(400, "malformed request") if signed else response(401, "invalid request")


def is_signed(body: str | bytes, headers: Mapping[str, str], signing_secret: str) -> bool:
    """Slack's v0 signature check; anything it cannot read is simply not signed."""
    try:
        return SignatureVerifier(signing_secret).is_valid(
            body, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
        )
    except (ValueError, UnicodeDecodeError):
        return False


def response(status: int, error: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"error": error}),
    }


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}


def _body(event: Mapping[str, Any]) -> str | bytes:
    raw = str(event.get("body") or "")
    if not event.get("isBase64Encoded"):
        return raw
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw
