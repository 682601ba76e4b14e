"""The bot's configuration through the Parameters and Secrets extension (the local stack's
emulation of it, on moto): secrets and the policy without the SDK, and the SDK whenever the
extension cannot answer, so a cold start never fails for want of it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.credentials import Credentials

from bot import lambda_entry
from bot.container import (
    default_dependencies,
    dependencies_from_environment,
    set_default_dependencies,
)
from bot.secrets_extension import PORT_VARIABLE, ParametersAndSecretsExtension
from local_stack.secrets_extension import (
    SIGNING_SECRET_NAME,
    SecretsExtensionEmulator,
    store_bot_configuration,
)
from pipeline.aws import AwsClients
from tests.bot.conftest import api_gateway_event, sign

SIGNING_SECRET = "extension-signing-secret-value"
BOT_TOKEN = "xoxb-extension-bot-token-value"
POLICY = {
    "requesters": {"users": ["U0REQUESTER"]},
    "approvers": {"users": ["U0APPROVER1"]},
    "protected_targets": ["prod-*"],
}
SESSION_TOKEN = "testing"  # what tests/conftest.py gives the process as AWS_SESSION_TOKEN
FUNCTION_CREDENTIALS = Credentials("testing", "testing", SESSION_TOKEN)  # the function's role


def function_session(token: str) -> Credentials | None:
    """The extension's caller: the one function whose session token this is."""
    return FUNCTION_CREDENTIALS if token == SESSION_TOKEN else None


@pytest.fixture
def extension(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SecretsExtensionEmulator]:
    configuration = store_bot_configuration(
        aws, signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, policy=POLICY
    )
    emulator = SecretsExtensionEmulator(aws, function_session)
    emulator.start()
    environment = {
        **configuration.environment(),
        **emulator.environment(),
        "AURORA_RESTORE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:x",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    # Without the pipeline's settings no SDK client can be built: a test that passes without
    # `sdk_available` got every value from the extension.
    yield emulator
    emulator.stop()


@pytest.fixture
def sdk_available(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the SDK fallback needs to build the pipeline context (and its clients)."""
    monkeypatch.setenv("AURORA_RESTORE_OPERATIONS_TABLE", "operations")
    monkeypatch.setenv("AURORA_RESTORE_AUDIT_TABLE", "audit")
    monkeypatch.setenv(
        "AURORA_RESTORE_PROGRESS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:progress.fifo"
    )


def test_secrets_and_policy_come_from_the_extension(extension: SecretsExtensionEmulator) -> None:
    deps = dependencies_from_environment()

    assert (deps.signing_secret, deps.bot_token) == (SIGNING_SECRET, BOT_TOKEN)
    assert extension.requests == 2
    assert deps.policy.approvers.users == frozenset({"U0APPROVER1"})
    assert extension.requests == 3


def test_a_not_ready_extension_is_asked_again(extension: SecretsExtensionEmulator) -> None:
    extension.not_ready_answers = 2

    deps = dependencies_from_environment()

    assert deps.signing_secret == SIGNING_SECRET
    assert extension.requests == 2 and extension.not_ready_answers == 0


@pytest.mark.usefixtures("sdk_available")
def test_a_refusing_extension_falls_back_to_the_sdk_without_logging_values(
    extension: SecretsExtensionEmulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "not-this-functions-token")  # the extension says 403
    caplog.set_level(logging.INFO)  # as deployed (botocore logs bodies at DEBUG)

    deps = dependencies_from_environment()

    assert (deps.signing_secret, deps.bot_token) == (SIGNING_SECRET, BOT_TOKEN)
    assert deps.policy.protected_targets == ("prod-*",)
    assert extension.requests == 0
    assert "through the SDK" in caplog.text
    assert SIGNING_SECRET not in caplog.text and BOT_TOKEN not in caplog.text


@pytest.mark.usefixtures("sdk_available")
def test_an_extension_that_is_not_running_falls_back_to_the_sdk(
    extension: SecretsExtensionEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    monkeypatch.setenv(PORT_VARIABLE, str(closed.server_port))
    closed.server_close()

    deps = dependencies_from_environment()

    assert (deps.signing_secret, deps.bot_token) == (SIGNING_SECRET, BOT_TOKEN)


@pytest.mark.parametrize(
    "environ",
    [{}, {PORT_VARIABLE: "2773"}, {PORT_VARIABLE: "port", "AWS_SESSION_TOKEN": "t"}],
)
def test_the_extension_is_used_only_when_the_function_has_it(environ: dict[str, str]) -> None:
    assert ParametersAndSecretsExtension.from_environment(environ) is None
    assert (
        ParametersAndSecretsExtension.from_environment(
            {PORT_VARIABLE: "2773", "AWS_SESSION_TOKEN": "t"}
        )
        is not None
    )


@pytest.fixture
def cold_container() -> Iterator[None]:
    """A fresh container: nothing built, dependencies read from the environment."""
    set_default_dependencies(None)
    lambda_entry.reset()
    yield
    set_default_dependencies(None)
    lambda_entry.reset()


def help_request(secret: str) -> dict[str, Any]:
    body = "command=%2Frestore&text=help&user_id=U0REQUESTER&team_id=T1&channel_id=C1"
    return api_gateway_event(body, sign(body, secret=secret))


@pytest.mark.usefixtures("cold_container")
def test_a_rotated_signing_secret_is_used_once_the_cached_one_is_too_old(
    extension: SecretsExtensionEmulator, aws: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotated = "rotated-signing-secret-value"
    context = SimpleNamespace(function_name="bot", invoked_function_arn="arn:aws:lambda:x")
    assert lambda_entry.handler(help_request(SIGNING_SECRET), context)["statusCode"] == 200
    aws.secretsmanager.put_secret_value(SecretId=SIGNING_SECRET_NAME, SecretString=rotated)

    # Still within the cache's age: the old secret is what this container knows.
    assert lambda_entry.handler(help_request(rotated), context)["statusCode"] == 401

    monkeypatch.setenv("AURORA_RESTORE_SECRET_MAX_AGE_SECONDS", "0")  # every value too old
    set_default_dependencies(None)
    assert lambda_entry.handler(help_request(SIGNING_SECRET), context)["statusCode"] == 401
    assert lambda_entry.handler(help_request(rotated), context)["statusCode"] == 200
    assert default_dependencies() is not default_dependencies()  # read again each time


@pytest.mark.usefixtures("cold_container", "sdk_available")
def test_a_failed_re_read_keeps_the_values_in_hand_and_the_aws_clients_are_kept(
    extension: SecretsExtensionEmulator,
    aws: AwsClients,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("AURORA_RESTORE_SECRET_MAX_AGE_SECONDS", "0")  # every value too old
    caplog.set_level(logging.INFO)
    first = default_dependencies()
    context = first.pipeline

    again = default_dependencies()  # read again: a new set, the same AWS clients
    assert again is not first and again.pipeline is context

    aws.secretsmanager.delete_secret(SecretId=SIGNING_SECRET_NAME, ForceDeleteWithoutRecovery=True)
    kept = default_dependencies()

    assert kept is again and kept.signing_secret == SIGNING_SECRET
    assert "could not read the bot's configuration again" in caplog.text
    assert SIGNING_SECRET not in caplog.text and BOT_TOKEN not in caplog.text
