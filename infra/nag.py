"""cdk-nag (v3) acknowledgements, each with the reason it is acceptable here.

cdk-nag 3 acknowledges each finding individually (`AwsSolutions-IAM5[Resource::...]`), with no
prefix matching. Wildcards in IAM policies are therefore acknowledged per policy and per finding,
and only when `_wildcard_reason` knows why that kind of wildcard is needed: any new, unexplained
wildcard stays a finding and fails the synth.
"""

from __future__ import annotations

import json
from typing import Any

import jsii
from aws_cdk import Acknowledgment, AspectPriority, Aspects, IAspect, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import IConstruct

from infra.iam_actions import LAMBDA_VPC_ACTIONS, PRECHECK_ACTIONS

XRAY_ACTIONS = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    }
)
# What CDK grants a state machine for vended log delivery; AWS does not scope these actions.
LOG_DELIVERY_ACTIONS = frozenset(
    {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
)
# The only statements allowed `Resource: "*"`, and why: AWS offers no resource to scope them to.
UNSCOPABLE_ACTIONS: dict[frozenset[str], str] = {
    XRAY_ACTIONS: "X-Ray trace and sampling APIs have no resource-level permissions",
    LOG_DELIVERY_ACTIONS: "CloudWatch Logs vended-delivery APIs have no resource-level "
    "permissions (Step Functions logging)",
    frozenset(LAMBDA_VPC_ACTIONS): "Lambda manages the set-up function's VPC network interfaces "
    "with its role; EC2 does not scope these actions (AWSLambdaVPCAccessExecutionRole, inline)",
    frozenset(PRECHECK_ACTIONS): "read-only RDS calls with no resource-level permissions "
    "(orderable instance classes, account quotas, engine versions) that ValidateRequest makes",
}
_KMS_KEY_ACTIONS = {"kms:ReEncrypt*", "kms:GenerateDataKey*"}
_PLAN_REASON = (
    "read-only Describe calls: /restore resolves the plan in the Slack endpoint and must see any "
    "cluster and snapshot of this account (and the source regions) to refuse unsafe requests"
)
_STATEMENT_REASONS = {
    "DescribeRds": "read-only Describe calls: validation must see any cluster, instance and "
    "snapshot of this account (and the source regions) to plan and to refuse unsafe requests",
    "ResolvePlanClusters": _PLAN_REASON,
    "ResolvePlanSnapshots": _PLAN_REASON,
    "ResolvePlanInstances": _PLAN_REASON,
    "CopySnapshot": "scoped to the configured source snapshot patterns and this pipeline's own "
    "copies (named after the operation id)",
    "TagCopy": "only this pipeline's own snapshot copies",
    "DeleteTargetInstances": "scoped to the configured target cluster and instance patterns",
    "DeleteTargetWithFinalSnapshot": "scoped to the configured target cluster patterns and their "
    "final snapshots (named after the target and the operation id)",
    "RestoreCluster": "scoped to the configured target, snapshot and parameter group names",
    "CreateInstances": "scoped to the configured target names; default parameter and option "
    "groups are named by engine version",
    "TagRestored": "scoped to the configured target cluster and instance patterns",
    "ResetMasterPassword": "scoped to the configured target cluster patterns",
    "DatabaseUserSecrets": "only secrets under the pipeline's own `aurora-restore/` prefix; one "
    "per database user of each restore, named at run time",
    "DeleteOwnCopies": "only this pipeline's own intermediate snapshot copies",
    "SnapshotTargetFirst": "scoped to the configured target cluster patterns and their safety "
    "snapshots (named after the target and the operation id)",
    "TagSafetySnapshot": "only the safety snapshots of the configured targets",
    "SwapClusterNames": "scoped to the configured target cluster patterns and the staging and "
    "kept names derived from them",
    "SwapInstanceNames": "scoped to the configured target cluster and instance patterns",
    "KeepOldCluster": "only the kept names derived from the configured target patterns (a "
    "rollback starts the kept cluster it swaps back)",
    "UntagRolledBackTarget": "only the configured target cluster patterns (the kept cluster a "
    "rollback brought back loses its kept tags)",
    "StartAndMarkKeptClusters": "only the kept names derived from the configured target patterns",
    "DeleteKeptInstances": "only the instances of the kept names derived from the configured "
    "target patterns",
    "DeleteKeptWithFinalSnapshot": "only the kept names derived from the configured target "
    "patterns and their final snapshots (named after the kept cluster and the operation id)",
    "ExpireOwnSnapshots": "only this pipeline's own final and safety snapshots (named after the "
    "target and the operation id), deleted or tagged (operation, deletion notice); the code also "
    "checks their operation tag",
    "PromoteCredentials": "only secrets under the pipeline's own `aurora-restore/` prefix, named "
    "at run time after the restored cluster and its users",
}


def render_cfn_value(value: Any) -> str:
    """A policy value as cdk-nag writes it in finding ids (`<Logical.Arn>`, `<AWS::Region>`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            return str(argument[0]).join(render_cfn_value(part) for part in argument[1])
    return json.dumps(value, separators=(",", ":"))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard_reason(statement: dict[str, Any], resource: str) -> str | None:
    actions = set(_as_list(statement.get("Action", [])))
    if resource == "*":
        for allowed, reason in UNSCOPABLE_ACTIONS.items():
            if actions <= allowed:
                return reason
        return None
    if statement.get("Sid") in _STATEMENT_REASONS:
        return str(_STATEMENT_REASONS[statement["Sid"]])
    if resource.endswith("/index/*") and all(action.startswith("dynamodb:") for action in actions):
        return "queries on the table's own global secondary indexes (pipeline.store_schema)"
    if ":execution:" in resource and actions == {"states:StopExecution"}:
        return "executions of this state machine only; their names are operation ids"
    return None


def _acknowledge_policy(stack: Stack, policy: iam.CfnPolicy | iam.CfnManagedPolicy) -> None:
    document = stack.resolve(policy.policy_document)
    acknowledgments: dict[str, str] = {}
    for statement in document["Statement"]:
        for resource in map(render_cfn_value, _as_list(statement["Resource"])):
            reason = _wildcard_reason(statement, resource) if "*" in resource else None
            if reason:
                acknowledgments[f"AwsSolutions-IAM5[Resource::{resource}]"] = reason
        for action in _as_list(statement["Action"]):
            if action in _KMS_KEY_ACTIONS:
                acknowledgments[f"AwsSolutions-IAM5[Action::{action}]"] = (
                    "CDK's KMS grant for the stack's data key (one key, not all keys): "
                    "DynamoDB, SNS and Secrets Manager generate and re-encrypt data keys with it"
                )
    _acknowledge(policy, acknowledgments)


def _acknowledge(construct: IConstruct, acknowledgments: dict[str, str]) -> None:
    if acknowledgments:
        Validations.of(construct).acknowledge(
            *(Acknowledgment(id=rule, reason=reason) for rule, reason in acknowledgments.items())
        )


@jsii.implements(IAspect)
class _AcknowledgeOverflowPolicies:
    """A role's statements past IAM's policy size limit move to overflow managed policies, which
    CDK creates in a mutating aspect at synthesis (Role.splitLargePolicy), after the stack's
    constructor: they get the same reasons, once they exist."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, iam.CfnManagedPolicy):
            _acknowledge_policy(self._stack, node)


def acknowledge_findings(stack: Stack) -> None:
    Aspects.of(stack).add(_AcknowledgeOverflowPolicies(stack), priority=AspectPriority.READONLY)
    for construct in stack.node.find_all():
        if isinstance(construct, iam.CfnPolicy):
            _acknowledge_policy(stack, construct)
        elif isinstance(construct, secretsmanager.Secret):
            _acknowledge(
                construct,
                {
                    "AwsSolutions-SMG4": "Slack issues this credential; it is rotated in the "
                    "Slack app's settings and the operator puts the new value (docs/deploy.md)"
                },
            )
        elif isinstance(construct, apigw.RestApi):
            _acknowledge_api(construct)


def _acknowledge_api(api: apigw.RestApi) -> None:
    slack_auth = (
        "Slack cannot sign requests with IAM or Cognito; the function verifies every request's "
        "HMAC signature with the signing secret and refuses stale timestamps (Bolt)"
    )
    _acknowledge(
        api,
        {
            "AwsSolutions-APIG2": "Slack sends form-encoded bodies with no schema to validate; "
            "the signature check in the function is the request validation",
            "AwsSolutions-APIG3": "throttled at the stage and signature-checked; a WAF web ACL "
            "can be associated by the platform team where their standards require one",
            "AwsSolutions-APIG4": slack_auth,
            "AwsSolutions-COG4": slack_auth,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]": "API Gateway's account-level logging role "
            "(required for access logs) uses the AWS policy made for exactly that",
        },
    )
