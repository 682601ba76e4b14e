"""Every function runs with its own role, made from the CDK app's policy for it, and a call is
refused with AccessDenied where that policy would refuse it on AWS: action and resource ARN."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from local_stack import iam_enforcement, iam_policies, iam_resources
from local_stack.functions import FUNCTIONS
from local_stack.iam_roles import INLINE_POLICY_NAME, policy_document
from local_stack.scenario import APPROVE, Driver, wait_for
from local_stack.stack import LocalStack, StackOptions
from pipeline.models import OperationStatus
from tests.e2e.flows import request_restore

pytestmark = pytest.mark.e2e
NOTIFIER = "aurora-restore-notifier"
ENDPOINT = "aurora-restore-slack-endpoint"
WHERE = iam_resources.Where("aws", "us-east-1", "1")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(StackOptions(time_scale=0)) as running:
        yield running


def session_of(stack: LocalStack, function: str) -> boto3.Session:
    """Assume the function's role from the stack file, as a person would."""
    info = stack.info
    sts = boto3.client("sts", endpoint_url=info["aws_endpoint_url"], region_name=info["region"])
    keys = sts.assume_role(RoleArn=info["roles"][function], RoleSessionName="person")["Credentials"]
    return boto3.Session(
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
        region_name=info["region"],
    )


def client(stack: LocalStack, function: str, service: str) -> Any:
    return session_of(stack, function).client(service, endpoint_url=stack.info["aws_endpoint_url"])


