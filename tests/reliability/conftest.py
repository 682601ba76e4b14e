"""Reliability fixtures: one local stack shared by the suite (a start costs seconds), tests kept
apart by distinct targets, cleared faults and delivered progress between them; and a guard that
checks every test's logs, process output and Slack traffic for the stack's secrets."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from local_stack.scenario import Driver
from local_stack.slack_client import HttpReply, SlackClient
from local_stack.stack import LocalStack, StackOptions
from pipeline.store import OperationStore
from tests.conftest import running_stack
from tests.reliability.leaks import LogRecorder, assert_no_secrets_leaked, known_secrets


@pytest.fixture(scope="package")
def shared_stack() -> Iterator[LocalStack]:
    """One local stack for the whole suite (one per process; a start costs seconds)."""
    with running_stack(StackOptions(time_scale=0)) as running:
        yield running


@dataclass
class SlackSide:
    """What the tests, acting as Slack, handed to the bot and got back from it."""

    response_urls: list[str] = field(default_factory=list)
    http_answers: list[str] = field(default_factory=list)


class RecordingSlackClient(SlackClient):
    """Acts as Slack and remembers every response_url it gave the bot and every HTTP answer."""

    def __init__(self, info: dict[str, Any], side: SlackSide) -> None:
        super().__init__(info)
        self.side = side

    def response_url(self) -> str:
        url = super().response_url()
        self.side.response_urls.append(url)
        return url

    def post(self, body: str, **kwargs: Any) -> HttpReply:
        reply = super().post(body, **kwargs)
        self.side.http_answers.append(reply.body)
        return reply


@pytest.fixture
def slack_side() -> SlackSide:
    return SlackSide()


@pytest.fixture
def log_recorder() -> Iterator[LogRecorder]:
    """Every log record of the process during the test, whatever logger or handler it goes to."""
    recorder = LogRecorder()
    with recorder.attached():
        yield recorder


@pytest.fixture
def stack(
    shared_stack: LocalStack,
    log_recorder: LogRecorder,
    slack_side: SlackSide,
    capfd: pytest.CaptureFixture[str],
) -> Iterator[LocalStack]:
    running = shared_stack
    running.faults.clear()
    yield running
    # The next test starts from a quiet stack: no work in flight, every progress event delivered
    # (none dead-lettered), no fault left armed.
    idle = running.wait_for_progress_delivered(timeout=30)
    running.faults.clear()
    out, err = capfd.readouterr()
    sys.stdout.write(out)  # still shown in the report if the test fails
    sys.stderr.write(err)
    assert idle, "work in flight or progress undelivered 30 s after the test"
    # Every test on a stack runs with known secrets: none may leak anywhere (issue 7).
    assert_no_secrets_leaked(
        running,
        log_recorder,
        known_secrets(running),
        response_urls=slack_side.response_urls,
        http_answers=slack_side.http_answers,
        output=[out, err],
    )


@pytest.fixture
def slack(stack: LocalStack, slack_side: SlackSide) -> RecordingSlackClient:
    return RecordingSlackClient(stack.info, slack_side)


@pytest.fixture
def driver(stack: LocalStack, slack: RecordingSlackClient) -> Driver:
    driving = Driver(stack.info)
    driving.slack = slack
    return driving


@pytest.fixture
def operations(stack: LocalStack) -> OperationStore:
    return Driver(stack.info).store
