"""Bot fixtures: the real Bolt app on moto (DynamoDB, RDS, Step Functions, SNS) and the Slack
emulator, driven by requests signed exactly as Slack signs them."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from moto.core.config import default_user_config
from slack_bolt import App, BoltRequest, BoltResponse

from bot.app import build_app
from bot.deps import BotDependencies
from bot.ids import ActionId, BlockId
from bot.policy import Policy
from bot.settings import BotSettings, Secret
from local_stack.slack_emulator import SlackEmulator
from pipeline.aws import AwsClients
from pipeline.context import PipelineContext
from pipeline.settings import PipelineSettings
from pipeline.store import OperationStore
from tests.conftest import AUDIT_TABLE, OPERATIONS_TABLE
from tests.slack_fixtures import SLACK_CHANNEL_ID
from tests.slack_fixtures import slack as slack  # the emulator fixture

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM_ID = "T0LOCAL"
REQUESTER = "U0REQUESTER"
APPROVER = "U0APPROVER1"
SECOND_APPROVER = "U0APPROVER2"
GROUP_APPROVER = "U0GROUPDBA"
GROUP_REQUESTER = "U0GROUPDEV"
OUTSIDER = "U0OUTSIDER"
DBA_GROUP = "S0DBAS"
DEV_GROUP = "S0DEVS"
ENGINE = "aurora-postgresql"
SOURCE_CLUSTER = "source-db"
SNAPSHOT = "source-snap-1"
EXISTING_TARGET = "existing-db"

POLICY = Policy.model_validate(
    {
        "requesters": {"users": [REQUESTER, APPROVER], "usergroups": [DEV_GROUP]},
        "approvers": {"users": [APPROVER, SECOND_APPROVER], "usergroups": [DBA_GROUP]},
        "protected_targets": ["prod-*"],
        "two_approver_targets": ["critical-*"],
        "approval_expiry_seconds": 3600,
        "retention": {"overrides": [{"targets": ["existing-*"], "kept_cluster_days": 1}]},
    }
)

# A stand-in for the real definition's approval step that moto can run without Lambda/Docker:
# the same `.waitForTaskToken` callback, delivering the token through SQS instead of Lambda.
APPROVAL_ASL = {
    "StartAt": "RequestApproval",
    "States": {
        "RequestApproval": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {
                "QueueUrl": "${QueueUrl}",
                "MessageBody": {
                    "operation_id.$": "$.operation_id",
                    "task_token.$": "$$.Task.Token",
                },
            },
            "TimeoutSecondsPath": "$.approval_timeout_seconds",
            "ResultPath": "$.approval",
            "Catch": [
                {"ErrorEquals": ["States.Timeout"], "Next": "Expired"},
                {"ErrorEquals": ["ApprovalDenied"], "Next": "Denied"},
                {"ErrorEquals": ["RestoreCancelled"], "Next": "Cancelled"},
            ],
            "Next": "Approved",
        },
        "Approved": {"Type": "Succeed"},
        "Expired": {"Type": "Fail", "Error": "Expired"},
        "Denied": {"Type": "Fail", "Error": "ApprovalDenied"},
        "Cancelled": {"Type": "Fail", "Error": "RestoreCancelled"},
    },
}


@dataclass
class StateMachine:
    arn: str
    queue_url: str


@pytest.fixture
def state_machine(aws: AwsClients, monkeypatch: pytest.MonkeyPatch) -> StateMachine:
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="approval-tasks")["QueueUrl"]
    definition = json.dumps(APPROVAL_ASL).replace("${QueueUrl}", queue_url)
    arn = aws.stepfunctions.create_state_machine(
        name="restore-approval",
        definition=definition,
        roleArn="arn:aws:iam::123456789012:role/restore-approval",
    )["stateMachineArn"]
    return StateMachine(arn=arn, queue_url=queue_url)


@pytest.fixture
def rds_world(aws: AwsClients) -> None:
    rds = aws.rds()
    for cluster in (SOURCE_CLUSTER, EXISTING_TARGET):
        rds.create_db_cluster(
            DBClusterIdentifier=cluster,
            Engine=ENGINE,
            EngineVersion="15.4",
            MasterUsername="postgres",
            MasterUserPassword="not-a-real-password",
        )
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier=SOURCE_CLUSTER, DBClusterSnapshotIdentifier=SNAPSHOT
    )


@pytest.fixture
def pipeline_ctx(aws: AwsClients, store: OperationStore, topic_arn: str) -> PipelineContext:
    settings = PipelineSettings(
        operations_table=OPERATIONS_TABLE, audit_table=AUDIT_TABLE, progress_topic_arn=topic_arn
    )
    return PipelineContext(settings, aws)


@pytest.fixture
def slack_world(slack: SlackEmulator) -> SlackEmulator:
    for user_id in (
        REQUESTER,
        APPROVER,
        SECOND_APPROVER,
        GROUP_APPROVER,
        GROUP_REQUESTER,
        OUTSIDER,
    ):
        slack.add_user(user_id, user_id.lower())
    slack.add_usergroup(DBA_GROUP, "dbas", [GROUP_APPROVER])
    slack.add_usergroup(DEV_GROUP, "devs", [GROUP_REQUESTER])
    return slack


@pytest.fixture
def deps(
    slack_world: SlackEmulator,
    pipeline_ctx: PipelineContext,
    state_machine: StateMachine,
    rds_world: None,
    tmp_path: Path,
) -> BotDependencies:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(json.dumps(POLICY.model_dump(mode="json")))
    settings = BotSettings(
        state_machine_arn=state_machine.arn,
        signing_secret=Secret(SIGNING_SECRET),
        bot_token=Secret(slack_world.bot_token),
        slack_api_url=slack_world.api_url,
        policy_path=str(policy_file),
        response_url_base=slack_world.response_url_base,
    )
    return BotDependencies(
        settings=settings,
        policy=POLICY,
        signing_secret=SIGNING_SECRET,
        bot_token=slack_world.bot_token,
        pipeline=pipeline_ctx,
    )


def api_gateway_event(body: str, headers: dict[str, str]) -> dict[str, Any]:
    """A POST to /slack/events as API Gateway (HTTP API, payload 2.0) hands it to Lambda."""
    return {
        "version": "2.0",
        "rawPath": "/slack/events",
        "headers": headers,
        "requestContext": {"http": {"method": "POST", "path": "/slack/events"}},
        "body": body,
        "isBase64Encoded": False,
    }


def sign(
    body: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    """Slack's v0 signature: HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": f"v0={digest}",
    }


