"""Assertions on the synthesized template: encryption, scoping, wiring, alarms, cdk-nag."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match
from cdk_nag import AwsSolutionsChecks

from bot.settings import BotSettings
from infra import constants
from infra.nag import render_cfn_value
from pipeline.database.connection import rds_ca_bundle_problem
from pipeline.settings import PipelineSettings
from pipeline.statemachine import placeholders
from pipeline.store_schema import (
    TTL_ATTRIBUTE,
    audit_table_definition,
    operations_table_definition,
)

pytestmark = pytest.mark.infra
CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"

# The only statements that may say `Resource: "*"`: AWS offers no resource ARN for these actions.
UNSCOPABLE = {
    "X-Ray segments and sampling have no resource-level permissions": {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    },
    "CloudWatch Logs vended log delivery (state machine logging) is account-level": {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    },
    "Lambda's VPC network interfaces are managed through EC2 actions without resource scoping": {
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    },
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_of(synthesized, role_prefix: str | None = None) -> list[dict[str, Any]]:
    """Every statement of every identity policy (resource policies such as the key's are not
    identity policies: their `*` means the resource itself)."""
    found = []
    for name, policy in synthesized.of_type("AWS::IAM::Policy").items():
        roles = [ref["Ref"] for ref in policy["Properties"].get("Roles", [])]
        if (
            role_prefix
            and not any(role.startswith(role_prefix) for role in roles)
            and not name.startswith(role_prefix)
        ):
            continue
        found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    for name, role in synthesized.of_type("AWS::IAM::Role").items():
        if role_prefix and not name.startswith(role_prefix):
            continue
        for inline in role["Properties"].get("Policies", []):
            found.extend(inline["PolicyDocument"]["Statement"])
    return found


def actions_on(statements, action: str) -> list[str]:
    return [
        render_cfn_value(resource)
        for statement in statements
        if action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]


def function_named(synthesized, spec: constants.FunctionSpec) -> tuple[str, dict[str, Any]]:
    (match,) = [
        (name, fn)
        for name, fn in synthesized.of_type("AWS::Lambda::Function").items()
        if fn["Properties"]["Handler"] == spec.handler
    ]
    return match


# Data


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


# State machine


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


# IAM


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
    for action in ("rds:DeleteDBCluster", "rds:ModifyDBCluster"):
        clusters = [r for r in actions_on(statements, action) if ":cluster:" in r]
        assert sorted({c.rsplit(":", 1)[1] for c in clusters}) == sorted(
            rds.target_cluster_patterns
        )
    deletes = actions_on(statements, "rds:DeleteDBClusterSnapshot")
    assert deletes and all(r.endswith(":cluster-snapshot:ar-*-copy") for r in deletes)


@pytest.mark.parametrize(
    ("spec", "allowed_rds"),
    [
        (constants.LIFECYCLE, set()),
        (constants.FINISH, set()),
        (constants.CHECK_RESTORE, set()),
        (constants.DELETE_COPY, {"rds:DeleteDBClusterSnapshot"}),
        (constants.SETUP_DATABASE, {"rds:ModifyDBCluster"}),
        (
            constants.DELETE_TARGET,
            {"rds:DeleteDBInstance", "rds:DeleteDBCluster", "rds:CreateDBClusterSnapshot"},
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


def rds_actions(statements) -> set[str]:
    return {
        action
        for statement in statements
        for action in as_list(statement["Action"])
        if action.startswith("rds:")
    }


def test_the_slack_endpoint_reads_what_resolving_a_plan_reads_and_no_bot_role_changes_rds(
    synthesized,
):
    # /restore resolves the plan in the endpoint (bot.restore_flow -> pipeline.plan):
    # without these every request fails on AWS with AccessDenied.
    endpoint = statements_of(synthesized, "SlackEndpoint")
    assert rds_actions(endpoint) == {"rds:DescribeDBClusterSnapshots", "rds:DescribeDBClusters"}
    regions = {"<AWS.Region>", *synthesized.config.rds.source_regions}
    for action, kinds in (
        ("rds:DescribeDBClusters", {"cluster"}),
        ("rds:DescribeDBClusterSnapshots", {"cluster", "cluster-snapshot"}),
    ):
        resources = [r.replace("AWS::", "AWS.") for r in actions_on(endpoint, action)]
        assert "*" not in resources
        # Read-only, so any name, but only RDS resources of this account and the source regions.
        assert {r.split(":")[5] for r in resources} == kinds
        assert all(r.split(":")[4] == "<AWS.AccountId>" for r in resources)
        assert {r.split(":")[3] for r in resources} == regions
    for spec in (constants.REQUEST_APPROVAL, constants.NOTIFIER):
        statements = statements_of(synthesized, f"{spec.construct_id}Role")
        assert statements
        assert rds_actions(statements) == set(), spec


def roles_and_statements(synthesized) -> dict[str, list[dict[str, Any]]]:
    """Every role of the template -> the statements of every identity policy attached to it."""
    found: dict[str, list[dict[str, Any]]] = {
        name: [
            statement
            for inline in role["Properties"].get("Policies", [])
            for statement in inline["PolicyDocument"]["Statement"]
        ]
        for name, role in synthesized.of_type("AWS::IAM::Role").items()
    }
    # CDK moves statements past a role's size limit into managed policies naming the role.
    for policy_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for policy in synthesized.of_type(policy_type).values():
            for ref in policy["Properties"].get("Roles", []):
                found[ref["Ref"]].extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def actions_on_table(statements, table_id: str) -> set[str]:
    """The actions granted on a table or its indexes (a wildcard action counts as itself)."""
    return {
        action
        for statement in statements
        if statement["Effect"] == "Allow"
        and any(
            table_id in json.dumps(resource) or resource == "*"
            for resource in as_list(statement["Resource"])
        )
        for action in as_list(statement["Action"])
        if action.startswith("dynamodb:") or action == "*"
    }


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
    shipped = synthesized.stack._database_files()[constants.CA_BUNDLE_ASSET]
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


# Functions


def test_every_function_is_current_python_arm64_traced_with_json_logs_kept_for_a_while(synthesized):
    functions = synthesized.of_type("AWS::Lambda::Function")
    assert len(functions) == len(constants.ALL_FUNCTIONS)
    log_groups = synthesized.of_type("AWS::Logs::LogGroup")
    layer = next(iter(synthesized.of_type("AWS::Lambda::LayerVersion")))
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.14"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Layers"][0] == {"Ref": layer}  # the bot's also get the secrets extension
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        group = log_groups[props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] == synthesized.config.log_retention_days
    roles = {fn["Properties"]["Role"]["Fn::GetAtt"][0] for fn in functions.values()}
    assert len(roles) == len(functions)  # a role per function


def env_of(synthesized, spec) -> dict[str, Any]:
    return dict(function_named(synthesized, spec)[1]["Properties"]["Environment"]["Variables"])


def settings_keys(env: dict[str, Any]) -> set[str]:
    return {
        k.removeprefix("AURORA_RESTORE_").lower() for k in env if k.startswith("AURORA_RESTORE_")
    }


def required(model) -> set[str]:
    return {name for name, field in model.model_fields.items() if field.is_required()}


def test_function_environments_are_the_settings_the_code_reads(synthesized):
    pipeline_fields = set(PipelineSettings.model_fields)
    for spec in constants.STAGE_FUNCTIONS:
        keys = settings_keys(env_of(synthesized, spec))
        assert keys <= pipeline_fields, keys - pipeline_fields
        assert required(PipelineSettings) <= keys
    bot_fields = set(BotSettings.field_names())
    for spec in (constants.SLACK_ENDPOINT, constants.REQUEST_APPROVAL, constants.NOTIFIER):
        keys = settings_keys(env_of(synthesized, spec))
        assert keys <= pipeline_fields | bot_fields, keys - pipeline_fields - bot_fields
        assert BotSettings.required_field_names() | required(PipelineSettings) <= keys
        assert "policy_parameter" in keys and "bot_token_secret_arn" in keys
        # Only the local stack points the bot at an emulated Slack, or at its response_urls.
        assert not keys & {"slack_api_url", "response_url_base", "aws_endpoint_url"}, keys
    assert (
        env_of(synthesized, constants.SETUP_DATABASE)["POWERTOOLS_TRACER_CAPTURE_RESPONSE"]
        == "false"
    )


# Slack endpoint


def test_the_slack_endpoint_is_throttled_access_logged_and_traced(synthesized):
    api = synthesized.config.api
    synthesized.template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {
                            "ThrottlingRateLimit": api.rate_limit,
                            "ThrottlingBurstLimit": api.burst_limit,
                            "DataTraceEnabled": False,
                        }
                    )
                ]
            ),
        },
    )
    endpoint, _ = function_named(synthesized, constants.SLACK_ENDPOINT)
    synthesized.template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {
            "HttpMethod": "POST",
            "Integration": Match.object_like({"Type": "AWS_PROXY"}),
        },
    )
    assert endpoint in json.dumps(synthesized.of_type("AWS::ApiGateway::Method"))


# Progress delivery


def queue_id(reference: dict[str, Any]) -> str:
    """The queue's logical id from `{"Fn::GetAtt": [id, "Arn"]}`."""
    logical_id, attribute = reference["Fn::GetAtt"]
    assert attribute == "Arn"
    return str(logical_id)


