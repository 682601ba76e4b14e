"""`SlackEmulator`: a local Slack Web API server that the real `slack_sdk.WebClient` talks to."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from local_stack.slack_emulator.errors import SlackMethodError
from local_stack.slack_emulator.faults import FaultPlan
from local_stack.slack_emulator.server import API_PREFIX, RESPONSE_PREFIX, EmulatorHTTPServer
from local_stack.slack_emulator.shapes import BotIdentity
from local_stack.slack_emulator.workspace import Workspace

DEFAULT_BOT_TOKEN = "xoxb-local-0000000000-emulator"  # noqa: S105 - not a secret, a fixed local id


class SlackEmulator:
    """A Slack workspace on 127.0.0.1.

    Point `WebClient(token=emulator.bot_token, base_url=emulator.api_url)` at it, seed users,
    channels and user groups, script failures, and read back what was posted.
    """

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        team_id: str = "T0LOCAL",
        host: str = "127.0.0.1",
        port: int = 0,
        team_domain: str = "aurora-local",
        bot_user_id: str = "U0LOCALBOT",
        bot_name: str = "aurora-restore",
        clock: Callable[[], float] = time.monotonic,
        messages_tab_enabled: bool = True,
    ) -> None:
        """`clock` measures the chat.postMessage rate limit and response_url lifetimes; tests may
        pass a manual clock. `messages_tab_enabled` is the app manifest's App Home setting
        (features.app_home.messages_tab_enabled): without it the app cannot write to a user's
        DM (messages_tab_disabled)."""
        self.bot_token = bot_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self._address = (host, port)
        bot = BotIdentity(
            user_id=bot_user_id, bot_id="B0LOCALBOT", app_id="A0LOCALAPP", name=bot_name
        )
        self._workspace = Workspace(
            team_id=team_id,
            team_domain=team_domain,
            bot=bot,
            clock=clock,
            messages_tab_enabled=messages_tab_enabled,
        )
        self._faults = FaultPlan(clock)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> SlackEmulator:
        if self._server is not None:
            raise RuntimeError("the Slack emulator is already running")
        self._server = EmulatorHTTPServer(
            self._address, workspace=self._workspace, faults=self._faults, bot_token=self.bot_token
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="slack-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("start the Slack emulator first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        """The `base_url` for `slack_sdk.WebClient`."""
        return self.base_url + API_PREFIX

    @property
    def response_url_base(self) -> str:
        return self.base_url + RESPONSE_PREFIX

    def response_url(self, key: str) -> str:
        """The response_url Slack would send with an invocation; its 30 minutes start now."""
        self._workspace.response_urls.issue(key)
        return self.response_url_base + key

    # -- seeding -------------------------------------------------------------------------------

    def add_user(self, user_id: str, name: str, *, is_bot: bool = False) -> None:
        self._workspace.add_user(user_id, name, is_bot=is_bot)

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        bot_is_member: bool = True,
        is_private: bool = False,
        members: Iterable[str] | None = None,
    ) -> None:
        """A channel; the app is a member unless told otherwise (then posting there is refused
        as Slack refuses it: not_in_channel, or channel_not_found when it is private). `members`
        are the people in it (an ephemeral message to anyone else is refused with
        user_not_in_channel); None: everyone in the workspace."""
        self._workspace.add_channel(
            channel_id, name, bot_is_member=bot_is_member, is_private=is_private, members=members
        )

    def set_messages_tab(self, enabled: bool) -> None:
        """Turn the App Home messages tab on or off, as in the app's configuration."""
        self._workspace.messages_tab_enabled = enabled

    def set_bot_membership(self, channel_id: str, member: bool) -> None:
        """Invite the app to the channel (`/invite @app`) or remove it from it."""
        self._workspace.set_bot_membership(channel_id, member)

    def set_membership(self, channel_id: str, user_id: str, member: bool) -> None:
        """A person joins or leaves the channel."""
        self._workspace.set_membership(channel_id, user_id, member)

    def archive_channel(self, channel_id: str) -> None:
        """Archive it: posts answer is_archived, card updates is_inactive."""
        self._workspace.archive_channel(channel_id)

    def delete_message(self, channel_id: str, ts: str) -> None:
        """A person deletes a message (a thread's parent leaves a tombstone)."""
        self._workspace.delete_message(channel_id, ts)

    def add_usergroup(self, usergroup_id: str, handle: str, users: list[str]) -> None:
        self._workspace.add_usergroup(usergroup_id, handle, list(users))

    def post_as_user(
        self, channel: str, user_id: str, text: str, *, thread_ts: str | None = None
    ) -> str:
        """A message written by a person (not the bot); returns its ts."""
        _, message = self._workspace.post(channel, author=user_id, text=text, thread_ts=thread_ts)
        return str(message["ts"])

    # -- failures ------------------------------------------------------------------------------

    def fail_next(
        self, method: str, *, status: int = 429, retry_after: int = 1, times: int = 1
    ) -> None:
        """Answer the next `times` calls of `method` ("*" for any) with 429 + Retry-After or 5xx."""
        self._faults.fail_next(method, status=status, retry_after=retry_after, times=times)

    def set_rate_limit(self, per_channel_per_second: float | None) -> None:
        """Refuse chat.postMessage faster than this per channel with 429 + Retry-After."""
        self._faults.set_rate_limit(per_channel_per_second)

    def set_unavailable(self, unavailable: bool) -> None:
        """While True every API call answers 503."""
        self._faults.set_unavailable(unavailable)

    # -- reading back --------------------------------------------------------------------------

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Top-level messages (as the channel shows them), oldest first."""
        return self._workspace.top_level(channel)

    def replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The thread: its parent first, then replies oldest first."""
        return self._workspace.thread(channel, thread_ts)

    def direct_messages(self, user_id: str) -> list[dict[str, Any]]:
        """What the app wrote in its DM with the user (their App Home), oldest first."""
        try:
            return self._workspace.top_level(user_id)
        except SlackMethodError:
            return []  # the app never opened it

    def ephemerals(self, channel: str | None = None) -> list[dict[str, Any]]:
        """chat.postEphemeral calls: channel, user (the recipient), text, blocks, thread_ts,
        message_ts."""
        return self._workspace.ephemerals(channel)

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The App Home view last published for the user, as views.publish returned it."""
        return self._workspace.home_view(user_id)

    def responses(self, key: str) -> list[Any]:
        """The JSON bodies POSTed to `response_url(key)`, oldest first."""
        return self._workspace.response_urls.responses(key)

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """Every API request received (method, arguments without the token), in order,
        including the ones answered with a failure."""
        return self._workspace.calls()

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [args for name, args in self.calls if name == method]

    def wait_for(self, condition: Callable[[], bool], *, timeout: float = 5.0) -> None:
        """Block until `condition()` holds, re-checking whenever the workspace changes;
        TimeoutError after `timeout` seconds. The condition runs without the workspace lock,
        so it may call the emulator over HTTP too."""
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} seconds")
            with self._workspace.changed:
                # Short waits: a change between the check and the wait is seen on the next pass.
                self._workspace.changed.wait(min(remaining, 0.05))
