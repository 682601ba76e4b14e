"""Plays restores through the real HTTP interfaces of a running local stack.

Used by `aurora-restore demo`, the end-to-end tests and the benchmarks: everything goes through
Slack-signed HTTP requests, the Slack Web API and boto3, never through internal shortcuts.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from slack_sdk import WebClient

from bot.ids import ActionId
from local_stack.slack_client import HttpReply, SlackClient
from pipeline.store import OperationStore

OPERATION_ID = re.compile(r"\bar-\d{14}-[0-9a-f]{6}\b")
# The buttons the bot renders (one source: bot.ids), as a Slack client sees them.
APPROVE = str(ActionId.APPROVE)
DENY = str(ActionId.DENY)
T = TypeVar("T")


class ScenarioError(AssertionError):
    """The scenario did not see what it waited for."""


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 0.05) -> T:
    """Poll `probe` until it returns something truthy; bounded, with a clear failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise ScenarioError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Driver:
    """A person's view of the stack: Slack as client and reader, AWS through boto3."""

    info: dict[str, Any]

    def __post_init__(self) -> None:
        self.slack = SlackClient(self.info)
        self.web = WebClient(token=self.info["bot_token"], base_url=self.info["slack_api_url"])
        session = boto3.session.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
            region_name=self.info["region"],
        )
        endpoint = self.info["aws_endpoint_url"]
        self.sfn = session.client("stepfunctions", endpoint_url=endpoint)
        self.rds = session.client("rds", endpoint_url=endpoint)
        # The operations and audit tables, read the way an auditor would: boto3 on the endpoint.
        self.store = OperationStore(
            session.client("dynamodb", endpoint_url=endpoint),
            self.info["operations_table"],
            self.info["audit_table"],
        )

    # ----- Slack ---------------------------------------------------------------------------------
    def request(self, user: str, text: str) -> tuple[HttpReply, str]:
        """Type `/restore text` as `user`; returns the HTTP reply and the response_url used."""
        response_url = self.slack.response_url()
        return self.slack.slash_command(user, text, response_url=response_url), response_url

    def responses(self, response_url: str) -> list[dict[str, Any]]:
        """What the bot posted to a response_url (the emulator records it, like Slack shows it)."""
        with urllib.request.urlopen(response_url, timeout=5) as answer:  # noqa: S310 - loopback
            return list(json.loads(answer.read().decode() or "[]"))

    def operation_id_from(self, response_url: str, timeout: float = 20) -> str:
        def probe() -> str | None:
            for response in self.responses(response_url):
                match = OPERATION_ID.search(str(response))
                if match:
                    return match.group(0)
            return None

        return wait_for("the operation id in the requester's reply", probe, timeout)

    def card(self, operation_id: str, timeout: float = 20) -> dict[str, Any]:
        """The approval card of an operation, found in the channel by its buttons' value."""

        def probe() -> dict[str, Any] | None:
            history = self.web.conversations_history(channel=self.info["channel_id"], limit=200)
            for message in history["messages"]:
                if operation_id in str(message.get("blocks", "")) and "button" in str(message):
                    return dict(message)
            return None

        return wait_for(f"the approval card of {operation_id}", probe, timeout)

    def click(self, user: str, message: dict[str, Any], action_id: str) -> HttpReply:
        return self.slack.click(user, message, action_id)

    # ----- AWS -----------------------------------------------------------------------------------
    def execution(self, operation_id: str) -> dict[str, Any]:
        arn = self.info["state_machine_arn"].replace(":stateMachine:", ":execution:")
        return dict(self.sfn.describe_execution(executionArn=f"{arn}:{operation_id}"))

    def wait_for_execution_end(self, operation_id: str, timeout: float = 120) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            execution = self.execution(operation_id)
            return None if execution["status"] == "RUNNING" else execution

        return wait_for(f"execution {operation_id} to end", probe, timeout, interval=0.1)
