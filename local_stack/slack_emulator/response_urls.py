"""The emulator's response_urls: what was POSTed to each, and Slack's limits on them."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

# "you can respond to a user's command up to 5 times within 30 minutes of the user's invocation"
# (https://api.slack.com/interactivity/slash-commands, "Delayed responses and multiple responses";
# the same holds for interactions: https://api.slack.com/interactivity/handling#message_responses).
RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME_SECONDS = 30 * 60


class EmulatedResponseUrls:
    """Kept under the workspace's lock (`changed`), so tests can wait for a response."""

    def __init__(self, changed: threading.Condition, clock: Callable[[], float]) -> None:
        self._changed = changed
        self._clock = clock
        self._issued: dict[str, float] = {}
        self._responses: dict[str, list[Any]] = {}

    def issue(self, key: str) -> None:
        """Start the key's 30 minutes (Slack starts them at the user's invocation)."""
        with self._changed:
            self._issued.setdefault(key, self._clock())

    def record(self, key: str, body: Any) -> str | None:
        """Keep a POST to the key's response_url, or say why Slack refuses it. A key the
        emulator never issued (a client made it up) starts its 30 minutes at its first use.
        The refusal bodies are the ones Slack's webhooks answer with; their wording is not in
        the docs, the limits are."""
        with self._changed:
            issued = self._issued.setdefault(key, self._clock())
            if self._clock() - issued > RESPONSE_URL_LIFETIME_SECONDS:
                return "expired_url"
            kept = self._responses.setdefault(key, [])
            if len(kept) >= RESPONSE_URL_USES:
                return "used_url"
            kept.append(copy.deepcopy(body))
            self._changed.notify_all()
            return None

    def responses(self, key: str) -> list[Any]:
        with self._changed:
            return copy.deepcopy(self._responses.get(key, []))
