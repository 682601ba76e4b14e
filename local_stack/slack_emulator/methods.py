"""Slack Web API methods with Slack's argument rules, response shapes and error codes.

Each method takes the workspace and the call's arguments (query, form and JSON merged; form values
arrive as strings, JSON values typed) and returns the success body, or raises `SlackMethodError`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from local_stack.slack_emulator.block_rules import check_blocks_length, validate_blocks
from local_stack.slack_emulator.errors import SlackMethodError
from local_stack.slack_emulator.shapes import Message
from local_stack.slack_emulator.workspace import Workspace

Args = dict[str, Any]
Method = Callable[[Workspace, Args], dict[str, Any]]

MAX_TEXT_LENGTH = 40_000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
HISTORY_LIMITS = (100, 999)  # (default, maximum)
REPLIES_LIMITS = (1000, 1000)
TS_PATTERN = re.compile(r"\d+\.\d+")


# -- argument parsing ----------------------------------------------------------------------------


def _required(args: Args, name: str) -> str:
    value = args.get(name)
    if value is None or value == "":
        if name == "channel":
            raise SlackMethodError("channel_not_found")
        raise SlackMethodError(
            "invalid_arguments",
            response_metadata={"messages": [f"[ERROR] missing required field: {name}"]},
        )
    return str(value)


def _optional_str(args: Args, name: str) -> str | None:
    value = args.get(name)
    return None if value is None or value == "" else str(value)


def _flag(args: Args, name: str) -> bool:
    value = args.get(name, False)
    if isinstance(value, str):
        return value.lower() in ("1", "true")
    return bool(value)


def _limit(args: Args, limits: tuple[int, int]) -> int:
    default, maximum = limits
    raw = args.get("limit")
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise SlackMethodError("invalid_limit") from None
    return default if limit < 1 else min(limit, maximum)


def _json_structure(args: Args, name: str, error: str) -> Any:
    """A structured argument: typed in a JSON body, a JSON string in a form body."""
    value = args.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise SlackMethodError(error) from None
    return value


def _blocks(args: Args, maximum: int = MAX_MESSAGE_BLOCKS) -> list[dict[str, Any]] | None:
    blocks = _json_structure(args, "blocks", "invalid_blocks_format")
    if blocks is None:
        return None
    if not isinstance(blocks, list):
        raise SlackMethodError("invalid_blocks_format")
    validate_blocks(blocks, maximum=maximum)
    return blocks


def _thread_ts(args: Args) -> str | None:
    thread_ts = _optional_str(args, "thread_ts")
    if thread_ts is not None and not TS_PATTERN.fullmatch(thread_ts):
        raise SlackMethodError(
            "invalid_thread_ts",
            response_metadata={"messages": [f"[ERROR] {thread_ts} is not a valid thread_ts"]},
        )
    return thread_ts


def _metadata(args: Args) -> dict[str, Any] | None:
    """Message metadata: {"event_type": str, "event_payload": object}."""
    metadata = _json_structure(args, "metadata", "invalid_metadata_format")
    if metadata is None:
        return None
    if not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and isinstance(metadata.get("event_payload"), dict)
    ):
        raise SlackMethodError("invalid_metadata_format")
    return metadata


def _text(args: Args) -> str | None:
    """Slack truncates `text` at 40,000 characters and posts it anyway, with a warning (it does
    not answer msg_too_long): https://api.slack.com/changelog/2018-04-truncating-really-long-messages
    ("This behavior applies to all methods of posting messages")."""
    text = args.get("text")
    if text is None:
        return None
    return str(text)[:MAX_TEXT_LENGTH]


def _truncation_warning(args: Args) -> dict[str, Any]:
    """The `message_truncated` warning of the changelog above, when `text` was cut."""
    if len(str(args.get("text") or "")) <= MAX_TEXT_LENGTH:
        return {}
    return {
        "response_metadata": {
            "messages": [
                "[WARN] Your message was truncated but still posted. "
                "The `text` field accepts up to 40,000 characters."
            ],
            "warnings": ["message_truncated"],
        }
    }


# -- pagination ----------------------------------------------------------------------------------


def _encode_cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        decoded = base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise SlackMethodError("invalid_cursor") from None
    if not decoded.startswith("next_ts:"):
        raise SlackMethodError("invalid_cursor")
    return decoded.removeprefix("next_ts:")


def _page(messages: list[Message], args: Args, limits: tuple[int, int]) -> dict[str, Any]:
    """One page of `messages` (already in answer order) starting at the cursor's message."""
    start = 0
    cursor = _optional_str(args, "cursor")
    if cursor is not None:
        ts = _decode_cursor(cursor)
        positions = [i for i, m in enumerate(messages) if m["ts"] == ts]
        if not positions:
            raise SlackMethodError("invalid_cursor")
        start = positions[0]
    end = start + _limit(args, limits)
    has_more = end < len(messages)
    return {
        "messages": messages[start:end],
        "has_more": has_more,
        "response_metadata": {
            "next_cursor": _encode_cursor(messages[end]["ts"]) if has_more else ""
        },
    }


def _ts_bound(args: Args, name: str) -> Decimal | None:
    value = _optional_str(args, name)
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise SlackMethodError("invalid_ts_" + name) from None


def _as_read(messages: list[Message], args: Args) -> list[Message]:
    """Reads leave message metadata out unless asked for it, as Slack does."""
    if _flag(args, "include_all_metadata"):
        return messages
    return [{k: v for k, v in m.items() if k != "metadata"} for m in messages]