def progress_queues(synthesized) -> dict[str, str]:
    """Consuming function's logical id -> the queue its event source reads."""
    return {
        mapping["Properties"]["FunctionName"]["Ref"]: queue_id(
            mapping["Properties"]["EventSourceArn"]
        )
        for mapping in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()
    }


def test_progress_is_a_fifo_topic_feeding_one_fifo_queue_per_consumer(synthesized):
    topic_id = synthesized.logical_id(synthesized.stack.progress_topic)
    topic = synthesized.resources[topic_id]["Properties"]
    assert topic["FifoTopic"] is True
    assert topic["TopicName"].endswith(".fifo")  # what pipeline.progress keys FIFO on
    subscriptions = [
        s["Properties"]
        for s in synthesized.of_type("AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": topic_id}
    ]
    # Lambda cannot subscribe to a FIFO topic: every consumer reads a raw-delivery queue.
    assert {s["Protocol"] for s in subscriptions} == {"sqs"}
    assert all(s["RawMessageDelivery"] is True for s in subscriptions)
    consumers = progress_queues(synthesized)
    notifier, _ = function_named(synthesized, constants.NOTIFIER)
    metrics, _ = function_named(synthesized, constants.PROGRESS_METRICS)
    assert set(consumers) == {notifier, metrics}
    assert sorted(queue_id(s["Endpoint"]) for s in subscriptions) == sorted(consumers.values())
    env = env_of(synthesized, constants.RESTORE_CLUSTER)
    assert env["AURORA_RESTORE_PROGRESS_TOPIC_ARN"] == {"Ref": topic_id}


