"""The `/restore` command's response_url, kept with its operation: the one way to tell a
requester whose channel the app cannot post in.

A response_url is a credential (whoever holds it may post as the app to that person, in that
conversation), so it is kept like the task token: in its own attributes of the operation's item,
never in the `Operation` model, never logged, audited or shown. It is kept only when it is one
Slack issued: `https://hooks.slack.com/commands/...` for a slash command (the documented
request of https://docs.slack.dev/authentication/verifying-requests-from-slack carries
`response_url=https://hooks.slack.com/commands/T1DC2JH3J/397700885554/...`) or
`https://hooks.slack.com/actions/...` for an interaction
(https://docs.slack.dev/interactivity/handling-user-interaction). The local stack's Slack
emulator serves the same at its own address, accepted through `response_url_base` (set by the
local stack only; a deployment leaves it unset).

Slack takes a response_url "up to 5 times within 30 minutes of the user's invocation"
(https://api.slack.com/interactivity/slash-commands, "Delayed responses and multiple
responses"). Each use is counted with a conditional write, and the URL is removed once it has
expired, been used 5 times, or been refused, so nothing tries a dead one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.webhook import WebhookClient

from bot.deps import BotDependencies
from bot.slack import WEBHOOK_LOGGER
from pipeline.aws_errors import aws_call, is_code
from pipeline.store_schema import OPERATION_KEY

RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME = timedelta(minutes=30)
SLACK_HOOKS_HOST = "hooks.slack.com"
SLACK_HOOK_PATHS = ("/commands/", "/actions/")
SEND_TIMEOUT_SECONDS = 10
# Rate limited or a server error: Slack's side, worth another message later (HTTP semantics).
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
_URL, _EXPIRES, _USES = (
    "slack_response_url",
    "slack_response_url_expires_at",
    "slack_response_url_uses",
)
_CONDITION_FAILED = "ConditionalCheckFailedException"

logger = logging.getLogger("aurora_restore.bot.response_url")


def is_response_url(url: str, extra_base: str | None = None) -> bool:
    """Slack's form (https, hooks.slack.com, a command's or an interaction's path), or under
    `extra_base` (the local stack's emulator)."""
    parts = urlsplit(url)
    if (
        parts.scheme == "https"
        and parts.netloc == SLACK_HOOKS_HOST
        and parts.path.startswith(SLACK_HOOK_PATHS)
        and not parts.query
        and not parts.fragment
    ):
        return True
    return bool(extra_base) and url.startswith(str(extra_base)) and len(url) > len(str(extra_base))


def response_urls(deps: BotDependencies) -> ResponseUrls:
    return ResponseUrls(
        deps.aws.dynamodb,
        deps.pipeline.settings.operations_table,
        extra_base=deps.settings.response_url_base,
    )


class ResponseUrls:
    """The response_url attributes of operation items (the operations table)."""

    def __init__(self, dynamodb: Any, table: str, *, extra_base: str | None = None) -> None:
        self._db = dynamodb
        self._table = table
        self._extra_base = extra_base

    def keep(self, operation_id: str, url: str, *, issued_at: datetime, uses: int = 0) -> bool:
        """Keep a Slack response_url with its operation; False (and nothing kept) for a URL
        that is not one. `uses`: how many times it was already used (the command's own answer
        through Bolt's `respond` is one)."""
        if not is_response_url(url, self._extra_base):
            logger.warning("the response_url of %s is not Slack's; not kept", operation_id)
            return False
        with aws_call("keep the response_url"):
            self._db.update_item(
                TableName=self._table,
                Key={OPERATION_KEY: {"S": operation_id}},
                UpdateExpression="SET #url = :url, #expires = :expires, #uses = :uses",
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames=self._names(),
                ExpressionAttributeValues={
                    ":url": {"S": url},
                    ":expires": {"N": str(int((issued_at + RESPONSE_URL_LIFETIME).timestamp()))},
                    ":uses": {"N": str(uses)},
                },
            )
        return True

    def take(self, operation_id: str, *, now: datetime) -> str | None:
        """Count one use and return the URL; None (and the URL gone) when there is none left:
        expired, used 5 times, or never kept."""
        try:
            with aws_call("use the response_url"):
                answer = self._db.update_item(
                    TableName=self._table,
                    Key={OPERATION_KEY: {"S": operation_id}},
                    UpdateExpression="SET #uses = #uses + :one",
                    ConditionExpression=(
                        "attribute_exists(#url) AND #uses < :max AND #expires > :now"
                    ),
                    ExpressionAttributeNames=self._names(pk=False),
                    ExpressionAttributeValues={
                        ":one": {"N": "1"},
                        ":max": {"N": str(RESPONSE_URL_USES)},
                        ":now": {"N": str(int(now.timestamp()))},
                    },
                    ReturnValues="ALL_NEW",
                )
        except Exception as exc:
            if not is_code(exc.__cause__ or exc, _CONDITION_FAILED):
                raise
            self.forget(operation_id)
            return None
        attributes = answer["Attributes"]
        url = str(attributes[_URL]["S"])
        if int(attributes[_USES]["N"]) >= RESPONSE_URL_USES:
            self.forget(operation_id)  # this was its last use
        if not is_response_url(url, self._extra_base):  # kept before the check existed
            self.forget(operation_id)
            return None
        return url

    def forget(self, operation_id: str) -> None:
        try:
            with aws_call("forget the response_url"):
                self._db.update_item(
                    TableName=self._table,
                    Key={OPERATION_KEY: {"S": operation_id}},
                    UpdateExpression="REMOVE #url, #expires, #uses",
                    ConditionExpression="attribute_exists(#pk)",  # never create an item
                    ExpressionAttributeNames=self._names(),
                )
        except Exception as exc:
            if not is_code(exc.__cause__ or exc, _CONDITION_FAILED):
                raise

    def send(self, operation_id: str, text: str, *, now: datetime) -> bool:
        """Post `text` ephemerally through the operation's response_url; False when there is
        none left or Slack refused it (then it is forgotten)."""
        url = self.take(operation_id, now=now)
        if url is None:
            return False
        client = WebhookClient(url, timeout=SEND_TIMEOUT_SECONDS, logger=WEBHOOK_LOGGER)
        answer = client.send(text=text, response_type="ephemeral", replace_original=False)
        if answer.status_code in TRANSIENT_STATUSES:
            # Slack's side, not the URL: it stays for the next message (its use stays counted,
            # since Slack may have counted it too).
            logger.warning(
                "the response_url of %s could not be used now (HTTP %s); kept",
                operation_id,
                answer.status_code,
            )
            return False
        if answer.status_code != 200:
            # Slack counts uses and time too (expired_url, used_url): it is dead either way.
            logger.warning(
                "the response_url of %s was refused (HTTP %s); forgotten",
                operation_id,
                answer.status_code,
            )
            self.forget(operation_id)
            return False
        return True

    @staticmethod
    def _names(*, pk: bool = True) -> dict[str, str]:
        names = {"#url": _URL, "#expires": _EXPIRES, "#uses": _USES}
        return {**names, "#pk": OPERATION_KEY} if pk else names