_keys = itertools.count(1)


class SlackHttp:
    """What Slack itself does: POST signed slash commands and button clicks to the app."""

    def __init__(self, app: App, slack: SlackEmulator) -> None:
        self.app = app
        self.slack = slack

    def send(self, body: str, headers: dict[str, str] | None = None) -> BoltResponse:
        headers = headers or sign(body)
        return self.app.dispatch(
            BoltRequest(body=body, headers={k: [v] for k, v in headers.items()})
        )

    def command_body(self, user: str, text: str, key: str) -> str:
        return urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": TEAM_ID,
                "team_domain": "aurora-local",
                "channel_id": SLACK_CHANNEL_ID,
                "channel_name": "db-restores",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/restore",
                "text": text,
                "api_app_id": "A0LOCALAPP",
                "response_url": self.slack.response_url(key),
                "trigger_id": f"trigger-{key}",
            }
        )

    def command(self, user: str, text: str) -> tuple[BoltResponse, str]:
        key = f"cmd-{next(_keys)}"
        return self.send(self.command_body(user, text, key)), key

    def click_body(self, user: str, action_id: ActionId, operation_id: str, key: str) -> str:
        card = next(
            (m for m in self.slack.messages(SLACK_CHANNEL_ID) if operation_id in m.get("text", "")),
            {"ts": "0.0"},
        )
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0LOCALAPP",
            "team": {"id": TEAM_ID, "domain": "aurora-local"},
            "channel": {"id": SLACK_CHANNEL_ID, "name": "db-restores"},
            "container": {
                "type": "message",
                "message_ts": card["ts"],
                "channel_id": SLACK_CHANNEL_ID,
            },
            "message": card,
            "trigger_id": f"trigger-{key}",
            "response_url": self.slack.response_url(key),
            "actions": [
                {
                    "type": "button",
                    "action_id": str(action_id),
                    "block_id": str(BlockId.DECISION),
                    "value": operation_id,
                    "action_ts": str(time.time()),
                }
            ],
        }
        return "payload=" + quote(json.dumps(payload))

    def click(self, user: str, action_id: ActionId, operation_id: str) -> tuple[BoltResponse, str]:
        key = f"click-{next(_keys)}"
        return self.send(self.click_body(user, action_id, operation_id, key)), key

    def wait_reply(self, key: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The lazy work's answers posted to response_url (bounded wait)."""
        self.slack.wait_for(lambda: bool(self.slack.responses(key)), timeout=timeout)
        return list(self.slack.responses(key))


@pytest.fixture
def app(deps: BotDependencies) -> App:
    return build_app(deps)


@pytest.fixture
def slack_http(app: App, slack_world: SlackEmulator) -> Iterator[SlackHttp]:
    yield SlackHttp(app, slack_world)
