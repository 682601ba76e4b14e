"""The local stack's roles carry exactly what the CDK app synthesizes for each function."""

from __future__ import annotations

import json

import pytest

from infra import constants
from local_stack import iam_policies

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def synthesized_for_local_stack() -> dict:
    # Synthesizing runs cdk-nag too: the local configuration's longer pattern lists push the
    # restore role past IAM's policy size, into overflow policies that must be acknowledged.
    return iam_policies.synthesize()


def test_the_committed_policies_are_what_the_cdk_app_synthesizes(synthesized_for_local_stack):
    committed = iam_policies.load()
    assert committed == synthesized_for_local_stack, (
        "local_stack/iam_policies.json is stale: run `make iam-policies` and commit it"
    )


def test_every_function_has_its_own_policy_and_every_reference_is_a_construct(
    synthesized_for_local_stack,
):
    functions = {f.construct_id for f in constants.ALL_FUNCTIONS}
    assert set(synthesized_for_local_stack) == functions | {iam_policies.STATE_MACHINE}
    # The state machine may invoke exactly the functions its definition names (the ASL file is
    # opaque to CDK, so infra/stack.py writes the grant out).
    (invoke,) = [
        s
        for s in synthesized_for_local_stack[iam_policies.STATE_MACHINE]
        if s["Action"] == "lambda:InvokeFunction"
    ]
    named = {f.construct_id for f in constants.ALL_FUNCTIONS if f.placeholder}
    assert {r["Local"].removesuffix("/Resource") for r in invoke["Resource"]} == named
    text = json.dumps(synthesized_for_local_stack)
    assert '"Fn::GetAtt"' not in text  # every resource reference became a construct path
    restore = synthesized_for_local_stack[constants.RESTORE_CLUSTER.construct_id]
    # The overflow policy's statements are the role's too.
    assert {"RestoreCluster", "CreateInstances", "TagRestored"} <= {s.get("Sid") for s in restore}


def test_resolution_gives_plain_arns_and_unknown_constructs_grant_nothing():
    statements = [
        {
            "Effect": "Allow",
            "Action": "dynamodb:PutItem",
            "Resource": [
                {"Local": "AuditTable/Resource", "Attribute": "Arn"},
                {
                    "Fn::Join": [
                        "",
                        ["arn:", {"Ref": "AWS::Partition"}, ":rds:", {"Ref": "AWS::Region"}, ":x"],
                    ]
                },
                {"Fn::Sub": "arn:${AWS::Partition}:states:::${LocalStateMachineName}"},
                {"Local": "Missing/Resource", "Attribute": "Arn"},
                {
                    "Fn::Select": [
                        1,
                        {"Fn::Split": [":", {"Local": "AuditTable/Resource", "Attribute": "Arn"}]},
                    ]
                },
            ],
        }
    ]
    values = {"AuditTable/Resource": {"Arn": "arn:aws:dynamodb:us-east-1:1:table/audit"}}
    pseudo = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "LocalStateMachineName": "m"}
    (resolved,) = iam_policies.resolve(
        statements, lambda path, attribute: values.get(path, {}).get(attribute), pseudo
    )
    assert resolved["Resource"] == [
        "arn:aws:dynamodb:us-east-1:1:table/audit",
        "arn:aws:rds:us-east-1:x",
        "arn:aws:states:::m",
        "arn:aws:local:::unresolved/Missing/Resource",
        "aws",
    ]
