"""Shared fixtures: moto-backed AWS with the project's real table schema; one sentence instead
of a traceback when the local PostgreSQL cannot start; a check that a run leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from types import SimpleNamespace
from typing import TYPE_CHECKING

import boto3
import pytest
from moto import mock_aws

from local_stack import dynamodb_atomic
from local_stack.postgres_install import PostgresStartError
from pipeline.aws import AwsClients
from pipeline.progress import ProgressPublisher, StageReporter
from pipeline.store import OperationStore
from pipeline.store_schema import create_tables
from tests.leftovers import Leftovers

if TYPE_CHECKING:
    from local_stack.stack import LocalStack, StackOptions

REGION = "us-east-1"
OPERATIONS_TABLE = "test-operations"
AUDIT_TABLE = "test-audit"


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fake credentials so nothing can ever reach a real account from a test.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    os.environ.pop("AWS_PROFILE", None)


@pytest.fixture
def aws(_aws_credentials: None) -> Iterator[AwsClients]:
    with mock_aws():
        yield AwsClients(region=REGION)


@pytest.fixture
def store(aws: AwsClients) -> OperationStore:
    create_tables(aws.dynamodb, OPERATIONS_TABLE, AUDIT_TABLE)
    return OperationStore(aws.dynamodb, OPERATIONS_TABLE, AUDIT_TABLE)


@pytest.fixture
def topic_arn(aws: AwsClients) -> str:
    return str(aws.sns.create_topic(Name="test-progress")["TopicArn"])


@pytest.fixture
def reporter(store: OperationStore, aws: AwsClients, topic_arn: str) -> StageReporter:
    return StageReporter(store=store, publisher=ProgressPublisher(aws.sns, topic_arn))


@pytest.fixture
def sqs_progress(aws: AwsClients, topic_arn: str) -> str:
    """An SQS queue subscribed to the progress topic, so tests read what was published."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="progress-probe")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    aws.sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    return str(url)


@contextlib.contextmanager
def postgres_or_exit() -> Iterator[None]:
    """Stop the whole run with one readable sentence when the local PostgreSQL cannot start:
    every test after it would fail the same way."""
    try:
        yield
    except PostgresStartError as exc:
        pytest.exit(f"The tests need a local PostgreSQL, which could not start. {exc}", 1)


@contextlib.contextmanager
def running_stack(options: StackOptions) -> Iterator[LocalStack]:
    """A started local stack, stopped afterwards; the run ends in one sentence if it cannot."""
    from local_stack.stack import LocalStack  # the stack's imports are for the tests that use it

    with postgres_or_exit():
        stack = LocalStack(options).start()
    try:
        yield stack
    finally:
        stack.stop()


_leftovers = Leftovers()


def pytest_sessionstart(session: pytest.Session) -> None:
    _leftovers.remember_what_exists()
    dynamodb_atomic.install()  # moto's conditional writes as atomic as DynamoDB's, for every test


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A passing run must leave no folders in the temporary directory and no servers running."""
    found = _leftovers.new_since_start()
    if found and exitstatus == pytest.ExitCode.OK:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write("\n")
            reporter.write_sep("!", "the run left these behind", red=True)
            reporter.write_line(", ".join(found), red=True)
            # So the summary line says so too ("1 passed, 2 left behind"); plugins read each
            # entry's __dict__ as they would a report's.
            reporter.stats["left behind"] = [SimpleNamespace(path=entry) for entry in found]
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


__all__ = ["REGION", "boto3"]
