"""The emulated Slack workspace: users, channels, user groups, messages and what apps posted.

Every read returns deep copies and every write happens under one lock, so the bot, the notifier and
the tests can use the same workspace from many threads. A condition variable on that lock lets
tests wait (bounded) for something to be posted.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from local_stack.slack_emulator import access
from local_stack.slack_emulator.errors import SlackMethodError
from local_stack.slack_emulator.response_urls import EmulatedResponseUrls
from local_stack.slack_emulator.shapes import (
    BotIdentity,
    Channel,
    Message,
    bot_author_fields,
    channel_object,
    home_view_object,
    tombstone,
    user_object,
)


def _direct_message_id(user_id: str) -> str:
    return "D" + user_id.removeprefix("U").removeprefix("W")


class TimestampClock:
    """Slack message timestamps: unique, strictly increasing "seconds.micros" strings."""

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self._wall_clock = wall_clock
        self._last_micros = 0
        self._lock = threading.Lock()

    def next_ts(self) -> str:
        with self._lock:
            self._last_micros = max(self._last_micros + 1, int(self._wall_clock() * 1_000_000))
            seconds, micros = divmod(self._last_micros, 1_000_000)
        return f"{seconds}.{micros:06d}"


class Workspace:
    """State shared by the HTTP handlers and the emulator's Python API."""

    def __init__(
        self,
        *,
        team_id: str,
        team_domain: str,
        bot: BotIdentity,
        clock: Callable[[], float] = time.monotonic,
        messages_tab_enabled: bool = True,
    ) -> None:
        self.messages_tab_enabled = messages_tab_enabled
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot = bot
        self.changed = threading.Condition(threading.RLock())
        self.clock = TimestampClock()
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, Channel] = {}
        self._usergroups: dict[str, dict[str, Any]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._home_views: dict[str, dict[str, Any]] = {}
        self.response_urls = EmulatedResponseUrls(self.changed, clock)
        self._view_counter = 0
        self._calls: list[tuple[str, dict[str, Any]]] = []
        self.add_user(bot.user_id, bot.name, is_bot=True)

    def record_call(self, method: str, args: dict[str, Any]) -> None:
        with self.changed:
            self._calls.append((method, copy.deepcopy(args)))
            self.changed.notify_all()

    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        with self.changed:
            return copy.deepcopy(self._calls)

    # -- directory -----------------------------------------------------------------------------

    def add_user(self, user_id: str, name: str, *, is_bot: bool = False) -> None:
        bot_id = self.bot.bot_id if user_id == self.bot.user_id else None
        user = user_object(user_id, name, team_id=self.team_id, is_bot=is_bot, bot_id=bot_id)
        with self.changed:
            self._users[user_id] = user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        bot_is_member: bool = True,
        is_private: bool = False,
        members: Iterable[str] | None = None,
    ) -> None:
        """`members`: the people in it; None for everyone in the workspace."""
        people = None if members is None else set(members)
        with self.changed:
            if channel_id not in self._channels:
                self._channels[channel_id] = Channel(
                    channel_id,
                    name,
                    int(time.time()),
                    bot_is_member=bot_is_member,
                    is_private=is_private,
                    members=people,
                )
            else:
                channel = self._channels[channel_id]
                channel.name, channel.is_private = name, is_private
                channel.bot_is_member, channel.members = bot_is_member, people

    def set_bot_membership(self, channel_ref: str, member: bool) -> None:
        """Invite the app to a channel (`/invite @app`) or remove it."""
        with self.changed:
            self._channel(channel_ref).bot_is_member = member

    def set_membership(self, channel_ref: str, user_id: str, member: bool) -> None:
        """A person joins or leaves a channel."""
        with self.changed:
            channel = self._channel(channel_ref)
            if channel.members is None:
                channel.members = {u for u in self._users if u != self.bot.user_id}
            (channel.members.add if member else channel.members.discard)(user_id)

    def archive_channel(self, channel_ref: str) -> None:
        with self.changed:
            self._channel(channel_ref).is_archived = True

    def check_bot_can_post(self, channel_ref: str, *, open_im: bool = False) -> None:
        """Reading or posting where the app is not a member (access.check_reading)."""
        with self.changed:
            access.check_reading(self._channel(channel_ref, open_im=open_im))

    def check_bot_can_write(self, channel_ref: str, *, open_im: bool = False) -> None:
        """Posting: also archived channels and the app's DMs (access.check_posting)."""
        with self.changed:
            channel = self._channel(channel_ref, open_im=open_im)
            access.check_posting(channel, messages_tab_enabled=self.messages_tab_enabled)

    def check_recipient(self, channel_ref: str, user_id: str) -> None:
        """An ephemeral message's recipient must be in the channel (access.check_recipient)."""
        with self.changed:
            access.check_recipient(self._channel(channel_ref), user_id, self._users)

    def add_usergroup(self, usergroup_id: str, handle: str, users: list[str]) -> None:
        with self.changed:
            self._usergroups[usergroup_id] = {"id": usergroup_id, "handle": handle, "users": users}

    def user(self, user_id: str) -> dict[str, Any]:
        with self.changed:
            if user_id not in self._users:
                raise SlackMethodError("user_not_found")
            return copy.deepcopy(self._users[user_id])

    def usergroup_users(self, usergroup_id: str) -> list[str]:
        with self.changed:
            if usergroup_id not in self._usergroups:
                raise SlackMethodError("no_such_subteam")
            return list(self._usergroups[usergroup_id]["users"])

    def channel_info(self, channel_ref: str) -> dict[str, Any]:
        with self.changed:
            channel = self._channel(channel_ref)
            if channel.is_private and not channel.bot_is_member:
                raise SlackMethodError("channel_not_found")  # invisible to the app
            return channel_object(channel, team_id=self.team_id, creator=self.bot.user_id)

    def channel_id(self, channel_ref: str) -> str:
        """The id of a channel given by id, name or #name; the reference itself if unknown."""
        with self.changed:
            try:
                return self._channel(channel_ref).id
            except SlackMethodError:
                return (
                    _direct_message_id(channel_ref) if channel_ref in self._users else channel_ref
                )

    def _channel(self, channel_ref: str, *, open_im: bool = False) -> Channel:
        if channel_ref in self._channels:
            return self._channels[channel_ref]
        if channel_ref in self._users:
            return self._direct_messages(channel_ref, open_im=open_im)
        name = channel_ref.removeprefix("#")
        for channel in self._channels.values():
            if channel.name == name and channel.im_user is None:
                return channel
        raise SlackMethodError("channel_not_found")

    def _direct_messages(self, user_id: str, *, open_im: bool) -> Channel:
        """The app's DM with a user; posting to a user id opens it, as in Slack."""
        for channel in self._channels.values():
            if channel.im_user == user_id:
                return channel
        if not open_im:
            raise SlackMethodError("channel_not_found")
        channel_id = _direct_message_id(user_id)
        channel = Channel(channel_id, user_id, int(time.time()), im_user=user_id)
        self._channels[channel_id] = channel
        return channel

    # -- messages ------------------------------------------------------------------------------

    def post(
        self,
        channel_ref: str,
        *,
        author: str | None,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[str, Message]:
        """Post as the bot (author None) or as a user; returns (channel id, message)."""
        with self.changed:
            if author is None:
                self.check_bot_can_write(channel_ref, open_im=True)
            channel = self._channel(channel_ref, open_im=True)
            parent = self._thread_parent(channel, thread_ts) if thread_ts else None
            ts = self.clock.next_ts()
            message: Message = {"type": "message", "text": text, "ts": ts, "team": self.team_id}
            message.update(self._author_fields(author))
            if blocks is not None:
                message["blocks"] = copy.deepcopy(blocks)
            if metadata is not None:
                message["metadata"] = copy.deepcopy(metadata)
            if parent is not None:
                message["thread_ts"] = parent["ts"]
                message["parent_user_id"] = parent.get("user", "")
                if reply_broadcast:
                    message["subtype"] = "thread_broadcast"
                self._record_reply(parent, message)
            channel.messages[ts] = message
            self.changed.notify_all()
            return channel.id, copy.deepcopy(message)

    def update(
        self,
        channel_ref: str,
        ts: str,
        *,
        text: str | None,
        blocks: list[dict[str, Any]] | None,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[str, Message]:
        with self.changed:
            channel = self._channel(channel_ref)
            message = access.check_update(channel, channel.messages.get(ts), self.bot.user_id)
            # Like Slack, a field left out keeps its previous value.
            if text is not None:
                message["text"] = text
            if blocks is not None:
                message["blocks"] = copy.deepcopy(blocks)
            if metadata is not None:
                message["metadata"] = copy.deepcopy(metadata)
            message["edited"] = {"user": self.bot.user_id, "ts": self.clock.next_ts()}
            self.changed.notify_all()
            return channel.id, copy.deepcopy(message)

    def delete_message(self, channel_ref: str, ts: str) -> None:
        """A person (or an admin) deletes a message. A thread's parent stays as Slack keeps
        it, a tombstone ("This message was deleted.", subtype `tombstone`, from USLACKBOT)
        that still holds the replies; any other message is gone."""
        with self.changed:
            channel = self._channel(channel_ref)
            message = channel.messages.get(ts)
            if message is None:
                raise SlackMethodError("message_not_found")
            if message.get("reply_count"):
                channel.messages[ts] = tombstone(message)
            else:
                del channel.messages[ts]
                parent = channel.messages.get(message.get("thread_ts", ts))
                if parent is not None and parent.get("reply_count"):
                    parent["reply_count"] -= 1
            self.changed.notify_all()

    def message(self, channel_ref: str, ts: str) -> tuple[str, Message]:
        with self.changed:
            channel = self._channel(channel_ref)
            if ts not in channel.messages:
                raise SlackMethodError("message_not_found")
            return channel.id, copy.deepcopy(channel.messages[ts])

    def top_level(self, channel_ref: str) -> list[Message]:
        """The channel's messages as its history shows them, oldest first."""
        with self.changed:
            channel = self._channel(channel_ref)
            return [
                copy.deepcopy(m)
                for m in channel.messages.values()
                if m.get("thread_ts", m["ts"]) == m["ts"] or m.get("subtype") == "thread_broadcast"
            ]

    def thread(self, channel_ref: str, ts: str) -> list[Message]:
        """The thread holding `ts`: parent first, then replies oldest first."""
        with self.changed:
            channel = self._channel(channel_ref)
            if ts not in channel.messages:
                raise SlackMethodError("thread_not_found")
            parent_ts = channel.messages[ts].get("thread_ts", ts)
            return [
                copy.deepcopy(m)
                for m in channel.messages.values()
                if m["ts"] == parent_ts or m.get("thread_ts") == parent_ts
            ]

    def _author_fields(self, author: str | None) -> dict[str, Any]:
        if author is None:
            return bot_author_fields(self.bot, self.team_id)
        if author not in self._users:
            raise SlackMethodError("user_not_found")
        return {"user": author}

    def _thread_parent(self, channel: Channel, thread_ts: str) -> Message:
        target = channel.messages.get(thread_ts)
        if target is None:
            raise SlackMethodError("thread_not_found")
        # A reply's ts names its thread: Slack attaches the new reply to the same parent.
        return channel.messages[target.get("thread_ts", thread_ts)]

    @staticmethod
    def _record_reply(parent: Message, reply: Message) -> None:
        parent["thread_ts"] = parent["ts"]
        parent["reply_count"] = parent.get("reply_count", 0) + 1
        users = parent.setdefault("reply_users", [])
        if reply["user"] not in users:
            users.append(reply["user"])
        parent["reply_users_count"] = len(users)
        parent["latest_reply"] = reply["ts"]

    # -- ephemeral messages, App Home, response_url --------------------------------------------

    def record_ephemeral(self, record: dict[str, Any]) -> str:
        with self.changed:
            record = {**record, "channel": self._channel(record["channel"]).id}
            record["message_ts"] = self.clock.next_ts()
            self._ephemerals.append(copy.deepcopy(record))
            self.changed.notify_all()
            return str(record["message_ts"])

    def ephemerals(self, channel_ref: str | None) -> list[dict[str, Any]]:
        with self.changed:
            wanted = self.channel_id(channel_ref) if channel_ref is not None else None
            return [
                copy.deepcopy(e)
                for e in self._ephemerals
                if wanted is None or e["channel"] == wanted
            ]

    def publish_home(self, user_id: str, view: dict[str, Any]) -> dict[str, Any]:
        with self.changed:
            if user_id not in self._users:
                raise SlackMethodError("user_not_found")
            previous = self._home_views.get(user_id)
            if previous is None:
                self._view_counter += 1
                view_id = f"V{self._view_counter:09d}"
            else:
                view_id = previous["id"]
            published = home_view_object(
                view,
                view_id=view_id,
                view_hash=self.clock.next_ts().replace(".", ""),
                bot=self.bot,
                team_id=self.team_id,
            )
            self._home_views[user_id] = published
            self.changed.notify_all()
            return copy.deepcopy(published)

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        with self.changed:
            view = self._home_views.get(user_id)
            return copy.deepcopy(view) if view is not None else None

    def permalink(self, channel_ref: str, ts: str) -> str:
        with self.changed:
            channel_id, message = self.message(channel_ref, ts)
            link = (
                f"https://{self.team_domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"
            )
            if "thread_ts" in message and message["thread_ts"] != ts:
                link += f"?thread_ts={message['thread_ts']}&cid={channel_id}"
            return link
