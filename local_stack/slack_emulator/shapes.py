"""Slack's object shapes (user, conversation, bot author, App Home view), as pure functions."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]
TOMBSTONE = "tombstone"  # the subtype of what Slack leaves of a deleted thread parent


@dataclass(frozen=True)
class BotIdentity:
    user_id: str
    bot_id: str
    app_id: str
    name: str


@dataclass
class Channel:
    id: str
    name: str
    created: int
    im_user: str | None = None  # set for the app's direct-message conversation with a user
    bot_is_member: bool = True
    is_private: bool = False
    is_archived: bool = False
    # The people in the channel; None: everyone in the workspace (as in #general).
    members: set[str] | None = None
    # ts -> message. Timestamps only ever increase, so insertion order is chronological.
    messages: dict[str, Message] = field(default_factory=dict)


def user_object(
    user_id: str, name: str, *, team_id: str, is_bot: bool, bot_id: str | None
) -> dict[str, Any]:
    profile: dict[str, Any] = {"real_name": name, "display_name": name, "team": team_id}
    if bot_id is not None:
        profile["bot_id"] = bot_id
    return {
        "id": user_id,
        "team_id": team_id,
        "name": name,
        "deleted": False,
        "real_name": name,
        "tz": "Etc/UTC",
        "tz_offset": 0,
        "is_admin": False,
        "is_owner": False,
        "is_bot": is_bot,
        "is_app_user": False,
        "profile": profile,
    }


def channel_object(channel: Channel, *, team_id: str, creator: str) -> dict[str, Any]:
    if channel.im_user is not None:
        return {
            "id": channel.id,
            "created": channel.created,
            "is_im": True,
            "is_org_shared": False,
            "context_team_id": team_id,
            "user": channel.im_user,
            "is_user_deleted": False,
        }
    return {
        "id": channel.id,
        "name": channel.name,
        "name_normalized": channel.name,
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_mpim": False,
        "is_private": channel.is_private,
        "is_archived": channel.is_archived,
        "is_general": False,
        "is_member": channel.bot_is_member,
        "is_shared": False,
        "is_ext_shared": False,
        "is_org_shared": False,
        "created": channel.created,
        "creator": creator,
        "context_team_id": team_id,
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0},
    }


def bot_author_fields(bot: BotIdentity, team_id: str) -> dict[str, Any]:
    """How a message posted with the bot token names its author."""
    return {
        "user": bot.user_id,
        "bot_id": bot.bot_id,
        "app_id": bot.app_id,
        "bot_profile": {
            "id": bot.bot_id,
            "app_id": bot.app_id,
            "name": bot.name,
            "team_id": team_id,
            "deleted": False,
        },
    }


def home_view_object(
    view: dict[str, Any], *, view_id: str, view_hash: str, bot: BotIdentity, team_id: str
) -> dict[str, Any]:
    return {
        "id": view_id,
        "team_id": team_id,
        "type": "home",
        "blocks": copy.deepcopy(view.get("blocks", [])),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "external_id": view.get("external_id", ""),
        "state": {"values": {}},
        "hash": view_hash,
        "app_id": bot.app_id,
        "bot_id": bot.bot_id,
        "root_view_id": view_id,
        "previous_view_id": None,
    }


def tombstone(message: Message) -> Message:
    """What Slack keeps of a deleted thread parent: "This message was deleted.", from
    USLACKBOT, hidden, still holding the thread's reply fields."""
    kept = ("ts", "thread_ts", "reply_count", "reply_users", "reply_users_count", "latest_reply")
    return {
        **{key: copy.deepcopy(message[key]) for key in kept if key in message},
        "type": "message",
        "subtype": TOMBSTONE,
        "text": "This message was deleted.",
        "user": "USLACKBOT",
        "hidden": True,
    }