def _within_time_window(messages: list[Message], args: Args) -> list[Message]:
    oldest, latest = _ts_bound(args, "oldest"), _ts_bound(args, "latest")
    inclusive = _flag(args, "inclusive")

    def keep(message: Message) -> bool:
        ts = Decimal(message["ts"])
        if oldest is not None and (ts < oldest or (ts == oldest and not inclusive)):
            return False
        return latest is None or ts < latest or (ts == latest and inclusive)

    return [m for m in messages if keep(m)]


# -- methods -------------------------------------------------------------------------------------


def auth_test(ws: Workspace, args: Args) -> dict[str, Any]:
    return {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_domain,
        "user": ws.bot.name,
        "team_id": ws.team_id,
        "user_id": ws.bot.user_id,
        "bot_id": ws.bot.bot_id,
        "is_enterprise_install": False,
    }


def chat_post_message(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _required(args, "channel")
    text, blocks = _text(args), _blocks(args)
    if not text and not blocks and not args.get("attachments"):
        raise SlackMethodError("no_text")
    if blocks:
        check_blocks_length(blocks)
    channel_id, message = ws.post(
        channel,
        author=None,
        text=text or "",
        blocks=blocks,
        thread_ts=_thread_ts(args),
        reply_broadcast=_flag(args, "reply_broadcast"),
        metadata=_metadata(args),
    )
    return {
        "channel": channel_id,
        "ts": message["ts"],
        "message": message,
        **_truncation_warning(args),
    }


def chat_update(ws: Workspace, args: Args) -> dict[str, Any]:
    channel, ts = _required(args, "channel"), _optional_str(args, "ts")
    if ts is None:
        raise SlackMethodError("message_not_found")
    text, blocks = _text(args), _blocks(args)
    if text is None and blocks is None and not args.get("attachments"):
        raise SlackMethodError("no_text")
    channel_id, message = ws.update(channel, ts, text=text, blocks=blocks, metadata=_metadata(args))
    return {
        "channel": channel_id,
        "ts": ts,
        "text": message["text"],
        "message": message,
        **_truncation_warning(args),
    }


def chat_post_ephemeral(ws: Workspace, args: Args) -> dict[str, Any]:
    channel, user = _required(args, "channel"), _required(args, "user")
    text, blocks = _text(args), _blocks(args)
    if not text and not blocks and not args.get("attachments"):
        raise SlackMethodError("no_text")
    # channel_not_found first, then is_archived / not_in_channel for the bot, then the recipient.
    ws.check_bot_can_write(channel)
    ws.check_recipient(channel, user)
    record: dict[str, Any] = {"channel": channel, "user": user, "text": text or ""}
    if blocks is not None:
        record["blocks"] = blocks
    thread_ts = _thread_ts(args)
    if thread_ts is not None:
        record["thread_ts"] = thread_ts
    return {"message_ts": ws.record_ephemeral(record), **_truncation_warning(args)}


def chat_get_permalink(ws: Workspace, args: Args) -> dict[str, Any]:
    channel, ts = _required(args, "channel"), _optional_str(args, "message_ts")
    if ts is None:
        raise SlackMethodError("message_not_found")
    return {"channel": ws.channel_id(channel), "permalink": ws.permalink(channel, ts)}


def conversations_history(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _required(args, "channel")
    ws.check_bot_can_post(channel)  # conversations.history answers not_in_channel too
    newest_first = _as_read(list(reversed(ws.top_level(channel))), args)
    page = _page(_within_time_window(newest_first, args), args, HISTORY_LIMITS)
    return {**page, "pin_count": 0, "channel_actions_ts": None, "channel_actions_count": 0}


def conversations_replies(ws: Workspace, args: Args) -> dict[str, Any]:
    channel, ts = _required(args, "channel"), _optional_str(args, "ts")
    if ts is None:
        raise SlackMethodError("thread_not_found")
    ws.check_bot_can_post(channel)
    parent, *replies = _as_read(ws.thread(channel, ts), args)
    return _page([parent, *_within_time_window(replies, args)], args, REPLIES_LIMITS)


def conversations_info(ws: Workspace, args: Args) -> dict[str, Any]:
    return {"channel": ws.channel_info(_required(args, "channel"))}


def users_info(ws: Workspace, args: Args) -> dict[str, Any]:
    user = _optional_str(args, "user")
    if user is None:
        raise SlackMethodError("user_not_found")
    return {"user": ws.user(user)}


def usergroups_users_list(ws: Workspace, args: Args) -> dict[str, Any]:
    return {"users": ws.usergroup_users(_required(args, "usergroup"))}


def views_publish(ws: Workspace, args: Args) -> dict[str, Any]:
    user_id = _required(args, "user_id")
    view = _json_structure(args, "view", "invalid_arguments")
    if not isinstance(view, dict) or view.get("type") != "home":
        raise SlackMethodError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] view.type must be 'home'"]},
        )
    _blocks({"blocks": view.get("blocks", [])}, MAX_VIEW_BLOCKS)
    return {"view": ws.publish_home(user_id, view)}


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.getPermalink": chat_get_permalink,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "conversations.info": conversations_info,
    "users.info": users_info,
    "usergroups.users.list": usergroups_users_list,
    "views.publish": views_publish,
}


def call(ws: Workspace, method: str, args: Args) -> dict[str, Any]:
    """Run `method`; always returns a Slack body with `ok` (HTTP 200, as Slack answers errors)."""
    handler = METHODS.get(method)
    if handler is None:
        return {"ok": False, "error": "unknown_method", "req_method": method}
    try:
        return {"ok": True, **handler(ws, args)}
    except SlackMethodError as exc:
        return {"ok": False, "error": exc.error, **exc.extra}
