"""What the functions, and Lambda on their behalf, do with their own role's credentials: the bot's
self-invocation, its reads through the Parameters and Secrets extension, and the SQS event source
mapping. Each test deploys the stack with one grant taken out of the CDK policies (a mutant
policies file, as `make iam-mutation` writes) and shows that AWS's refusal is what happens."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from bot.secrets_extension import ExtensionUnavailableError, ParametersAndSecretsExtension
from local_stack import iam_policies
from local_stack.functions import BOT_FUNCTION, FUNCTIONS, NOTIFIER_FUNCTION
from local_stack.iam_roles import STATE_MACHINE_ROLE
from local_stack.queue_poller import queued_messages
from local_stack.scenario import APPROVE, Driver, wait_for
from local_stack.stack import LocalStack, StackOptions
from tests.conftest import running_stack
from tests.e2e.flows import click, request_restore

pytestmark = pytest.mark.e2e
StackWithout = Callable[..., AbstractContextManager[LocalStack]]


def without_grant(construct_id: str, action: str, resource: str = "") -> dict[str, Any]:
    """The CDK policies with `action` taken out of the role's statements (those whose Resource
    names `resource`, when given)."""
    policies = iam_policies.load()
    kept: list[dict[str, Any]] = []
    removed = 0
    for statement in policies[construct_id]:
        actions = statement["Action"]
        actions = actions if isinstance(actions, list) else [actions]
        if action in actions and resource in json.dumps(statement.get("Resource")):
            removed += 1
            actions = [other for other in actions if other != action]
            if not actions:
                continue
            statement = {**statement, "Action": actions}
        kept.append(statement)
    assert removed, f"{construct_id} has no grant of {action} on {resource or 'anything'}"
    return {**policies, construct_id: kept}


@pytest.fixture
def stack_without(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StackWithout:
    """A stack deployed with one grant fewer: `with stack_without(construct, action): ...`."""

    def deploy(construct_id: str, action: str, resource: str = "") -> Iterator[LocalStack]:
        mutant = tmp_path / "policies.json"
        mutant.write_text(json.dumps(without_grant(construct_id, action, resource)), "utf-8")
        monkeypatch.setenv(iam_policies.POLICIES_ENV, str(mutant))
        with running_stack(StackOptions(time_scale=0)) as stack:
            yield stack

    return contextmanager(deploy)


def access_denied(caplog: pytest.LogCaptureFixture, action: str, role: str) -> list[str]:
    """The refusals the local stack's IAM logged for this action and role."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "aurora_restore.local_stack.iam"
        and f"perform: {action}" in record.getMessage()
        and f"assumed-role/{role}/" in record.getMessage()
    ]


def test_the_bot_invokes_itself_with_its_own_role(
    stack_without: StackWithout, caplog: pytest.LogCaptureFixture
) -> None:
    """Bolt's lazy work is an Invoke of the bot's own function, signed with the credentials
    Lambda puts in its environment: without lambda:InvokeFunction on itself, only the ack runs."""
    caplog.set_level(logging.WARNING)
    with stack_without("SlackEndpoint", "lambda:InvokeFunction") as stack:
        driver = Driver(stack.info)
        text = f"{stack.info['seed']['snapshot']} staging-orders"

        reply, response_url = driver.request(stack.info["users"]["requester"], text)

        assert reply.status == 200  # the ack needs no AWS call
        assert stack.runtime.wait_idle(timeout=10)
        assert driver.responses(response_url) == []  # the lazy work never ran
        refused = access_denied(caplog, "lambda:InvokeFunction", f"{BOT_FUNCTION}-role")
        assert refused and all(f"function:{BOT_FUNCTION}" in message for message in refused)


def role_session(stack: LocalStack, function: str) -> Credentials:
    """A fresh sts:AssumeRole session of the function's role (its own session token)."""
    sts = stack.clients.client("sts")
    keys = sts.assume_role(RoleArn=stack.roles[function], RoleSessionName="probe")["Credentials"]
    return Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"])


