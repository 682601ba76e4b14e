"""Least-privilege IAM in the synthesized template: each role holds only what its code calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import constants
from infra.functions import database_files
from pipeline.database.connection import rds_ca_bundle_problem
from tests.infra.stack_queries import (
    UNSCOPABLE,
    actions_on,
    actions_on_table,
    as_list,
    env_of,
    function_named,
    rds_actions,
    roles_and_statements,
    statements_of,
)

pytestmark = pytest.mark.infra
CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"


def test_no_rds_star_and_no_resource_star_outside_the_reasoned_allow_list(synthesized):
    statements = statements_of(synthesized)
    assert statements
    for statement in statements:
        actions = set(as_list(statement["Action"]))
        assert not any(a == "*" or a.endswith(":*") for a in actions), statement
        assert "rds:*" not in actions
        if "*" in as_list(statement["Resource"]):
            assert any(actions <= allowed for allowed in UNSCOPABLE.values()), statement


def test_rds_changes_are_scoped_to_the_configured_patterns(synthesized):
    rds = synthesized.config.rds
    statements = statements_of(synthesized)
    mutating = {
        action
        for statement in statements
        for action in as_list(statement["Action"])
        if action.startswith("rds:") and not action.startswith("rds:Describe")
    }
    assert mutating >= {
        "rds:CopyDBClusterSnapshot",
        "rds:DeleteDBCluster",
        "rds:DeleteDBInstance",
        "rds:RestoreDBClusterFromSnapshot",
        "rds:CreateDBInstance",
        "rds:ModifyDBCluster",
        "rds:DeleteDBClusterSnapshot",
    }
    for action in mutating:
        for resource in actions_on(statements, action):
            name = resource.split(":", 6)[6]
            assert not resource.endswith((":cluster:*", ":db:*", ":cluster-snapshot:*")), (
                action,
                resource,
            )
            assert name.split(":", 1)[1] != "*", (action, resource)
    clusters = [r for r in actions_on(statements, "rds:DeleteDBCluster") if ":cluster:" in r]
    # The targets (an in-place replace) and, once their retention ends, the kept clusters.
    assert {c.rsplit(":", 1)[1] for c in clusters} == {
        name for pattern in rds.target_cluster_patterns for name in (pattern, f"{pattern}-old-*")
    }
    # Renames and the master password reach the staging and kept names of the targets too
    # (pipeline.swap_plan), and nothing else.
    derived = {
        name
        for pattern in rds.target_cluster_patterns
        for name in (pattern, f"{pattern}-new-*", f"{pattern}-old-*")
    }
    modified = [r for r in actions_on(statements, "rds:ModifyDBCluster") if ":cluster:" in r]
    assert {c.rsplit(":", 1)[1] for c in modified} == derived
    kept = {f"{pattern}-old-*" for pattern in rds.target_cluster_patterns}
    stopped = [r for r in actions_on(statements, "rds:StopDBCluster") if ":cluster:" in r]
    assert {c.rsplit(":", 1)[1] for c in stopped} == kept
    # A rollback starts only a kept cluster, and untags only the target it brought it back as.
    started = [r for r in actions_on(statements, "rds:StartDBCluster") if ":cluster:" in r]
    assert {c.rsplit(":", 1)[1] for c in started} == kept
    untagged = actions_on(statements, "rds:RemoveTagsFromResource")
    assert {c.rsplit(":", 1)[1] for c in untagged} == set(rds.target_cluster_patterns)
    deletes = actions_on(statements, "rds:DeleteDBClusterSnapshot")
    # Own copies; the retention sweep's own final and safety snapshots (pipeline.retention).
    assert {r.rsplit(":", 1)[1] for r in deletes} == {
        "ar-*-copy",
        *(
            name
            for pattern in rds.target_cluster_patterns
            for name in (
                f"{pattern}-final-ar-*",
                f"{pattern}-before-*",
                f"{pattern}-old-*-final-ar-*",
            )
        ),
    }
    started = [r for r in actions_on(statements, "rds:StartDBCluster") if ":cluster:" in r]
    assert {c.rsplit(":", 1)[1] for c in started} == {
        f"{pattern}-old-*" for pattern in rds.target_cluster_patterns
    }


@pytest.mark.parametrize(
    ("spec", "allowed_rds"),
    [
        # RecordFailure deletes the copy the failed restore started (pipeline.copy_cleanup).
        (constants.LIFECYCLE, {"rds:DeleteDBClusterSnapshot"}),
        (constants.FINISH, set()),
        (constants.CHECK_RESTORE, set()),
        (constants.DELETE_COPY, {"rds:DeleteDBClusterSnapshot"}),
        # A copy it started after the restore was cancelled: it deletes that copy itself.
        (
            constants.COPY_SNAPSHOT,
            {"rds:CopyDBClusterSnapshot", "rds:AddTagsToResource", "rds:DeleteDBClusterSnapshot"},
        ),
        (constants.SETUP_DATABASE, {"rds:ModifyDBCluster"}),
        (
            constants.DELETE_TARGET,
            {
                "rds:DeleteDBInstance",
                "rds:DeleteDBCluster",
                "rds:CreateDBClusterSnapshot",
                "rds:AddTagsToResource",  # the safety snapshot's operation tags
            },
        ),
        (
            constants.RETENTION_SWEEP,
            {
                "rds:StartDBCluster",
                "rds:DeleteDBInstance",
                "rds:DeleteDBCluster",
                "rds:CreateDBClusterSnapshot",
                "rds:AddTagsToResource",  # the deletion notice, the final snapshot's operation
                "rds:DeleteDBClusterSnapshot",
            },
        ),
        (
            constants.SWAP_NAMES,
            {
                "rds:ModifyDBCluster",
                "rds:ModifyDBInstance",
                "rds:StopDBCluster",
                "rds:AddTagsToResource",
                "rds:StartDBCluster",  # a rollback's kept cluster
                "rds:RemoveTagsFromResource",  # its kept tags, once it is the target again
            },
        ),
    ],
)
def test_each_stage_role_holds_only_its_own_rds_changes(synthesized, spec, allowed_rds):
    statements = statements_of(synthesized, f"{spec.construct_id}Role")
    changes = {
        action
        for statement in statements
        for action in as_list(statement["Action"])
        if action.startswith("rds:") and not action.startswith("rds:Describe")
    }
    assert changes == allowed_rds


def test_the_slack_endpoint_reads_what_resolving_a_plan_reads_and_deletes_only_own_copies(
    synthesized,
):
    # /restore resolves the plan in the endpoint (bot.restore_flow -> pipeline.plan):
    # without these every request fails on AWS with AccessDenied.
    endpoint = statements_of(synthesized, "SlackEndpoint")
    assert rds_actions(endpoint) == {
        "rds:DescribeDBClusterSnapshots",
        "rds:DescribeDBClusters",
        "rds:DescribeDBInstances",  # a rollback's plan shows the kept cluster's instance class
        "rds:DeleteDBClusterSnapshot",  # a cancel deletes the copy of the running restore
    }
    deletes = actions_on(endpoint, "rds:DeleteDBClusterSnapshot")
    assert deletes and all(r.endswith(":cluster-snapshot:ar-*-copy") for r in deletes)
    regions = {"<AWS.Region>", *synthesized.config.rds.source_regions}
    for action, kinds in (
        ("rds:DescribeDBClusters", {"cluster"}),
        ("rds:DescribeDBClusterSnapshots", {"cluster", "cluster-snapshot"}),
        ("rds:DescribeDBInstances", {"db"}),
    ):
        resources = [r.replace("AWS::", "AWS.") for r in actions_on(endpoint, action)]
        assert "*" not in resources
        # Read-only, so any name, but only RDS resources of this account (and for snapshots
        # and clusters the source regions; a kept cluster is in the target's region).
        assert {r.split(":")[5] for r in resources} == kinds
        assert all(r.split(":")[4] == "<AWS.AccountId>" for r in resources)
        wanted = {"<AWS.Region>"} if kinds == {"db"} else regions
        assert {r.split(":")[3] for r in resources} == wanted
    for spec in (constants.REQUEST_APPROVAL, constants.NOTIFIER):
        statements = statements_of(synthesized, f"{spec.construct_id}Role")
        assert statements
        assert rds_actions(statements) == set(), spec


def test_the_audit_table_is_append_only_for_every_role(synthesized):
    audit = synthesized.logical_id(synthesized.stack.audit_table)
    roles = roles_and_statements(synthesized)
    function_roles = {
        spec: function_named(synthesized, spec)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
        for spec in constants.ALL_FUNCTIONS
    }
    expected = {role: set() for role in roles}
    for spec in constants.STAGE_FUNCTIONS:
        expected[function_roles[spec]] = {"dynamodb:PutItem"}
    # The database stage reads its own events back: a retry skips scripts already applied.
    expected[function_roles[constants.SETUP_DATABASE]] = {"dynamodb:PutItem", "dynamodb:Query"}
    expected[function_roles[constants.RETENTION_SWEEP]] = {"dynamodb:PutItem"}
    expected[function_roles[constants.SLACK_ENDPOINT]] = {"dynamodb:PutItem"}
    # The approval stage's started/finished events are audited (pipeline.progress.Reporter).
    expected[function_roles[constants.REQUEST_APPROVAL]] = {"dynamodb:PutItem"}
    granted = {role: actions_on_table(statements, audit) for role, statements in roles.items()}
    assert granted == expected
    for role, actions in granted.items():
        assert not actions & {
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:PartiQLUpdate",
            "dynamodb:PartiQLDelete",
            "dynamodb:DeleteTable",
            "dynamodb:*",
            "*",
        }, role


def test_the_retention_sweep_runs_hourly_and_deletes_only_kept_names(synthesized):
    rules = synthesized.of_type("AWS::Events::Rule")
    (rule,) = [r for r in rules.values() if "ScheduleExpression" in r["Properties"]]
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    sweep, _ = function_named(synthesized, constants.RETENTION_SWEEP)
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [sweep, "Arn"]}
    statements = statements_of(synthesized, f"{constants.RETENTION_SWEEP.construct_id}Role")
    patterns = synthesized.config.rds.target_cluster_patterns
    for action, suffix in (
        ("rds:DeleteDBInstance", "-old-*-*"),
        ("rds:StartDBCluster", "-old-*"),
    ):
        names = {r.rsplit(":", 1)[1] for r in actions_on(statements, action)}
        assert names == {f"{pattern}{suffix}" for pattern in patterns}, action


def test_slack_endpoint_drives_this_state_machine_and_invokes_only_itself(synthesized):
    statements = statements_of(synthesized, "SlackEndpoint")
    machine = synthesized.logical_id(synthesized.stack.state_machine)
    assert actions_on(statements, "states:StartExecution") == [f"<{machine}>"]
    assert actions_on(statements, "states:SendTaskSuccess") == [f"<{machine}>"]
    assert actions_on(statements, "states:SendTaskFailure") == [f"<{machine}>"]
    (stop,) = actions_on(statements, "states:StopExecution")
    assert ":execution:" in stop and machine in stop
    endpoint, _ = function_named(synthesized, constants.SLACK_ENDPOINT)
    assert actions_on(statements, "lambda:InvokeFunction") == [f"<{endpoint}.Arn>"]
    for spec in constants.ALL_FUNCTIONS:
        if spec is not constants.SLACK_ENDPOINT:
            others = statements_of(synthesized, f"{spec.construct_id}Role")
            assert not actions_on(others, "lambda:InvokeFunction"), spec
            assert not actions_on(others, "states:StartExecution"), spec
            assert not actions_on(others, "states:SendTaskSuccess"), spec


def test_request_approval_answers_only_this_state_machine(synthesized):
    statements = statements_of(synthesized, "RequestApprovalRole")
    name = synthesized.stack.state_machine_name
    machine = f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:{name}"
    assert actions_on(statements, "states:SendTaskFailure") == [machine]
    (deployed,) = synthesized.of_type("AWS::StepFunctions::StateMachine").values()
    assert deployed["Properties"]["StateMachineName"] == name


def test_setup_database_runs_in_the_vpc_with_its_secret_prefix_only(synthesized):
    _, function = function_named(synthesized, constants.SETUP_DATABASE)
    network = synthesized.config.network
    assert function["Properties"]["VpcConfig"] == {
        "SubnetIds": [subnet.id for subnet in network.subnets],
        "SecurityGroupIds": network.function_security_group_ids,
    }
    env = env_of(synthesized, constants.SETUP_DATABASE)
    assert env["AURORA_RESTORE_DATABASE_CONFIG_PATH"] == (
        "/var/task/database-config/database.example.yaml"
    )
    # TLS is on (the settings' default) and the RDS CA bundle travels with the code.
    assert "AURORA_RESTORE_DB_TLS" not in env
    assert env["AURORA_RESTORE_DB_CA_BUNDLE_PATH"] == f"/var/task/{constants.CA_BUNDLE_ASSET}"
    shipped = database_files(synthesized.stack)[constants.CA_BUNDLE_ASSET]
    assert rds_ca_bundle_problem(shipped) is None
    key = synthesized.logical_id(synthesized.stack.key)
    assert env["AURORA_RESTORE_SECRETS_KMS_KEY_ID"] == {"Fn::GetAtt": [key, "Arn"]}
    statements = statements_of(synthesized, "SetupDatabaseRole")
    for action in (
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:GetSecretValue",
        "secretsmanager:RestoreSecret",
    ):
        assert actions_on(statements, action) == [
            "arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:aurora-restore/*"
        ]
