"""`/restore` through signed requests: signatures, answers, the lazy start and its failures."""

from __future__ import annotations

import json
import time

import pytest

from bot import lambda_entry
from bot.container import set_default_dependencies
from bot.deps import BotDependencies
from pipeline.models import OperationStatus, RestoreRequest
from pipeline.retention_terms import RetentionTerms
from pipeline.store import OperationStore
from tests.bot.conftest import (
    APPROVER,
    EXISTING_TARGET,
    GROUP_REQUESTER,
    OUTSIDER,
    REQUESTER,
    SNAPSHOT,
    SlackHttp,
    api_gateway_event,
    sign,
)


def op_id_in(text: str) -> str:
    return next(word.strip("`.:") for word in text.split() if word.strip("`.:").startswith("ar-"))


class LambdaContext:
    function_name = "aurora-restore-bot"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:aurora-restore-bot"


@pytest.fixture
def lambda_handler(deps: BotDependencies):
    set_default_dependencies(deps)
    lambda_entry.reset()
    yield lambda_entry.handler
    set_default_dependencies(None)
    lambda_entry.reset()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: {}, id="unsigned"),
        pytest.param(lambda body: sign(body, secret="not-the-signing-secret"), id="forged"),
        pytest.param(lambda body: sign(body, timestamp=int(time.time()) - 600), id="stale"),
        pytest.param(lambda body: sign(body + "&text=x"), id="body-tampered"),
    ],
)
def test_bad_signatures_are_refused_with_401(
    lambda_handler, slack_http: SlackHttp, store: OperationStore, headers
) -> None:
    body = slack_http.command_body(REQUESTER, f"{SNAPSHOT} new-db", "k")
    answer = lambda_handler(
        api_gateway_event(
            body, {"content-type": "application/x-www-form-urlencoded", **headers(body)}
        ),
        LambdaContext(),
    )
    assert answer["statusCode"] == 401
    assert store.recent() == []


def test_a_signed_request_through_the_lambda_entry_is_answered(
    lambda_handler, slack_http: SlackHttp
) -> None:
    body = slack_http.command_body(REQUESTER, "help", "k")
    answer = lambda_handler(api_gateway_event(body, sign(body)), LambdaContext())
    assert answer["statusCode"] == 200
    assert "/restore status" in json.loads(answer["body"])["text"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "Tell me what to restore"),
        ("snap", "exactly a snapshot and a target cluster"),
        ("s t --bogus", "Unknown option `--bogus`"),
        ("s t --instances 16", "--instances: must be between 1 and 15, got `16`"),
    ],
)
def test_the_ack_answers_mistakes_at_once(
    slack_http: SlackHttp, store: OperationStore, text: str, says: str
) -> None:
    response, _ = slack_http.command(REQUESTER, text)
    assert response.status == 200
    body = json.loads(response.body)
    assert body["response_type"] == "ephemeral"
    assert says in body["text"]
    assert store.recent() == []


def test_a_protected_target_is_refused_by_the_lazy_work_before_anything_happens(
    slack_http: SlackHttp, store: OperationStore
) -> None:
    response, key = slack_http.command(REQUESTER, f"{SNAPSHOT} prod-db --replace")
    assert "Checking your request" in json.loads(response.body)["text"]
    reply = slack_http.wait_reply(key)[0]
    assert reply["response_type"] == "ephemeral"
    assert "protected cluster and can never be replaced" in reply["text"]
    assert store.recent() == []
    assert store.lock_holder("prod-db") is None


def test_restore_creates_locks_and_starts_the_execution(
    slack_http: SlackHttp, deps: BotDependencies
) -> None:
    response, key = slack_http.command(REQUESTER, f"{SNAPSHOT} new-db --instances 2")
    assert "Checking your request" in json.loads(response.body)["text"]
    reply = slack_http.wait_reply(key)[0]
    assert reply["response_type"] == "ephemeral"
    operation_id = op_id_in(reply["text"])
    operation = deps.store.get(operation_id)
    assert operation.status == OperationStatus.PENDING_APPROVAL
    assert operation.plan is not None and operation.plan.instance_count == 2
    assert operation.request.origin["channel_id"]
    assert deps.store.lock_holder("new-db") == operation_id
    execution = deps.stepfunctions.describe_execution(executionArn=operation.execution_arn)
    assert execution["name"] == operation_id
    assert json.loads(execution["input"]) == {
        "operation_id": operation_id,
        "approval_timeout_seconds": 3600,
    }
    assert "operation.requested" in [e.action for e in deps.store.audit_events(operation_id)]


def test_a_repeated_lazy_run_does_not_start_a_second_restore(
    slack_http: SlackHttp, deps: BotDependencies
) -> None:
    body = slack_http.command_body(REQUESTER, f"{SNAPSHOT} new-db", "same-key")
    headers = sign(body)
    first = slack_http.send(body, headers)
    slack_http.wait_reply("same-key")
    slack_http.send(body, headers)  # Slack never retries commands, but Lambda may re-run lazy work
    slack_http.slack.wait_for(lambda: len(slack_http.slack.responses("same-key")) == 2)
    assert first.status == 200
    assert len(deps.store.recent()) == 1
    assert "already" in slack_http.slack.responses("same-key")[1]["text"]


def test_usergroup_members_may_request(slack_http: SlackHttp, deps: BotDependencies) -> None:
    _, key = slack_http.command(GROUP_REQUESTER, f"{SNAPSHOT} new-db")
    assert "Restore requested" in slack_http.wait_reply(key)[0]["text"]