def read_through_extension(stack: LocalStack, function: str, credentials: Credentials) -> str:
    """Run, as `function` with these credentials, the bot's own extension client on the signing
    secret: its value, or why the extension did not give it."""
    secret_arn = stack.bot_configuration.signing_secret_arn if stack.bot_configuration else ""

    def probe(event: Any, context: Any) -> str:
        extension = ParametersAndSecretsExtension.from_environment(os.environ)
        assert extension is not None
        try:
            return extension.secret(secret_arn)
        except ExtensionUnavailableError as exc:
            return f"refused: {exc}"

    stack.runtime.register(function, probe)
    stack.runtime.run_as(function, credentials)
    return str(json.loads(stack.runtime.invoke(function, {}).payload))


def test_the_extension_reads_with_the_calling_functions_role(
    stack_without: StackWithout, caplog: pytest.LogCaptureFixture
) -> None:
    """The extension knows its caller by the session token and reads with that role: the
    endpoint without secretsmanager:GetSecretValue on its signing secret cannot start."""
    caplog.set_level(logging.WARNING)
    with stack_without(
        "SlackEndpoint", "secretsmanager:GetSecretValue", "SlackSigningSecret"
    ) as stack:
        driver = Driver(stack.info)
        endpoint_role = f"{BOT_FUNCTION}-role"

        reply, _ = driver.request(stack.info["users"]["requester"], "help")

        assert reply.status == 502  # the cold start failed: no signing secret, no answer
        # Refused through the extension, then through the SDK fallback: both as the endpoint.
        assert len(access_denied(caplog, "secretsmanager:GetSecretValue", endpoint_role)) == 2

        # The same extension gives the secret to a function whose role may read it...
        approval = role_session(stack, "aurora-restore-request-approval")
        assert read_through_extension(stack, "probe-approval", approval) == stack.signing_secret
        # ...not to the endpoint's role (IAM refuses: GetSecretValue's 400 passed on)...
        endpoint = role_session(stack, BOT_FUNCTION)
        assert read_through_extension(stack, "probe-endpoint", endpoint) == (
            "refused: the extension answered 400"
        )
        # ...and to no caller without a function's session token.
        assert stack.secrets_extension is not None
        for token in ("", "local", "not-a-session"):
            status, _ = stack.secrets_extension.answer("/secretsmanager/get?secretId=x", token)
            assert status == 403


def test_each_bot_function_reads_its_configuration_with_its_own_role(
    stack_without: StackWithout, caplog: pytest.LogCaptureFixture
) -> None:
    """On Lambda each function has its own execution environment, so the notifier reads its
    bot token itself; here the bot's functions share a process, and still the notifier's read
    is its own (bot.container keeps a container per session token), refused without its grant."""
    caplog.set_level(logging.WARNING)
    with stack_without("Notifier", "secretsmanager:GetSecretValue", "SlackBotToken") as stack:
        driver = Driver(stack.info)
        notifier_role = f"{NOTIFIER_FUNCTION}-role"
        seed = stack.info["seed"]

        reply, _ = driver.request(stack.info["users"]["requester"], f"{seed['snapshot']} staging-x")

        assert reply.status == 200  # the endpoint reads its own secrets: it answers
        wait_for(
            "the notifier's own read of the bot token refused",
            lambda: access_denied(caplog, "secretsmanager:GetSecretValue", notifier_role) or None,
            30,
        )


def test_rds_uses_the_copy_key_with_the_copy_functions_role(
    stack_without: StackWithout, caplog: pytest.LogCaptureFixture
) -> None:
    """A cross-region copy names the target key; RDS uses it with the caller's kms:CreateGrant
    and kms:DescribeKey (through RDS): without them the copy is refused and the restore fails."""
    caplog.set_level(logging.WARNING)
    with stack_without("CopySnapshot", "kms:CreateGrant") as stack:
        driver = Driver(stack.info)
        arn = stack.info["seed"]["cross_region_snapshot_arn"]
        operation_id = request_restore(driver, f"{arn} dr-keyless")
        click(driver, operation_id, APPROVE, stack.info["users"]["approver"])

        assert driver.wait_for_execution_end(operation_id)["status"] == "FAILED"
        assert access_denied(caplog, "kms:CreateGrant", "aurora-restore-copy-snapshot-role")


