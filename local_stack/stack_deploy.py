"""Deploying the local stack: each function with its CDK role, the real state machine definition,
and the stack file that tells clients (the demo, the tests, `aurora-restore local`) where it all is."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from local_stack.functions import FUNCTIONS
from local_stack.iam_roles import (
    create_role,
    create_state_machine_role,
)
from local_stack.names import ACCOUNT, CHANNEL, STATE_MACHINE_NAME, TEAM_ID, USERS
from local_stack.seed_data import CLUSTER_DATA
from local_stack.stack_resources import (
    empty_zip,
)
from pipeline.statemachine import render

if TYPE_CHECKING:
    from local_stack.stack import LocalStack


def deploy_functions_and_state_machine(stack: LocalStack, names: dict[str, str]) -> str:
    iam = stack.clients.client("iam")
    sts = stack.clients.client("sts")
    resources = stack.local_resources = stack.resources_for(names)
    lambda_client = stack.clients.client("lambda")
    substitutions: dict[str, str] = {}
    for spec in FUNCTIONS:
        role_arn, credentials = create_role(
            iam,
            sts,
            name=f"{spec.name}-role",
            construct_id=spec.construct_id,
            account=ACCOUNT,
            resources=resources,
        )
        stack.roles[spec.name] = role_arn
        stack.runtime.register(spec.name, spec.handler)
        stack.runtime.run_as(spec.name, credentials)
        created = lambda_client.create_function(
            FunctionName=spec.name,
            Runtime="python3.12",
            Role=role_arn,
            Handler=spec.handler,
            Code={"ZipFile": empty_zip()},
            Timeout=900,
        )
        if spec.placeholder:
            substitutions[spec.placeholder] = created["FunctionArn"]
    # The state machine's role, from its CDK policy: its Lambda tasks invoke with a session of
    # it (stepfunctions_role.py), so lambda:InvokeFunction is authorized on each function.
    machine_role, machine_session = create_state_machine_role(iam, sts, ACCOUNT, resources)
    stack.role_sessions[machine_role] = machine_session
    stack.state_machine_role = machine_role
    definition = render(substitutions, time_scale=stack.options.time_scale)
    created_machine = stack.clients.stepfunctions.create_state_machine(
        name=STATE_MACHINE_NAME, definition=json.dumps(definition), roleArn=machine_role
    )
    return str(created_machine["stateMachineArn"])


def stack_file(
    stack: LocalStack, endpoint_url: str, names: dict[str, str], state_machine_arn: str
) -> dict[str, Any]:
    assert stack.world is not None
    return {
        "aws_endpoint_url": endpoint_url,
        "region": stack.options.region,
        "slack_events_url": stack.endpoint.url,
        "slack_api_url": stack.slack.api_url,
        "response_url_base": stack.slack.response_url_base,
        "signing_secret": stack.signing_secret,
        "bot_token": stack.slack.bot_token,
        "team_id": TEAM_ID,
        "channel_id": CHANNEL[0],
        "users": {role: user_id for role, (user_id, _) in USERS.items()},
        "seed": stack.world.stack_file_seed(),
        "state_machine_arn": state_machine_arn,
        "operations_table": names["operations_table"],
        "audit_table": names["audit_table"],
        "progress_topic_arn": names["topic_arn"],
        "progress_queue_url": names["progress_queue_url"],
        "progress_dead_letter_queue_url": names["progress_dead_letter_queue_url"],
        "lazy_work_failures_queue_url": names["lazy_work_failures_queue_url"],
        "time_scale": stack.options.time_scale,
        # Each function's role (its CDK policy): assume one to see what that function may do.
        "roles": dict(stack.roles),
        "state_machine_role": stack.state_machine_role,
        # One local server; each cluster is served by the database named after its identifier.
        "postgres": {
            **(stack.postgres.stack_info() if stack.postgres else {}),
            "databases": {cluster: cluster for cluster in CLUSTER_DATA},
        },
    }