def test_outsiders_may_not_request(slack_http: SlackHttp, deps: BotDependencies) -> None:
    _, key = slack_http.command(OUTSIDER, f"{SNAPSHOT} new-db")
    assert "not allowed to request restores" in slack_http.wait_reply(key)[0]["text"]
    assert deps.store.recent() == []


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("missing-snap new-db", "no cluster snapshot `missing-snap`"),
        (f"{SNAPSHOT} {EXISTING_TARGET}", "already exists"),
    ],
)
def test_plan_errors_are_explained(
    slack_http: SlackHttp, deps: BotDependencies, text: str, says: str
) -> None:
    _, key = slack_http.command(REQUESTER, text)
    reply = slack_http.wait_reply(key)[0]["text"]
    assert says in reply
    assert deps.store.recent() == []


def test_dry_run_answers_with_the_plan_and_starts_nothing(
    slack_http: SlackHttp, deps: BotDependencies
) -> None:
    _, key = slack_http.command(REQUESTER, f"{SNAPSHOT} {EXISTING_TARGET} --replace --dry-run")
    reply = slack_http.wait_reply(key)[0]["text"]
    assert "Dry run" in reply and "replaced through a swap" in reply
    assert f"kept, stopped, as `{EXISTING_TARGET}-old-" in reply
    _, key = slack_http.command(
        REQUESTER, f"{SNAPSHOT} {EXISTING_TARGET} --replace --in-place --dry-run"
    )
    reply = slack_http.wait_reply(key)[0]["text"]
    assert "Dry run" in reply and "existing cluster will be deleted" in reply
    assert f"`{EXISTING_TARGET}-before-" in reply
    assert deps.store.recent() == []
    assert deps.store.lock_holder(EXISTING_TARGET) is None


@pytest.mark.parametrize(
    ("target", "flags", "terms"),
    [
        # existing-* has an override (tests.bot.conftest.POLICY): a day, the rest the defaults'.
        (EXISTING_TARGET, "--replace", RetentionTerms(kept_cluster_days=1)),
        (EXISTING_TARGET, "--replace --in-place", RetentionTerms(kept_cluster_days=1)),
        ("new-db", "", RetentionTerms()),  # no override matches: the policy's defaults
    ],
)
def test_the_request_and_plan_carry_the_policys_retention_for_the_target(
    slack_http: SlackHttp, deps: BotDependencies, target: str, flags: str, terms: RetentionTerms
) -> None:
    _, key = slack_http.command(REQUESTER, f"{SNAPSHOT} {target} {flags}")
    operation = deps.store.get(op_id_in(slack_http.wait_reply(key)[0]["text"]))
    assert operation.request.retention == terms
    assert operation.plan is not None and operation.plan.retention == terms


def test_a_dry_run_says_how_long_the_old_cluster_is_kept(
    slack_http: SlackHttp, deps: BotDependencies
) -> None:
    _, key = slack_http.command(REQUESTER, f"{SNAPSHOT} {EXISTING_TARGET} --replace --dry-run")
    reply = slack_http.wait_reply(key)[0]["text"]
    assert "for rollback for 1 day after the swap" in reply
    assert "final snapshot kept 30 days" in reply


def test_a_locked_target_names_the_holder(slack_http: SlackHttp, deps: BotDependencies) -> None:
    _, first = slack_http.command(REQUESTER, f"{SNAPSHOT} new-db")
    holder = op_id_in(slack_http.wait_reply(first)[0]["text"])
    _, second = slack_http.command(APPROVER, f"{SNAPSHOT} new-db")
    reply = slack_http.wait_reply(second)[0]["text"]
    assert f"restore `{holder}`" in reply and f"<@{REQUESTER}>" in reply
    refused = [op for op in deps.store.recent() if op.operation_id != holder]
    assert [op.status for op in refused] == [OperationStatus.FAILED]
    assert deps.store.lock_holder("new-db") == holder


def test_a_failed_start_releases_the_lock_and_fails_the_operation(
    slack_http: SlackHttp, deps: BotDependencies
) -> None:
    deps.stepfunctions.delete_state_machine(stateMachineArn=deps.settings.state_machine_arn)
    _, key = slack_http.command(REQUESTER, f"{SNAPSHOT} new-db")
    reply = slack_http.wait_reply(key)[0]["text"]
    assert "reference" in reply and "Traceback" not in reply
    [operation] = deps.store.recent()
    assert operation.status == OperationStatus.FAILED
    assert "could not start the workflow" in (operation.error or "")
    assert deps.store.lock_holder("new-db") is None


def test_status_and_list(slack_http: SlackHttp, deps: BotDependencies) -> None:
    _, key = slack_http.command(REQUESTER, "status")
    assert "have not asked for any restores" in slack_http.wait_reply(key)[0]["text"]
    deps.store.create(
        "ar-20260101000000-aaaaaa",
        RestoreRequest(snapshot="s", target_cluster="t", requester=REQUESTER),
    )
    _, key = slack_http.command(REQUESTER, "status ar-20260101000000-aaaaaa")
    assert "waiting for approval" in slack_http.wait_reply(key)[0]["text"]
    _, key = slack_http.command(OUTSIDER, "list")
    assert "*Active restores*" in slack_http.wait_reply(key)[0]["text"]
    _, key = slack_http.command(REQUESTER, "status ar-20260101000000-bbbbbb")
    assert "no operation has the id" in slack_http.wait_reply(key)[0]["text"]
