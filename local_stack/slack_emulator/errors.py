"""The one way a Slack method says no."""

from __future__ import annotations

from typing import Any


class SlackMethodError(Exception):
    """A Slack method refused the call; `error` is Slack's error code (e.g. `channel_not_found`)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra
