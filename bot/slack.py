"""Slack Web API access: a client that honours 429 Retry-After and retries 5xx and connection
errors a bounded number of times, and a short-lived cache of user group members."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

# Bounded: after these the call raises, and the caller decides (the notifier lets SNS retry).
RATE_LIMIT_RETRIES = 5
SERVER_ERROR_RETRIES = 3
CONNECTION_RETRIES = 2
SLACK_TIMEOUT_SECONDS = 10


def build_web_client(token: str | None, base_url: str | None = None) -> WebClient:
    return WebClient(
        token=token,
        base_url=base_url or WebClient.BASE_URL,
        timeout=SLACK_TIMEOUT_SECONDS,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            ServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES),
            ConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES),
        ],
    )


class UsergroupDirectory:
    """Members of Slack user groups (usergroups.users.list), cached briefly per group."""

    def __init__(
        self,
        client: Callable[[], WebClient],
        *,
        ttl_seconds: float = 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def members(self, usergroup: str) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(usergroup)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        answer = self._client().usergroups_users_list(usergroup=usergroup)
        members = frozenset(answer.get("users") or [])
        with self._lock:
            self._cache[usergroup] = (now, members)
        return members

    def groups_of(self, user: str, candidates: Iterable[str]) -> frozenset[str]:
        """Which of `candidates` (the policy's groups) `user` belongs to."""
        return frozenset(group for group in candidates if user in self.members(group))
