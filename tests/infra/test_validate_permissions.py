"""What ValidateRequest may call to prove a restore before approval (pipeline.prechecks), and the
snapshot patterns it checks against: the same patterns its sibling roles are granted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack

from infra import constants
from infra.config import EXAMPLE_CONFIG, load_config
from infra.permissions import RdsPermissions
from pipeline.settings import PipelineSettings
from tests.infra.stack_queries import as_list, env_of, rds_actions, statements_of

pytestmark = pytest.mark.infra
KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
SOURCE_KEY = "arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000"


def test_the_validate_role_reads_what_the_prechecks_read_and_changes_nothing(synthesized):
    statements = statements_of(synthesized, f"{constants.VALIDATE.construct_id}Role")
    assert rds_actions(statements) == {
        "rds:DescribeDBClusters",
        "rds:DescribeDBClusterSnapshots",
        "rds:DescribeDBInstances",
        "rds:DescribeAccountAttributes",
        "rds:DescribeDBEngineVersions",
        "rds:DescribeOrderableDBInstanceOptions",
    }
    # The example configuration names no parameter group and no key: nothing to describe.
    assert not any(s.get("Sid") == "DescribeParameterGroup" for s in statements)
    assert not any(s.get("Sid") == "DescribeSnapshotKeys" for s in statements)


def test_every_pipeline_function_knows_the_snapshot_patterns_the_roles_are_granted(
    synthesized, monkeypatch: pytest.MonkeyPatch
):
    patterns = synthesized.config.rds.snapshot_patterns
    for spec in (constants.VALIDATE, constants.COPY_SNAPSHOT, constants.RESTORE_CLUSTER):
        env = env_of(synthesized, spec)
        assert json.loads(env[constants.Env.SNAPSHOT_PATTERNS]) == patterns
    # Read at cold start as the deployed function reads it (the other values are CloudFormation
    # references in the template: plain stand-ins here).
    monkeypatch.setenv(constants.Env.OPERATIONS_TABLE, "operations")
    monkeypatch.setenv(constants.Env.AUDIT_TABLE, "audit")
    monkeypatch.setenv(constants.Env.PROGRESS_TOPIC_ARN, "arn:aws:sns:us-east-1:123456789012:p")
    snapshot_patterns = env_of(synthesized, constants.VALIDATE)[constants.Env.SNAPSHOT_PATTERNS]
    monkeypatch.setenv(constants.Env.SNAPSHOT_PATTERNS, snapshot_patterns)
    assert PipelineSettings().snapshot_patterns == patterns


def _validate_statements(**rds: Any) -> list[dict[str, Any]]:
    config = load_config(EXAMPLE_CONFIG)
    config = config.model_copy(update={"rds": config.rds.model_copy(update=rds)})
    stack = Stack(App(), "Probe")
    permissions = RdsPermissions(stack, config, "restore-subnets")
    return [stack.resolve(statement.to_statement_json()) for statement in permissions.validate()]


def test_a_configured_parameter_group_and_keys_are_described_by_name_only():
    statements = {
        s["Sid"]: s
        for s in _validate_statements(
            db_cluster_parameter_group="restore-params",
            kms_key_arn=KEY,
            source_kms_key_arns=[SOURCE_KEY],
        )
    }

    group = statements["DescribeParameterGroup"]
    assert as_list(group["Action"]) == ["rds:DescribeDBClusterParameterGroups"]
    (resource,) = as_list(group["Resource"])
    assert json.dumps(resource).endswith(':cluster-pg:restore-params"]]}')
    keys = statements["DescribeSnapshotKeys"]
    assert as_list(keys["Action"]) == ["kms:DescribeKey"]
    assert sorted(as_list(keys["Resource"])) == sorted([KEY, SOURCE_KEY])
    assert "Condition" not in keys  # called directly, not through RDS
    assert statements["ProveRestorable"]["Resource"] == "*"
