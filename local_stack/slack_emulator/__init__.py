"""A Slack Web API emulator: a real local HTTP server for `slack_sdk.WebClient(base_url=...)`."""

from local_stack.slack_emulator.emulator import DEFAULT_BOT_TOKEN, SlackEmulator
from local_stack.slack_emulator.errors import SlackMethodError
from local_stack.slack_emulator.faults import ANY_METHOD

__all__ = ["ANY_METHOD", "DEFAULT_BOT_TOKEN", "SlackEmulator", "SlackMethodError"]
