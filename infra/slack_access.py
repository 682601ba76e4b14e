"""The Slack side of the stack: the API Gateway endpoint, what the Slack endpoint and the approval
task may do, and where lazy work that keeps failing is kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import (
    Acknowledgment,
    Duration,
    RemovalPolicy,
    Validations,
)
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs

from infra import constants as names
from infra.permissions import RdsPermissions

if TYPE_CHECKING:
    from infra.stack import AuroraRestoreStack


def grant_request_approval(stack: AuroraRestoreStack, function: lambda_.Function) -> None:
    """The task fails its own approval step when the card cannot be posted. The machine
    names this function, so its ARN comes from the machine's name, not the resource."""
    role = function.role
    assert role is not None
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="AnswerOwnApprovalTask",
            actions=["states:SendTaskFailure"],
            resources=[stack.state_machine_arn],
        )
    )


def grant_slack_endpoint(
    stack: AuroraRestoreStack, function: lambda_.Function, rds_permissions: RdsPermissions
) -> None:
    role = function.role
    assert role is not None
    # /restore resolves the plan in the endpoint (bot.restore_flow -> resolve_plan, which
    # calls pipeline.rds describe_cluster, describe_cluster_snapshot, cluster_snapshots and
    # shared_snapshot), so a request that cannot be carried out is refused at once.
    for statement in rds_permissions.plan_read():
        role.add_to_principal_policy(statement)
    # `/restore cancel` of a running restore deletes the copy it started (pipeline.copy_cleanup).
    for statement in rds_permissions.delete_copy():
        role.add_to_principal_policy(statement)
    stack.state_machine.grant_start_execution(role)
    stack.state_machine.grant_execution(role, "states:StopExecution")
    stack.state_machine.grant_task_response(role)
    # Bolt's lazy listeners invoke this same function asynchronously. A separate policy
    # (not the role's default one, which the function depends on) avoids a cycle.
    iam.Policy(
        stack,
        "SlackEndpointSelfInvoke",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                sid="LazySelfInvoke",
                actions=["lambda:InvokeFunction"],
                resources=[function.function_arn],
            )
        ],
    )


def build_lazy_work_failures(stack: AuroraRestoreStack, function: lambda_.Function) -> sqs.Queue:
    """Bolt's lazy listeners run as asynchronous invocations of the Slack endpoint itself;
    one that times out, crashes or cannot start is retried twice by Lambda and then dropped,
    unless an on-failure destination keeps it
    (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
    The record carries the Slack request (encrypted at rest with the stack's key)."""
    queue = sqs.Queue(
        stack,
        "SlackLazyWorkFailures",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=stack.key,
        enforce_ssl=True,
        retention_period=Duration.days(names.DEAD_LETTER_RETENTION_DAYS),
    )
    Validations.of(queue).acknowledge(
        Acknowledgment(
            id="AwsSolutions-SQS3",
            reason="it is the last stop itself: Lambda's on-failure destination for the "
            "Slack endpoint's lazy work, read by an operator when its alarm fires",
        )
    )
    function.configure_async_invoke(
        on_failure=destinations.SqsDestination(queue),
        retry_attempts=names.LAZY_RETRY_ATTEMPTS,
        # Slack's response_url works for 30 minutes: later work could not answer anyway.
        max_event_age=Duration.seconds(names.LAZY_MAX_EVENT_AGE_SECONDS),
    )
    return queue


def build_api(stack: AuroraRestoreStack) -> apigw.RestApi:
    access_logs = logs.LogGroup(
        stack,
        "SlackApiAccessLogs",
        retention=stack.config.log_retention,
        removal_policy=RemovalPolicy.RETAIN,
    )
    api = apigw.RestApi(
        stack,
        "SlackApi",
        description="aurora-restore: Slack slash commands and interactivity",
        endpoint_types=[apigw.EndpointType.REGIONAL],
        cloud_watch_role=True,  # API Gateway writes logs through the account-level role
        cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
        deploy_options=apigw.StageOptions(
            stage_name="prod",
            throttling_rate_limit=stack.config.api.rate_limit,
            throttling_burst_limit=stack.config.api.burst_limit,
            logging_level=apigw.MethodLoggingLevel.ERROR,
            data_trace_enabled=False,  # request bodies carry Slack payloads: never logged
            metrics_enabled=True,
            tracing_enabled=True,
            access_log_destination=apigw.LogGroupLogDestination(access_logs),
            access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                caller=False,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=False,
            ),
        ),
    )
    events = api.root.resource_for_path(names.SLACK_EVENTS_PATH)
    events.add_method("POST", apigw.LambdaIntegration(stack.functions[names.SLACK_ENDPOINT]))
    return api
