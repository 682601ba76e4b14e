"""Failures the emulator can be told to answer with: outages, scripted 429/5xx, rate limits."""

from __future__ import annotations

import math
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

ANY_METHOD = "*"

RESPONSE_URL = "response_url"  # the key that scripts failures of response_url posts
# Slack's documented error codes for server-side failures.
_SERVER_ERRORS = {500: "internal_error", 503: "service_unavailable"}


@dataclass(frozen=True)
class FailureResponse:
    """An HTTP answer that replaces the method's normal result."""

    status: int
    body: dict[str, object]
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_status(cls, status: int, retry_after: int) -> FailureResponse:
        if status == 429:
            return cls(
                429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}
            )
        return cls(status, {"ok": False, "error": _SERVER_ERRORS.get(status, "fatal_error")})


@dataclass
class _ScriptedFailure:
    status: int
    retry_after: int
    remaining: int


class FaultPlan:
    """Decides, per call, whether to answer with a failure instead of the method's result."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._scripted: dict[str, deque[_ScriptedFailure]] = defaultdict(deque)
        self._unavailable = False
        self._min_interval: float | None = None
        self._last_post: dict[str, float] = {}

    def fail_next(self, method: str, *, status: int, retry_after: int, times: int) -> None:
        if status != 429 and not 500 <= status < 600:
            raise ValueError(f"status must be 429 or 5xx, not {status}")
        if times < 1 or retry_after < 0:
            raise ValueError("times must be at least 1 and retry_after not negative")
        with self._lock:
            self._scripted[method].append(_ScriptedFailure(status, retry_after, times))

    def set_unavailable(self, unavailable: bool) -> None:
        with self._lock:
            self._unavailable = unavailable

    def set_rate_limit(self, per_channel_per_second: float | None) -> None:
        if per_channel_per_second is not None and per_channel_per_second <= 0:
            raise ValueError("the rate must be positive, or None for no limit")
        with self._lock:
            self._min_interval = (
                None if per_channel_per_second is None else 1.0 / per_channel_per_second
            )
            self._last_post.clear()

    def before_call(self, method: str) -> FailureResponse | None:
        """Outage and scripted failures: Slack's edge answers these before looking at the token."""
        with self._lock:
            if self._unavailable:
                return FailureResponse.for_status(503, 0)
            for key in (method, ANY_METHOD):
                queue = self._scripted.get(key)
                if queue:
                    failure = queue[0]
                    failure.remaining -= 1
                    if failure.remaining == 0:
                        queue.popleft()
                    return FailureResponse.for_status(failure.status, failure.retry_after)
        return None

    def before_response_url(self) -> FailureResponse | None:
        """A failure scripted for response_url posts (`fail_next(RESPONSE_URL, ...)`) only: an
        outage of the Web API is not one of the webhook host."""
        with self._lock:
            queue = self._scripted.get(RESPONSE_URL)
            if not queue:
                return None
            failure = queue[0]
            failure.remaining -= 1
            if failure.remaining == 0:
                queue.popleft()
            return FailureResponse.for_status(failure.status, failure.retry_after)

    def check_post_rate(self, channel_id: str) -> FailureResponse | None:
        """chat.postMessage's per-channel limit; an accepted post starts the next interval."""
        with self._lock:
            if self._min_interval is None:
                return None
            now = self._clock()
            last = self._last_post.get(channel_id)
            if last is not None and now - last < self._min_interval:
                wait = max(1, math.ceil(self._min_interval - (now - last)))
                return FailureResponse.for_status(429, wait)
            self._last_post[channel_id] = now
            return None