@pytest.mark.parametrize("spec", [constants.NOTIFIER, constants.PROGRESS_METRICS])
def test_progress_queues_keep_messages_through_long_outages_then_dead_letter_them(
    synthesized, spec
):
    key = {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.key), "Arn"]}
    function_id, function = function_named(synthesized, spec)
    queue = synthesized.resources[progress_queues(synthesized)[function_id]]["Properties"]
    assert queue["FifoQueue"] is True and queue["KmsMasterKeyId"] == key
    assert queue["MessageRetentionPeriod"] == 4 * 24 * 3600
    timeout = function["Properties"]["Timeout"]
    # Retries are spaced by the visibility timeout (at least 6x the function's timeout, as the
    # SQS event source asks) and outlast a Slack outage of hours before dead-lettering.
    assert queue["VisibilityTimeout"] >= 6 * timeout
    redrive = queue["RedrivePolicy"]
    assert redrive["maxReceiveCount"] >= 50
    assert redrive["maxReceiveCount"] * queue["VisibilityTimeout"] >= 6 * 3600
    dead_letters = synthesized.resources[queue_id(redrive["deadLetterTargetArn"])]["Properties"]
    assert dead_letters["FifoQueue"] is True and dead_letters["KmsMasterKeyId"] == key
    assert dead_letters["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_the_notifier_reports_batch_item_failures_in_small_bounded_batches(synthesized):
    notifier, _ = function_named(synthesized, constants.NOTIFIER)
    (mapping,) = [
        m["Properties"]
        for m in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": notifier}
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= mapping["BatchSize"] <= 10  # the most a FIFO queue hands out at once
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == constants.NOTIFIER_MAX_CONCURRENCY


def test_progress_queues_refuse_plain_http_and_take_messages_only_from_the_topic(synthesized):
    topic = {"Ref": synthesized.logical_id(synthesized.stack.progress_topic)}
    queues = synthesized.of_type("AWS::SQS::Queue")
    # Two consumers, each with its dead-letter queue, and the lazy work's failure queue (which
    # takes messages from Lambda's destination, through the endpoint's role, not from the topic).
    assert len(queues) == 5
    policies = {
        p["Properties"]["Queues"][0]["Ref"]: p["Properties"]["PolicyDocument"]["Statement"]
        for p in synthesized.of_type("AWS::SQS::QueuePolicy").values()
    }
    assert set(policies) == set(queues)
    for queue, statements in policies.items():
        assert statements[0] == {
            "Action": "sqs:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": {"Fn::GetAtt": [queue, "Arn"]},
        }
        for statement in statements[1:]:
            assert statement["Action"] == "sqs:SendMessage"
            assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
            assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": topic}}


def test_the_policy_reaches_the_bot_as_a_parameter(synthesized):
    (parameter,) = synthesized.of_type("AWS::SSM::Parameter").values()
    assert parameter["Properties"]["Value"] == synthesized.config.policy_text()
    env = env_of(synthesized, constants.SLACK_ENDPOINT)
    assert env["AURORA_RESTORE_POLICY_PARAMETER"] == {
        "Ref": next(iter(synthesized.of_type("AWS::SSM::Parameter")))
    }


# Operations


def alarms_by_metric(synthesized) -> dict[str, list[dict[str, Any]]]:
    """Metric name -> the alarms reading it, each as {"alarm": properties, "dimensions": ...}."""
    found: dict[str, list[dict[str, Any]]] = {}
    for alarm in synthesized.of_type("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if "MetricName" in props:
            metrics = [(props["MetricName"], props.get("Dimensions"))]
        else:
            metrics = [
                (
                    m["MetricStat"]["Metric"]["MetricName"],
                    m["MetricStat"]["Metric"].get("Dimensions"),
                )
                for m in props["Metrics"]
                if "MetricStat" in m
            ]
        for name, dimensions in metrics:
            found.setdefault(name, []).append({"alarm": props, "dimensions": dimensions})
    return found


def test_every_alarm_notifies_the_operator_topic(synthesized):
    topic = {"Ref": synthesized.logical_id(synthesized.stack.operator_topic)}
    alarms = synthesized.of_type("AWS::CloudWatch::Alarm")
    assert alarms
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [topic]
        assert alarm["Properties"]["AlarmDescription"]


def test_alarms_cover_executions_functions_and_waiting_approvals(synthesized):
    alarms = alarms_by_metric(synthesized)
    assert {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"} <= set(alarms)
    (failed,) = alarms["ExecutionsFailed"]
    expression = next(m["Expression"] for m in failed["alarm"]["Metrics"] if "Expression" in m)
    assert "denied" in expression and "expired" in expression and "cancelled" in expression
    expired = [
        entry
        for entry in alarms[constants.RESTORE_OUTCOME_METRIC]
        if entry["dimensions"] == [{"Name": constants.OUTCOME_DIMENSION, "Value": "EXPIRED"}]
        and len(entry["alarm"]["Metrics"]) == 1
    ]
    assert len(expired) == 1  # approvals left waiting until they expired
    assert len(alarms["Errors"]) == len(constants.ALL_FUNCTIONS)
    assert len(alarms["Throttles"]) == len(constants.ALL_FUNCTIONS)


def test_a_message_in_a_dead_letter_queue_alarms_the_operator(synthesized):
    dead_letter_ids = {
        queue_id(queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for queue in synthesized.of_type("AWS::SQS::Queue").values()
        if "RedrivePolicy" in queue["Properties"]
    }
    assert len(dead_letter_ids) == 2
    watched = set()
    for entry in alarms_by_metric(synthesized)["ApproximateNumberOfMessagesVisible"]:
        alarm = entry["alarm"]
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        (dimension,) = entry["dimensions"]
        assert dimension["Name"] == "QueueName"
        watched.add(dimension["Value"]["Fn::GetAtt"][0])
    lazy_failures = synthesized.logical_id(synthesized.stack.lazy_work_failures)
    assert watched == dead_letter_ids | {lazy_failures}


def test_the_dashboard_shows_outcomes_stage_durations_and_approval_latency(synthesized):
    (dashboard,) = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    body = render_cfn_value(dashboard["Properties"]["DashboardBody"])
    assert "Restores by outcome" in body and '"Outcome","SUCCEEDED"' in body
    assert "Stage duration" in body and '"Stage","restore_cluster"' in body
    assert "Approval latency" in body and '"Stage","approval"' in body


# cdk-nag and synthesis


def test_cdk_nag_reports_nothing_unacknowledged(synthesized):
    report = AwsSolutionsChecks(synthesized.app).validate_scope(synthesized.app)
    findings = [
        f"{violation.rule_name}: {violation.description}" for violation in report.violations
    ]
    assert findings == []
    annotations = Annotations.from_stack(synthesized.stack)
    assert annotations.find_error("*", Match.any_value()) == []
    assert annotations.find_warning("*", Match.any_value()) == []


def test_every_acknowledgement_carries_a_reason(synthesized):
    acknowledged = 0
    for construct in synthesized.stack.node.find_all():
        for entry in construct.node.metadata:
            if "acknowledge" in str(entry.type).lower():
                for rule, reason in dict(entry.data).items():
                    acknowledged += 1
                    assert isinstance(reason, str) and len(reason) > 30, rule
    assert acknowledged > 0


def test_the_cloud_assembly_is_written_offline_and_environment_agnostic(synthesized):
    template = json.loads((synthesized.outdir / "AuroraRestore.template.json").read_text())
    assert "Resources" in template
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
    assert (
        manifest["artifacts"]["AuroraRestore"]["environment"]
        == "aws://unknown-account/unknown-region"
    )


def test_lazy_work_that_fails_every_attempt_is_kept_and_alarms(synthesized):
    # Bolt's lazy listeners are asynchronous self-invocations: after Lambda's retries, the
    # record goes to an encrypted queue instead of being dropped, and that queue alarms.
    (config,) = synthesized.of_type("AWS::Lambda::EventInvokeConfig").values()
    props = config["Properties"]
    endpoint, _ = function_named(synthesized, constants.SLACK_ENDPOINT)
    assert props["FunctionName"] == {"Ref": endpoint}
    assert props["MaximumRetryAttempts"] == constants.LAZY_RETRY_ATTEMPTS
    assert props["MaximumEventAgeInSeconds"] == constants.LAZY_MAX_EVENT_AGE_SECONDS
    queue_id = synthesized.logical_id(synthesized.stack.lazy_work_failures)
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [queue_id, "Arn"]
    }
    queue = synthesized.resources[queue_id]["Properties"]
    assert queue["KmsMasterKeyId"] == {
        "Fn::GetAtt": [synthesized.logical_id(synthesized.stack.key), "Arn"]
    }
    assert actions_on(statements_of(synthesized, "SlackEndpointRole"), "sqs:SendMessage") == [
        f"<{queue_id}.Arn>"
    ]
    alarms = [
        alarm["Properties"]
        for alarm in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Dimensions")
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    ]
    assert len(alarms) == 1
    operator = synthesized.logical_id(synthesized.stack.operator_topic)
    assert alarms[0]["AlarmActions"] == [{"Ref": operator}]
