"""Pytest fixtures for the Slack Web API emulator.

Register them where they are needed by importing them into a conftest.py:

    from tests.slack_fixtures import slack, slack_client  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from local_stack.manifest import messages_tab_enabled
from local_stack.slack_emulator import SlackEmulator

SLACK_CHANNEL_ID = "C0RESTORES"
SLACK_CHANNEL_NAME = "db-restores"


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    """A running emulator with one channel, `SLACK_CHANNEL_ID` (#db-restores), and the App
    Home the app's manifest declares."""
    with SlackEmulator(messages_tab_enabled=messages_tab_enabled()) as emulator:
        emulator.add_channel(SLACK_CHANNEL_ID, SLACK_CHANNEL_NAME)
        yield emulator


@pytest.fixture
def slack_client(slack: SlackEmulator) -> WebClient:
    """The real slack_sdk client, holding the bot token, pointed at the emulator."""
    return WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=10)
