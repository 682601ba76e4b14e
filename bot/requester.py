"""Telling the requester directly, where the card and its thread cannot.

Three ways, each with what Slack requires of it:
- an ephemeral message in the channel they asked in (chat.postEphemeral): the app and the
  requester must both be in the channel, and it does not last ("ephemeral messages do not
  persist across reloads");
- the `/restore` command's response_url, which Slack takes without the app being in the channel,
  for 30 minutes and 5 uses (bot/response_url.py);
- a direct message from the app: chat.postMessage with the user's id as the channel opens the
  app's DM with them ("Begin a conversation in a user's App Home",
  https://docs.slack.dev/reference/methods/chat.postMessage). It needs chat:write only (not
  im:write, which is conversations.open's) and the App Home messages tab (manifest.yaml), or
  Slack answers messages_tab_disabled. It stays, and it notifies.

Each returns False when Slack refuses it for good, and raises what a retry may change.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.deps import BotDependencies
from bot.response_url import response_urls
from bot.slack import PERMANENT_SLACK_ERRORS, slack_error_code
from pipeline.models import Operation

logger = logging.getLogger("aurora_restore.bot.requester")


def tell_requester(deps: BotDependencies, operation: Operation, text: str) -> bool:
    """Ephemerally in the channel they asked in; where Slack refuses that, through the
    command's response_url. False when neither took it."""
    channel = operation.request.origin.get("channel_id")
    if channel:
        try:
            deps.slack().chat_postEphemeral(
                channel=channel, user=operation.request.requester, text=text
            )
            return True
        except SlackApiError as exc:
            code = slack_error_code(exc)
            if code not in PERMANENT_SLACK_ERRORS:
                raise
            logger.warning(
                "could not tell the requester of %s in their channel (%s)",
                operation.operation_id,
                code,
            )
    return response_urls(deps).send(operation.operation_id, text, now=deps.clock())


def message_requester(deps: BotDependencies, operation: Operation, text: str) -> bool:
    """A direct message from the app; False when Slack refuses it for good."""
    try:
        deps.slack().chat_postMessage(
            channel=operation.request.requester, text=text, unfurl_links=False
        )
    except SlackApiError as exc:
        code = slack_error_code(exc)
        if code not in PERMANENT_SLACK_ERRORS:
            raise
        logger.warning(
            "could not message the requester of %s directly (%s)", operation.operation_id, code
        )
        return False
    return True
