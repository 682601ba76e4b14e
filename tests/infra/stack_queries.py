"""Queries on the synthesized template that the stack tests share: roles and their statements,
functions by spec, environments, queues, alarms."""

from __future__ import annotations

import json
from typing import Any

from infra import constants
from infra.nag import render_cfn_value

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
    "RDS lists no resource type for what ValidateRequest reads before approval": {
        "rds:DescribeAccountAttributes",
        "rds:DescribeDBEngineVersions",
        "rds:DescribeOrderableDBInstanceOptions",
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


def rds_actions(statements) -> set[str]:
    return {
        action
        for statement in statements
        for action in as_list(statement["Action"])
        if action.startswith("rds:")
    }


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


def env_of(synthesized, spec) -> dict[str, Any]:
    return dict(function_named(synthesized, spec)[1]["Properties"]["Environment"]["Variables"])


def settings_keys(env: dict[str, Any]) -> set[str]:
    return {
        k.removeprefix("AURORA_RESTORE_").lower() for k in env if k.startswith("AURORA_RESTORE_")
    }


def required(model) -> set[str]:
    return {name for name, field in model.model_fields.items() if field.is_required()}


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