def refused(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    assert error["Code"] in {"AccessDenied", "AccessDeniedException"}
    return str(error["Message"])


def test_every_function_has_its_own_role_carrying_its_cdk_policy(stack):
    info = stack.info
    assert set(info["roles"]) == {spec.name for spec in FUNCTIONS}
    assert len(set(info["roles"].values())) == len(FUNCTIONS)
    machine = stack.clients.client("stepfunctions").describe_state_machine(
        stateMachineArn=info["state_machine_arn"]
    )
    assert machine["roleArn"] == info["state_machine_role"] not in info["roles"].values()
    iam = stack.clients.client("iam")
    lambdas = stack.clients.client("lambda")
    assert stack.local_resources is not None
    for spec in FUNCTIONS:
        role_arn = info["roles"][spec.name]
        assert lambdas.get_function(FunctionName=spec.name)["Configuration"]["Role"] == role_arn
        role_name = role_arn.rsplit("/", 1)[1]
        document = iam.get_role_policy(RoleName=role_name, PolicyName=INLINE_POLICY_NAME)
        deployed = document["PolicyDocument"]
        deployed = json.loads(deployed) if isinstance(deployed, str) else deployed
        assert deployed == policy_document(spec.construct_id, stack.local_resources)
        assert "unresolved" not in json.dumps(deployed)  # every construct is a local resource


def test_an_action_outside_the_role_is_refused(stack):
    message = refused(lambda: client(stack, NOTIFIER, "rds").describe_db_clusters())
    assert "rds:DescribeDBClusters" in message and "aurora-restore-notifier-role" in message
    # The endpoint resolves plans: it may describe, never delete.
    endpoint_rds = client(stack, ENDPOINT, "rds")
    endpoint_rds.describe_db_clusters(DBClusterIdentifier="staging-orders")
    refused(
        lambda: endpoint_rds.delete_db_cluster(
            DBClusterIdentifier="staging-orders", SkipFinalSnapshot=True
        )
    )


def test_the_audit_table_is_append_only_for_the_functions(stack):
    audit = stack.info["audit_table"]
    key = {"operation_id": {"S": "ar-probe"}, "event_key": {"S": "2026-01-01T00:00:00#probe"}}
    endpoint = client(stack, ENDPOINT, "dynamodb")
    endpoint.put_item(TableName=audit, Item=key)
    for function in (ENDPOINT, "aurora-restore-setup-database", "aurora-restore-validate"):
        dynamodb = client(stack, function, "dynamodb")
        message = refused(lambda db=dynamodb: db.delete_item(TableName=audit, Key=key))
        assert f"table/{audit}" in message
        refused(
            lambda db=dynamodb: db.update_item(
                TableName=audit,
                Key=key,
                UpdateExpression="SET actor = :a",
                ExpressionAttributeValues={":a": {"S": "x"}},
            )
        )
    refused(lambda: client(stack, NOTIFIER, "dynamodb").put_item(TableName=audit, Item=key))


def test_an_allowed_action_on_a_resource_outside_the_grant_is_refused(stack):
    # DeleteTarget may delete instances of the configured targets, not of production.
    rds = client(stack, "aurora-restore-delete-target", "rds")
    message = refused(lambda: rds.delete_db_instance(DBInstanceIdentifier="prod-orders-1"))
    assert "rds:DeleteDBInstance on resource: arn:aws:rds:us-east-1:" in message
    assert message.endswith(
        "db:prod-orders-1 because no identity-based policy allows the rds:DeleteDBInstance action"
    )
    assert stack.clients.rds().describe_db_instances(DBInstanceIdentifier="prod-orders-1")


def test_a_handler_signs_with_its_own_role_even_through_a_shared_client(stack):
    """Functions are threads of one process sharing cached clients: the credentials are the
    invocation's, not the process's."""
    shared = stack.clients.rds()
    keys = session_of(stack, NOTIFIER).get_credentials().get_frozen_credentials()
    stack.runtime.register("iam-probe", lambda event, context: shared.describe_db_clusters())
    stack.runtime.run_as("iam-probe", Credentials(keys.access_key, keys.secret_key, keys.token))
    result = stack.runtime.invoke("iam-probe", {})
    assert result.error_type == "ClientError"
    assert "AccessDenied" in result.payload.decode()
    assert shared.describe_db_clusters()["DBClusters"]  # the harness itself is not a role


def test_the_resource_arns_of_a_request_come_from_the_service_authorization_reference():
    arns = iam_resources.resource_arns(
        "rds",
        "CopyDBClusterSnapshot",
        {
            "SourceDBClusterSnapshotIdentifier": "arn:aws:rds:eu-west-1:1:cluster-snapshot:dr-a",
            "TargetDBClusterSnapshotIdentifier": "ar-1-copy",
        },
        WHERE,
    )
    assert arns == [
        "arn:aws:rds:eu-west-1:1:cluster-snapshot:dr-a",
        "arn:aws:rds:us-east-1:1:cluster-snapshot:ar-1-copy",
    ]
    assert iam_resources.iam_action("lambda", "Invoke") == "lambda:InvokeFunction"
    query = iam_resources.resource_arns(
        "dynamodb",
        "Query",
        {"TableName": "ops", "IndexName": "by_requester"},
        WHERE,
    )
    assert query == [
        "arn:aws:dynamodb:us-east-1:1:table/ops",
        "arn:aws:dynamodb:us-east-1:1:table/ops/index/by_requester",
    ]


def test_no_policy_needs_what_the_emulation_does_not_evaluate():
    """NotAction/NotResource and condition operators other than StringEquals/StringLike are not
    evaluated locally (iam_enforcement): a statement carrying one would be a grant the local
    stack cannot prove. The snapshot keys' grant is conditioned on RDS (kms:ViaService)."""
    conditioned = []
    for construct_id, statements in iam_policies.load().items():
        for statement in statements:
            unevaluated = set(statement) & set(iam_enforcement.UNEVALUATED)
            assert not unevaluated, f"{construct_id}: {statement}"
            for operator in statement.get("Condition", {}):
                assert operator in iam_enforcement.CONDITION_OPERATORS, statement
                conditioned.append(construct_id)
    assert "CopySnapshot" in conditioned


@contextmanager
def endpoint_without_task_answers(stack: LocalStack) -> Iterator[None]:
    """The deployment's IAM gets the Slack endpoint wrong: its statement allowing
    states:SendTaskSuccess is gone (a bad policy edit) until the operator puts it back."""
    iam = stack.clients.client("iam")
    role = stack.info["roles"][ENDPOINT].rsplit("/", 1)[1]
    deployed = iam.get_role_policy(RoleName=role, PolicyName=INLINE_POLICY_NAME)["PolicyDocument"]
    document = json.loads(deployed) if isinstance(deployed, str) else deployed
    statements = [s for s in document["Statement"] if "states:SendTaskSuccess" not in str(s)]
    assert len(statements) == len(document["Statement"]) - 1
    broken = {**document, "Statement": statements}
    iam.put_role_policy(
        RoleName=role, PolicyName=INLINE_POLICY_NAME, PolicyDocument=json.dumps(broken)
    )
    try:
        yield
    finally:
        iam.put_role_policy(
            RoleName=role, PolicyName=INLINE_POLICY_NAME, PolicyDocument=json.dumps(document)
        )


def test_an_approval_iam_refuses_to_hand_over_tells_the_approver_an_operator_must_fix_it(
    stack: LocalStack,
) -> None:
    driver = Driver(stack.info)
    approver = stack.info["users"]["approver"]
    operation_id = request_restore(driver, f"{stack.info['seed']['snapshot']} staging-iam-handoff")

    def approve() -> str:
        url = driver.slack.response_url()
        reply = driver.slack.click(approver, driver.card(operation_id), APPROVE, response_url=url)
        assert reply.status == 200, reply.body
        answers = wait_for("the approver's answer", lambda: driver.responses(url) or None, 60)
        return str(answers[0]["text"])

    with endpoint_without_task_answers(stack):
        refused_text = approve()

        assert "AccessDenied" in refused_text and "states:SendTaskSuccess" in refused_text
        assert "Clicking again will not help" in refused_text and "IAM" in refused_text
        assert "Click *Approve* again" not in refused_text
        assert driver.store.get(operation_id).status == OperationStatus.PENDING_APPROVAL
        assert driver.execution(operation_id)["status"] == "RUNNING"  # still waiting

    # The operator put the statement back: the same request is approved and runs.
    assert "Approved" in approve()
    assert driver.wait_for_execution_end(operation_id)["status"] == "SUCCEEDED"