def test_the_event_source_mapping_consumes_with_the_notifiers_role(
    stack_without: StackWithout, caplog: pytest.LogCaptureFixture
) -> None:
    """Lambda's SQS poller uses the function's execution role: without sqs:ReceiveMessage on
    its queue the notifier receives nothing, the event stays queued, the mapping stays on."""
    caplog.set_level(logging.WARNING)
    with stack_without("Notifier", "sqs:ReceiveMessage", "NotifierQueue") as stack:
        poller = stack.progress_poller
        assert poller is not None
        sqs = stack.clients.client("sqs")
        queue_url = stack.info["progress_queue_url"]
        sqs.send_message(
            QueueUrl=queue_url, MessageBody="{}", MessageGroupId="probe", MessageDeduplicationId="1"
        )

        refusal = wait_for("the mapping's refusal", lambda: poller.last_error, timeout=10)

        assert refusal.startswith("AccessDenied")
        assert f"assumed-role/{NOTIFIER_FUNCTION}-role/" in refusal
        assert "sqs:ReceiveMessage" in refusal
        assert poller.invocations == 0 and poller.polling
        assert queued_messages(sqs, queue_url) == 1  # still there for when the grant is back
        assert any("event source mapping was refused" in r.getMessage() for r in caplog.records)


def without_resource(construct_id: str, action: str, resource: str) -> dict[str, Any]:
    """The CDK policies with one resource (a construct path) taken out of `action`'s grants."""
    policies = iam_policies.load()
    statements = []
    for statement in policies[construct_id]:
        resources = statement.get("Resource")
        if action in json.dumps(statement.get("Action")) and isinstance(resources, list):
            kept = [item for item in resources if resource not in json.dumps(item)]
            statement = {**statement, "Resource": kept}
        statements.append(statement)
    assert statements != policies[construct_id], f"{construct_id}: no {action} on {resource}"
    return {**policies, construct_id: statements}


@pytest.mark.parametrize(
    ("construct", "state"),
    [("Validate", "ValidateRequest"), ("RequestApproval", "RequestApproval")],
    ids=["function ARN task", "lambda:invoke.waitForTaskToken task"],
)
def test_the_state_machine_invokes_its_tasks_with_its_own_role(
    construct: str,
    state: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Step Functions invokes each Task's function with the state machine's role: without
    lambda:InvokeFunction on one function, that Task fails as Lambda's AccessDenied, reported
    as Step Functions reports it, and the execution ends in its failure path."""
    mutant = tmp_path / "policies.json"
    policies = without_resource(iam_policies.STATE_MACHINE, "lambda:InvokeFunction", construct)
    mutant.write_text(json.dumps(policies), "utf-8")
    monkeypatch.setenv(iam_policies.POLICIES_ENV, str(mutant))
    with running_stack(StackOptions(time_scale=0)) as stack:
        driver = Driver(stack.info)
        text = f"{stack.info['seed']['snapshot']} staging-sfn-role"
        _, response_url = driver.request(stack.info["users"]["requester"], text)
        operation_id = driver.operation_id_from(response_url)

        execution = driver.wait_for_execution_end(operation_id, timeout=60)

        assert execution["status"] == "FAILED"
        history = driver.sfn.get_execution_history(executionArn=execution["executionArn"])
        # A function-ARN Task fails as LambdaFunctionFailed, an integration's as TaskFailed.
        failures = [
            event.get("lambdaFunctionFailedEventDetails") or event["taskFailedEventDetails"]
            for event in history["events"]
            if event["type"] in {"LambdaFunctionFailed", "TaskFailed"}
        ]
        assert failures, [event["type"] for event in history["events"]]
        function = next(f"function:{f.name}" for f in FUNCTIONS if f.construct_id == construct)
        for failure in failures:  # the Task's every attempt (its Retry matches this error)
            assert failure["error"] == "Lambda.AWSLambdaException"
            cause = failure["cause"]
            assert f"assumed-role/{STATE_MACHINE_ROLE}/" in cause
            assert "perform: lambda:InvokeFunction on resource: arn:aws:lambda:" in cause
            assert function in cause and "Error Code: AccessDeniedException" in cause
        entered = [
            e["stateEnteredEventDetails"]["name"]
            for e in history["events"]
            if "stateEnteredEventDetails" in e
        ]
        assert state in entered and entered[-1] != state  # then its Catch: the failure path
        assert driver.store.get(operation_id).status.value == "FAILED"
