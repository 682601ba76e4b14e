"""Posting and updating the approval card (chat.postMessage / chat.update with the bot token)."""

from __future__ import annotations

from bot.deps import BotDependencies
from bot.render import render_card
from pipeline.models import Operation


def refresh_card(deps: BotDependencies, operation: Operation) -> bool:
    """Re-render the card from the stored operation; False when the card was never posted."""
    if not operation.slack_channel or not operation.slack_message_ts:
        return False
    card = render_card(operation)
    deps.slack().chat_update(
        channel=operation.slack_channel,
        ts=operation.slack_message_ts,
        text=card.text,
        blocks=card.blocks,
    )
    return True


def post_card(deps: BotDependencies, operation: Operation, channel: str) -> str:
    """Post the card in `channel`; returns its ts, which is the thread of all later progress."""
    card = render_card(operation)
    answer = deps.slack().chat_postMessage(
        channel=channel, text=card.text, blocks=card.blocks, unfurl_links=False
    )
    return str(answer["ts"])


def reply_in_thread(deps: BotDependencies, operation: Operation, text: str) -> bool:
    if not operation.slack_channel or not operation.slack_message_ts:
        return False
    deps.slack().chat_postMessage(
        channel=operation.slack_channel, thread_ts=operation.slack_message_ts, text=text
    )
    return True
