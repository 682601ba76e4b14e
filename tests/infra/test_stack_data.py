"""Tables, topics, secrets and the state machine in the synthesized template."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aws_cdk.assertions import Match

from infra.nag import render_cfn_value
from pipeline.statemachine import placeholders
from pipeline.store_schema import (
    TTL_ATTRIBUTE,
    audit_table_definition,
    operations_table_definition,
)
from tests.infra.stack_queries import (
    actions_on,
    statements_of,
)

pytestmark = pytest.mark.infra
CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"


def test_tables_are_kms_encrypted_recoverable_protected_and_expire_items(synthesized):
    tables = synthesized.of_type("AWS::DynamoDB::Table")
    assert len(tables) == 2
    key = synthesized.logical_id(synthesized.stack.key)
    for table in tables.values():
        props = table["Properties"]
        assert props["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": {"Fn::GetAtt": [key, "Arn"]},
        }
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
        assert props["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == "Retain"
    synthesized.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


@pytest.mark.parametrize("definition", [operations_table_definition, audit_table_definition])
def test_table_keys_and_indexes_are_the_store_schema(synthesized, definition):
    expected = definition("x")
    (table,) = [
        t["Properties"]
        for t in synthesized.of_type("AWS::DynamoDB::Table").values()
        if t["Properties"]["KeySchema"] == expected["KeySchema"]
    ]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(
        expected["AttributeDefinitions"], key=str
    )
    assert table["BillingMode"] == expected["BillingMode"]
    deployed = {
        index["IndexName"]: (index["KeySchema"], index["Projection"])
        for index in table.get("GlobalSecondaryIndexes", [])
    }
    assert deployed == {
        index["IndexName"]: (index["KeySchema"], index["Projection"])
        for index in expected.get("GlobalSecondaryIndexes", [])
    }


def test_topics_and_secrets_are_encrypted_and_secret_values_are_not_in_the_template(synthesized):
    key = {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.key), "Arn"]}
    topics = synthesized.of_type("AWS::SNS::Topic")
    assert len(topics) == 2
    assert all(t["Properties"]["KmsMasterKeyId"] == key for t in topics.values())
    secrets = synthesized.of_type("AWS::SecretsManager::Secret")
    assert len(secrets) == 2
    for secret in secrets.values():
        assert secret["Properties"]["KmsKeyId"] == key
        assert "SecretString" not in secret["Properties"]
        assert "GenerateSecretString" in secret["Properties"]  # a placeholder until put


def test_every_asl_placeholder_is_substituted_with_the_contracted_handler(synthesized):
    (machine,) = synthesized.of_type("AWS::StepFunctions::StateMachine").values()
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    assert set(substitutions) == placeholders()
    assert placeholders()  # the ASL file really has placeholders to fill
    contracted = dict(
        re.findall(r"^\| `(\w+FunctionArn)` \| `([\w.]+)` \|", CONTRACTS.read_text(), re.MULTILINE)
    )
    assert set(contracted) == placeholders()
    functions = synthesized.of_type("AWS::Lambda::Function")
    for placeholder, value in substitutions.items():
        logical_id, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn"
        assert functions[logical_id]["Properties"]["Handler"] == contracted[placeholder]


def test_state_machine_is_standard_logs_all_events_without_data_and_traces(synthesized):
    synthesized.template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": {
                "Level": "ALL",
                # Execution data would put the approval task token into the logs.
                "IncludeExecutionData": False,
                "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": Match.any_value()}}],
            },
        },
    )


def test_state_machine_invokes_exactly_the_substituted_functions(synthesized):
    (machine,) = synthesized.of_type("AWS::StepFunctions::StateMachine").values()
    substituted = sorted(
        render_cfn_value(v) for v in machine["Properties"]["DefinitionSubstitutions"].values()
    )
    role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    invoked = actions_on(statements_of(synthesized, role), "lambda:InvokeFunction")
    assert sorted(invoked) == substituted
