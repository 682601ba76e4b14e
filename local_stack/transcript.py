"""Reads a channel through the Slack Web API and renders it as a person would read it."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient


def read_channel(client: WebClient, channel: str) -> list[dict[str, Any]]:
    """Top-level messages oldest first, each with its thread replies under `replies`."""
    messages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = client.conversations_history(channel=channel, limit=200, cursor=cursor)
        messages.extend(page["messages"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            break
    messages.sort(key=lambda message: float(message["ts"]))
    for message in messages:
        if message.get("reply_count"):
            message["replies"] = read_thread(client, channel, message["ts"])[1:]
    return messages


def read_thread(client: WebClient, channel: str, ts: str) -> list[dict[str, Any]]:
    replies: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = client.conversations_replies(channel=channel, ts=ts, limit=200, cursor=cursor)
        replies.extend(page["messages"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return replies


EMOJI = {
    "white_check_mark": "✅",
    "x": "❌",
    "hourglass_flowing_sand": "⏳",
    "fast_forward": "⏩",
    "warning": "⚠️",
    "raising_hand": "🙋",
    "white_circle": "⚪",
    "no_entry_sign": "🚫",
    "stopwatch": "⏱",
    "lock": "🔒",
    "tada": "🎉",
}
_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_LABELLED = re.compile(r"<[!#]?[^<>|]*\|([^<>]*)>")  # <!date^…|fallback>, <url|label>
_EMOJI = re.compile(r":([a-z0-9_+-]+):")


def as_seen(text: str, names: dict[str, str]) -> str:
    """Slack mrkdwn as a reader sees it: mentions as @name, dates as text, emoji as symbols."""
    text = _MENTION.sub(lambda m: "@" + names.get(m.group(1), m.group(1)), text)
    text = _LABELLED.sub(lambda m: m.group(1), text)
    return _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)


def render_channel(messages: list[dict[str, Any]], names: dict[str, str], title: str) -> str:
    lines = [f"#{title}", "=" * (len(title) + 1)]
    for message in messages:
        lines.append(_render_message(message, names, indent=""))
        for reply in message.get("replies", []):
            lines.append(_render_message(reply, names, indent="    │ "))
        lines.append("")
    return "\n".join(lines)


def _render_message(message: dict[str, Any], names: dict[str, str], indent: str) -> str:
    author = names.get(message.get("user", ""), "aurora-restore (bot)")
    stamp = datetime.fromtimestamp(float(message["ts"]), UTC).strftime("%H:%M:%S")
    body = as_seen(block_text(message.get("blocks") or []) or message.get("text", ""), names)
    wrapped = [
        textwrap.fill(line, width=96, subsequent_indent="  ") if line else ""
        for line in body.splitlines()
    ]
    header = f"{indent}[{stamp}] {author}"
    return "\n".join([header, *(f"{indent}  {line}" for line in wrapped)])


def block_text(blocks: list[dict[str, Any]]) -> str:
    """The visible text of Block Kit blocks; buttons shown as [Label]."""
    parts: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in {"header", "section"}:
            if block.get("text"):
                parts.append(_plain(block["text"]))
            for field in block.get("fields", []):
                # a field is "*Label*\nvalue": one line reads better in a terminal
                parts.append(_plain(field).replace("\n", ": ", 1))
        elif kind == "context":
            parts.append(" · ".join(_plain(e) for e in block.get("elements", []) if "text" in e))
        elif kind == "actions":
            labels = [_plain(e.get("text", {})) for e in block.get("elements", [])]
            parts.append("  ".join(f"[{label}]" for label in labels))
        elif kind == "divider":
            parts.append("─" * 40)
    return "\n".join(part for part in parts if part)


def _plain(element: dict[str, Any]) -> str:
    text = str(element.get("text", ""))
    return text.replace("*", "").replace("`", "")
