"""One IAM role per function, and the state machine's, in the emulated account, from the CDK
app's synthesized policies.

Each role gets its statements (local_stack/iam_policies.json, resolved to the local stack's
resources) as one inline policy, a trust policy for its service (Lambda, Step Functions) and for
this account (so a person can assume it and see what it may do), and the function or the state
machine is created with it. The function then runs with an sts:AssumeRole session of its role
(LambdaRuntime.run_as), the state machine's Lambda tasks with one of its (stepfunctions_role.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.credentials import Credentials

from local_stack import iam_policies
from local_stack.functions import FUNCTIONS
from local_stack.secrets_extension import BotConfiguration

INLINE_POLICY_NAME = "synthesized-by-cdk"
# IAM's own limit for a role's inline policies: 10,240 characters (IAM quotas), the same as AWS.
ROLE_INLINE_POLICY_LIMIT = 10_240
MAX_SESSION = 43_200  # seconds: the longest role session IAM allows (MaxSessionDuration)


@dataclass(frozen=True)
class LocalResources:
    """What the CDK app's constructs are in the local stack (construct path -> attributes)."""

    values: Mapping[str, Mapping[str, str]]
    pseudo: Mapping[str, str]

    def lookup(self, path: str, attribute: str) -> str | None:
        return self.values.get(path, {}).get(attribute)


LAMBDA = "lambda.amazonaws.com"
STEP_FUNCTIONS = "states.amazonaws.com"


def trust_policy(account: str, service: str = LAMBDA) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                },
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "sts:AssumeRole",
                },
            ],
        }
    )


def policy_document(construct_id: str, resources: LocalResources) -> dict[str, Any]:
    statements = iam_policies.load()[construct_id]
    resolved = iam_policies.resolve(statements, resources.lookup, resources.pseudo)
    return {"Version": "2012-10-17", "Statement": resolved}


def create_role(
    iam: Any,
    sts: Any,
    *,
    name: str,
    construct_id: str,
    account: str,
    resources: LocalResources,
    service: str = LAMBDA,
) -> tuple[str, Credentials]:
    """The role's ARN and the credentials of a session of it."""
    role_arn = str(
        iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=trust_policy(account, service),
            MaxSessionDuration=MAX_SESSION,
        )["Role"]["Arn"]
    )
    document = json.dumps(policy_document(construct_id, resources), separators=(",", ":"))
    if len(document) > ROLE_INLINE_POLICY_LIMIT:
        raise ValueError(f"{construct_id}: its policy exceeds IAM's {ROLE_INLINE_POLICY_LIMIT}")
    iam.put_role_policy(RoleName=name, PolicyName=INLINE_POLICY_NAME, PolicyDocument=document)
    session = sts.assume_role(RoleArn=role_arn, RoleSessionName=name, DurationSeconds=MAX_SESSION)
    keys = session["Credentials"]
    return role_arn, Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"])


def local_resources(
    *,
    region: str,
    account: str,
    names: Mapping[str, str],
    bot: BotConfiguration,
    state_machine: tuple[str, str],
) -> LocalResources:
    """The local stack's resource for each construct path the CDK policies name."""
    arn = f"arn:aws:{{}}:{region}:{account}:{{}}"
    machine_arn, machine_name = state_machine
    values: dict[str, dict[str, str]] = {
        "RestoreStateMachine/Resource": {"Ref": machine_arn},
        "Progress/Topic/Resource": {"Ref": names["topic_arn"], "TopicArn": names["topic_arn"]},
        "Progress/NotifierQueue/Resource": {"Arn": names["progress_queue_arn"]},
        "SlackLazyWorkFailures/Resource": {
            "Arn": names["lazy_work_failures_queue_arn"],
            "Ref": names["lazy_work_failures_queue_url"],
            "QueueName": names["lazy_work_failures_queue_url"].rsplit("/", 1)[-1],
        },
        "DataKey/Resource": {"Arn": names["kms_key_id"]},
        "SlackSigningSecret/Resource": {"Ref": bot.signing_secret_arn},
        "SlackBotToken/Resource": {"Ref": bot.bot_token_secret_arn},
        "PolicyParameter/Resource": {"Ref": bot.policy_parameter},
    }
    for path, table in (("AuditTable", "audit_table"), ("OperationsTable", "operations_table")):
        values[f"{path}/Resource"] = {
            "Ref": names[table],
            "Arn": arn.format("dynamodb", f"table/{names[table]}"),
        }
    for spec in FUNCTIONS:
        log_group = f"/aws/lambda/{spec.name}"
        values[f"{spec.construct_id}/Resource"] = {
            "Ref": spec.name,
            "Arn": arn.format("lambda", f"function:{spec.name}"),
        }
        values[f"{spec.construct_id}Logs/Resource"] = {
            "Ref": log_group,
            "Arn": arn.format("logs", f"log-group:{log_group}:*"),
        }
    pseudo = {
        "AWS::Partition": "aws",
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::URLSuffix": "amazonaws.com",
        "LocalStateMachineName": machine_name,
    }
    return LocalResources(values, pseudo)


STATE_MACHINE_ROLE = "aurora-restore-state-machine"


def create_state_machine_role(
    iam: Any, sts: Any, account: str, resources: LocalResources
) -> tuple[str, Credentials]:
    """The state machine's role, from its CDK policy, and a session of it for its Lambda tasks."""
    return create_role(
        iam,
        sts,
        name=STATE_MACHINE_ROLE,
        construct_id=iam_policies.STATE_MACHINE,
        account=account,
        resources=resources,
        service=STEP_FUNCTIONS,
    )
