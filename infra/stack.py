"""The whole system in one stack: data, messaging, secrets, functions, the state machine from the
project's ASL file, the Slack endpoint, alarms and the dashboard."""

from __future__ import annotations

from typing import Any

from aws_cdk import (
    ArnFormat,
    CfnOutput,
    Duration,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import constants as names
from infra.config import InfraConfig
from infra.constants import FunctionSpec, Role
from infra.functions import RUNTIME, build_dependencies_layer, build_function, database_files
from infra.messaging import ProgressDelivery
from infra.monitoring import Monitoring
from infra.nag import acknowledge_findings
from infra.packaging import function_code
from infra.permissions import RdsPermissions
from infra.slack_access import (
    build_api,
    build_lazy_work_failures,
    grant_request_approval,
    grant_slack_endpoint,
)
from infra.statemachine import ASL_PATH
from infra.tables import build_table
from pipeline.store_schema import audit_table_definition, operations_table_definition

SSM_STANDARD_TIER_LIMIT = 4096  # bytes; larger policies need the advanced tier


class AuroraRestoreStack(Stack):
    """Built by small `_build_*` methods; `functions` maps each FunctionSpec to its function."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: InfraConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        # Named, so the bot's functions can know its ARN before it exists: the state machine
        # needs the request-approval function's ARN, which must not need the machine's.
        self.state_machine_name = f"{self.stack_name}-restore"
        self.state_machine_arn = self.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.key = self._build_key()
        self.operations_table = build_table(
            self, "OperationsTable", operations_table_definition("unused"), self.key
        )
        self.audit_table = build_table(
            self, "AuditTable", audit_table_definition("unused"), self.key
        )
        self.progress = ProgressDelivery(self, "Progress", key=self.key)
        self.progress_topic = self.progress.topic
        self.operator_topic = self._build_operator_topic()
        self.signing_secret = self._build_secret(
            "SlackSigningSecret", names.SIGNING_SECRET_DESCRIPTION
        )
        self.bot_token_secret = self._build_secret("SlackBotToken", names.BOT_TOKEN_DESCRIPTION)
        self.policy_parameter = self._build_policy_parameter()
        self.db_subnet_group_name = self._build_db_subnet_group()
        self._code = function_code(RUNTIME, database_files(self))
        self._dependencies = build_dependencies_layer(self)
        self.functions = {spec: build_function(self, spec) for spec in names.ALL_FUNCTIONS}
        self.state_machine = self._build_state_machine()
        self._grant_permissions()
        self.api = build_api(self)
        self._build_progress_consumers()
        self.retention_schedule = self._build_retention_schedule()
        self.lazy_work_failures = build_lazy_work_failures(
            self, self.functions[names.SLACK_ENDPOINT]
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            state_machine=self.state_machine,
            functions=self.functions,
            api=self.api,
            operator_topic=self.operator_topic,
            dead_letter_queues=self.progress.dead_letter_queues,
            lazy_work_failures=self.lazy_work_failures,
        )
        self._build_outputs()
        acknowledge_findings(self)

    # Data and messaging

    def _build_key(self) -> kms.IKey:
        if self.config.data_key_arn:
            return kms.Key.from_key_arn(self, "DataKey", self.config.data_key_arn)
        key = kms.Key(
            self,
            "DataKey",
            description="aurora-restore: tables, topics and Slack secrets",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Alarms publish to the encrypted operator topic as the CloudWatch service.
        key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        return key

    def _build_topic(self, construct_id: str, display_name: str) -> sns.Topic:
        return sns.Topic(
            self, construct_id, display_name=display_name, master_key=self.key, enforce_ssl=True
        )

    def _build_operator_topic(self) -> sns.Topic:
        topic = self._build_topic("OperatorTopic", "aurora-restore alarms")
        for email in self.config.operator_emails:
            topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic

    def _build_secret(self, construct_id: str, description: str) -> secretsmanager.Secret:
        # Created with a random placeholder; the operator puts the real value (docs/deploy.md),
        # so no Slack credential is ever in the template or the cloud assembly.
        return secretsmanager.Secret(
            self,
            construct_id,
            description=f"aurora-restore: {description}",
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _build_policy_parameter(self) -> ssm.StringParameter:
        text = self.config.policy_text()
        tier = (
            ssm.ParameterTier.STANDARD
            if len(text.encode()) <= SSM_STANDARD_TIER_LIMIT
            else ssm.ParameterTier.ADVANCED
        )
        return ssm.StringParameter(
            self,
            "PolicyParameter",
            description="aurora-restore: who may request and approve restores (YAML)",
            string_value=text,
            tier=tier,
        )

    def _build_db_subnet_group(self) -> str:
        network = self.config.network
        if network.db_subnet_group_name:
            return network.db_subnet_group_name
        group = rds.CfnDBSubnetGroup(
            self,
            "RestoredClusterSubnets",
            db_subnet_group_description="aurora-restore: subnets of restored clusters",
            subnet_ids=[subnet.id for subnet in network.subnets],
        )
        return group.ref

    # Orchestration (the functions: infra.functions; the Slack side: infra.slack_access)

    def _build_state_machine(self) -> sfn.StateMachine:
        log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            # The vended-logs prefix keeps the log resource policy small (Step Functions docs).
            log_group_name=f"/aws/vendedlogs/states/{self.stack_name}-restore",
            retention=self.config.log_retention,
            removal_policy=RemovalPolicy.RETAIN,
        )
        substitutions = {
            spec.placeholder: self.functions[spec].function_arn
            for spec in names.ALL_FUNCTIONS
            if spec.placeholder
        }
        state_machine = sfn.StateMachine(
            self,
            "RestoreStateMachine",
            state_machine_name=self.state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,  # the callback pattern needs it
            definition_body=sfn.DefinitionBody.from_file(str(ASL_PATH)),
            definition_substitutions=substitutions,
            # Execution data stays out of the logs: the approval task's input is a task token.
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
            tracing_enabled=True,
        )
        # The ASL file is opaque to CDK, so the invoke permission is written out: exactly the
        # functions the definition names, unqualified as the definition uses them.
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="InvokeStageFunctions",
                actions=["lambda:InvokeFunction"],
                resources=list(substitutions.values()),
            )
        )
        return state_machine

    def _grant_permissions(self) -> None:
        rds_permissions = RdsPermissions(self, self.config, self.db_subnet_group_name)
        for spec, function in self.functions.items():
            role = function.role
            # Every function gets its own role (infra.functions.build_function).
            assert role is not None
            if spec.role is Role.METRICS:
                continue
            self.operations_table.grant_read_write_data(role)
            self._grant_audit(spec, role)
            if spec.role is Role.STAGE:
                self.key.grant_encrypt_decrypt(role)
                role.add_to_principal_policy(rds_permissions.read())
                for statement in rds_permissions.for_stage(spec):
                    role.add_to_principal_policy(statement)
            else:
                # Every bot entry point builds the same dependencies at cold start
                # (bot.container.dependencies_from_environment): both secrets and the policy.
                self.signing_secret.grant_read(role)
                self.bot_token_secret.grant_read(role)
                self.policy_parameter.grant_read(role)
            if spec.role in (Role.STAGE, Role.SLACK, Role.APPROVAL):
                self.progress_topic.grant_publish(role)
        grant_slack_endpoint(self, self.functions[names.SLACK_ENDPOINT], rds_permissions)
        grant_request_approval(self, self.functions[names.REQUEST_APPROVAL])

    def _grant_audit(self, spec: FunctionSpec, role: iam.IRole) -> None:
        """The audit table is append-only for every role: PutItem (its condition refuses an
        overwrite, pipeline.store.audit), never UpdateItem, DeleteItem or BatchWriteItem. Only
        what the code calls: every stage, the approval task and the Slack endpoint append; the
        database stage also reads its own operation's events back (Query), so a retry neither
        re-runs a post-restore script nor loses the users it made; the notifier never touches it."""
        actions = names.AUDIT_ACTIONS.get(spec, ())
        if actions:
            self.audit_table.grant(role, *actions)

    def _build_progress_consumers(self) -> None:
        # A failed Slack delivery holds back only its own operation's later events.
        self.progress.add_consumer(
            names.NOTIFIER,
            self.functions[names.NOTIFIER],
            report_batch_item_failures=True,
            max_concurrency=names.NOTIFIER_MAX_CONCURRENCY,
        )
        # Metrics drop what they cannot read and never fail one record: whole batches only.
        self.progress.add_consumer(
            names.PROGRESS_METRICS,
            self.functions[names.PROGRESS_METRICS],
            report_batch_item_failures=False,
        )

    def _build_retention_schedule(self) -> events.Rule:
        """The retention sweep every hour; its event's `time` is the run's "now"."""
        rule = events.Rule(
            self,
            "RetentionSchedule",
            description="Announce, then delete kept clusters and expired snapshots of this tool",
            schedule=events.Schedule.rate(Duration.hours(names.RETENTION_SCHEDULE_HOURS)),
        )
        rule.add_target(
            targets.LambdaFunction(self.functions[names.RETENTION_SWEEP], retry_attempts=2)
        )
        return rule

    def _build_outputs(self) -> None:
        outputs = {
            "SlackRequestUrl": self.api.url_for_path(f"/{names.SLACK_EVENTS_PATH}"),
            "SigningSecretArn": self.signing_secret.secret_arn,
            "BotTokenSecretArn": self.bot_token_secret.secret_arn,
            "StateMachineArn": self.state_machine.state_machine_arn,
            "OperatorTopicArn": self.operator_topic.topic_arn,
            "DashboardName": self.monitoring.dashboard.dashboard_name,
            "ProgressTopicArn": self.progress_topic.topic_arn,
        }
        for spec, queue in self.progress.dead_letter_queues.items():
            outputs[f"{spec.construct_id}DeadLetterQueueName"] = queue.queue_name
        outputs["SlackLazyWorkFailuresQueueName"] = self.lazy_work_failures.queue_name
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
