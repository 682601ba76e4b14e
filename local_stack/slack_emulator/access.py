"""Who may read, post and update where: Slack's refusals, as pure functions of a conversation.

Each raises `SlackMethodError` with the code Slack answers, or returns when Slack would accept.
"""

from __future__ import annotations

from collections.abc import Container

from local_stack.slack_emulator.errors import SlackMethodError
from local_stack.slack_emulator.shapes import TOMBSTONE, Channel, Message


def check_reading(channel: Channel) -> None:
    """The bot token may post (and read) only where the app is a member. Slack answers
    `not_in_channel` for a public channel the app is not in and `channel_not_found` for a
    private one, which the app cannot even see (chat.postMessage, chat.postEphemeral and
    conversations.history errors: https://docs.slack.dev/reference/methods/chat.postMessage
    "not_in_channel: Cannot post user messages to a channel they are not in"). The manifest
    asks for chat:write only, not chat:write.public, so joining is never implicit."""
    if channel.im_user is not None or channel.bot_is_member:
        return
    raise SlackMethodError("channel_not_found" if channel.is_private else "not_in_channel")


def check_posting(channel: Channel, *, messages_tab_enabled: bool) -> None:
    """Posting (chat.postMessage, chat.postEphemeral) needs more than reading:
    - `is_archived`: "Channel has been archived." (both methods' error lists,
      https://docs.slack.dev/reference/methods/chat.postMessage and chat.postEphemeral);
    - `messages_tab_disabled`: "Messages tab for the app is disabled." for the app's DM with a
      user, which chat.postMessage opens when given the user's id ("Begin a conversation in a
      user's App Home", same page; chat:write is the scope it needs). The app's manifest sets
      it: features.app_home.messages_tab_enabled."""
    if channel.im_user is not None and not messages_tab_enabled:
        raise SlackMethodError("messages_tab_disabled")
    if channel.is_archived:
        raise SlackMethodError("is_archived")
    check_reading(channel)


def check_recipient(channel: Channel, user_id: str, workspace_users: Container[str]) -> None:
    """chat.postEphemeral: "If the target user is not in the given channel, the ephemeral
    message will not be delivered, and we'll return a user_not_in_channel error"
    (https://docs.slack.dev/reference/methods/chat.postEphemeral, "Target channels and
    users")."""
    if user_id not in workspace_users:
        raise SlackMethodError("user_not_in_channel")
    if channel.im_user is not None:
        inside = user_id == channel.im_user
    else:
        inside = channel.members is None or user_id in channel.members
    if not inside:
        raise SlackMethodError("user_not_in_channel")


def check_update(channel: Channel, message: Message | None, bot_user_id: str) -> Message:
    """chat.update's refusals (https://docs.slack.dev/reference/methods/chat.update), which
    list neither is_archived nor not_in_channel:
    - "is_inactive: The message cannot be edited within a frozen, archived or deleted channel."
    - "message_not_found: No message exists with the requested timestamp." (a deleted
      message, tombstone included)
    - "cant_update_message: Authenticated user does not have permission to update this
      message." (someone else's)."""
    if channel.is_archived:
        raise SlackMethodError("is_inactive")
    if message is None or message.get("subtype") == TOMBSTONE:
        raise SlackMethodError("message_not_found")
    if message.get("user") != bot_user_id:
        raise SlackMethodError("cant_update_message")
    return message
