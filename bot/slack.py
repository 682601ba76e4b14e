"""Slack Web API access: a client that honours 429 Retry-After and retries 5xx and connection
errors a bounded number of times, the refusals no retry changes, and a short-lived cache of user
group members."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

# Bounded: after these the call raises, and the caller decides (the notifier leaves the message
# on its SQS FIFO queue, fed by the SNS FIFO progress topic: it comes back after the visibility
# timeout, and goes to the dead-letter queue after infra.constants.PROGRESS_MAX_RECEIVES).
RATE_LIMIT_RETRIES = 5
SERVER_ERROR_RETRIES = 3
CONNECTION_RETRIES = 2
SLACK_TIMEOUT_SECONDS = 10

# Slack's answers about a message or its destination: the same call gets the same answer however
# often it is retried (the error lists of https://docs.slack.dev/reference/methods/
# chat.postMessage, chat.update and chat.postEphemeral). Rate limits, server errors and auth
# errors (an operator can fix a token) are not here: those are retried.
PERMANENT_SLACK_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "msg_blocks_too_long",
        "no_text",
        "invalid_arguments",
        "invalid_metadata_format",
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "is_inactive",  # chat.update in an archived (frozen, deleted) channel
        "user_not_in_channel",
        "message_not_found",
        "cant_update_message",
        "thread_not_found",
        "restricted_action",
        "messages_tab_disabled",  # the app's DM with a user, without the App Home messages tab
    }
)


# slack_sdk's webhook client logs the URL it posts to at DEBUG, and on a retried connection error
# at INFO ("Going to retry the same request: POST https://hooks.slack.com/..."): a response_url is
# a credential. Bolt's `respond` uses the client with this logger, and so does
# bot/response_url.py: it is kept to warnings, which name no URL.
WEBHOOK_LOGGER = logging.getLogger("slack_sdk.webhook.client")


def quiet_webhook_logs() -> None:
    WEBHOOK_LOGGER.setLevel(max(WEBHOOK_LOGGER.level, logging.WARNING))


def slack_error_code(exc: BaseException) -> str | None:
    """Slack's error code for a refused call; None for anything else."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "unknown_error")
    return None


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
