"""The whole system in one stack: data, messaging, secrets, functions, the state machine from the
project's ASL file, the Slack endpoint, alarms and the dashboard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import (
    Acknowledgment,
    Annotations,
    ArnFormat,
    CfnOutput,
    Duration,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import constants as names
from infra.config import InfraConfig
from infra.constants import Env, FunctionSpec, Role
from infra.messaging import ProgressDelivery
from infra.monitoring import Monitoring
from infra.nag import acknowledge_findings
from infra.network import ServiceEndpoints
from infra.packaging import dependencies_code, function_code
from infra.permissions import RdsPermissions
from infra.statemachine import ASL_PATH
from infra.tables import build_table
from pipeline.store_schema import audit_table_definition, operations_table_definition

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
# AWS's Parameters and Secrets extension (CDK picks its layer ARN per region and architecture);
# its cache keeps a value 300 s, like the bot's own `secret_max_age_seconds`. Its calls time out
# before the bot's 3 s wait for it, which then reads through the SDK instead.
_PARAMS_AND_SECRETS = lambda_.ParamsAndSecretsLayerVersion.from_version(
    lambda_.ParamsAndSecretsVersions.V1_0_103,
    cache_size=10,
    log_level=lambda_.ParamsAndSecretsLogLevel.WARN,
    secrets_manager_timeout=Duration.seconds(2),
    parameter_store_timeout=Duration.seconds(2),
)
_NO_SECRETS = frozenset({Role.STAGE, Role.METRICS})  # only the bot's functions read them
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
        self._code = function_code(RUNTIME, self._database_files())
        self._dependencies = self._build_dependencies_layer()
        self.functions = {spec: self._build_function(spec) for spec in names.ALL_FUNCTIONS}
        self.state_machine = self._build_state_machine()
        self._grant_permissions()
        self.api = self._build_api()
        self._build_progress_consumers()
        self.lazy_work_failures = self._build_lazy_work_failures(
            self.functions[names.SLACK_ENDPOINT]
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

    # Functions

    def _database_files(self) -> dict[str, Path]:
        """The database stage's configuration directory and CA bundle, shipped in the code."""
        database = self.config.database
        files = {names.CA_BUNDLE_ASSET: database.resolved(database.ca_bundle_file)}
        if database.config_file:
            files[names.DATABASE_ASSET_DIR] = database.resolved(database.config_file).parent
        return files

    def _database_environment(self) -> dict[Env, str]:
        root = names.LAMBDA_TASK_ROOT
        env = {
            # The stack's key encrypts the credential secrets the stage creates.
            Env.SECRETS_KMS_KEY_ID: self.key.key_arn,
            # TLS is on (the settings' default) and needs the RDS CAs: always shipped.
            Env.DB_CA_BUNDLE_PATH: f"{root}/{names.CA_BUNDLE_ASSET}",
        }
        config_file = self.config.database.config_file
        if config_file:
            env[Env.DATABASE_CONFIG_PATH] = f"{root}/{names.DATABASE_ASSET_DIR}/{config_file.name}"
        return env

    def _build_dependencies_layer(self) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            "Dependencies",
            code=dependencies_code(RUNTIME),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="aurora-restore runtime dependencies (pyproject.toml), arm64 wheels",
        )

    def _vpc_placement(self, spec: FunctionSpec) -> dict[str, Any]:
        if spec is not names.SETUP_DATABASE:
            return {}
        network = self.config.network
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id=network.vpc_id,
            availability_zones=sorted({subnet.availability_zone for subnet in network.subnets}),
        )
        subnets = []
        for index, subnet in enumerate(network.subnets):
            imported = ec2.Subnet.from_subnet_attributes(
                self,
                f"Subnet{index}",
                subnet_id=subnet.id,
                availability_zone=subnet.availability_zone,
            )
            Annotations.of(imported).acknowledge_warning(
                "@aws-cdk/aws-ec2:noSubnetRouteTableId",
                "only the subnet id is used (function placement); no route is read or added",
            )
            subnets.append(imported)
        groups = [
            ec2.SecurityGroup.from_security_group_id(
                self, f"FunctionSecurityGroup{index}", group_id
            )
            for index, group_id in enumerate(network.function_security_group_ids)
        ]
        self.service_endpoints = ServiceEndpoints(
            self,
            "SetupDatabaseEndpoints",
            network=network,
            vpc=vpc,
            subnets=subnets,
            function_groups=groups,
        )
        return {
            "vpc": vpc,
            "vpc_subnets": ec2.SubnetSelection(subnets=subnets),
            "security_groups": groups,
        }

    def _environment(self, spec: FunctionSpec) -> dict[str, str]:
        env = {
            Env.POWERTOOLS_SERVICE_NAME: names.SERVICE,
            Env.POWERTOOLS_METRICS_NAMESPACE: names.METRICS_NAMESPACE,
            Env.POWERTOOLS_LOG_LEVEL: "INFO",
            Env.POWERTOOLS_TRACER_CAPTURE_RESPONSE: "false",
            Env.POWERTOOLS_TRACER_CAPTURE_ERROR: "false",
        }
        if spec.role is Role.METRICS:
            return {str(name): value for name, value in env.items()}
        config, network = self.config, self.config.network
        env |= {
            Env.OPERATIONS_TABLE: self.operations_table.table_name,
            Env.AUDIT_TABLE: self.audit_table.table_name,
            Env.PROGRESS_TOPIC_ARN: self.progress_topic.topic_arn,
            Env.DB_SUBNET_GROUP: self.db_subnet_group_name,
            Env.VPC_SECURITY_GROUP_IDS: json.dumps(network.database_security_group_ids),
            Env.DEFAULT_INSTANCE_CLASS: config.rds.default_instance_class,
            Env.PROTECTED_CLUSTERS: json.dumps(list(config.policy().protected_targets)),
            Env.MAX_WAIT_ATTEMPTS: str(config.max_wait_attempts),
            Env.LOCK_TTL_SECONDS: str(config.lock_ttl_seconds),
            Env.AUDIT_RETENTION_DAYS: str(config.audit_retention_days),
            Env.SECRET_NAME_PREFIX: names.DB_SECRET_PREFIX,
        }
        if config.rds.kms_key_arn:
            env[Env.KMS_KEY_ID] = config.rds.kms_key_arn
        if config.rds.db_cluster_parameter_group:
            env[Env.DB_CLUSTER_PARAMETER_GROUP] = config.rds.db_cluster_parameter_group
        if spec is names.SETUP_DATABASE:
            env |= self._database_environment()
        if spec.role is not Role.STAGE:
            env |= {
                Env.STATE_MACHINE_ARN: self.state_machine_arn,
                Env.SIGNING_SECRET_ARN: self.signing_secret.secret_arn,
                Env.BOT_TOKEN_SECRET_ARN: self.bot_token_secret.secret_arn,
                Env.POLICY_PARAMETER: self.policy_parameter.parameter_name,
            }
        return {str(name): value for name, value in env.items()}

    def _build_function(self, spec: FunctionSpec) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{spec.construct_id}Logs",
            retention=self.config.log_retention,
            removal_policy=RemovalPolicy.RETAIN,
        )
        role = iam.Role(
            self,
            f"{spec.construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"aurora-restore {spec.construct_id}: {spec.description}",
        )
        log_group.grant_write(role)
        return lambda_.Function(
            self,
            spec.construct_id,
            description=f"aurora-restore: {spec.description}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=self._code,
            layers=[self._dependencies],
            # The bot's functions read the Slack secrets and the policy on every cold start, before
            # the first answer: through AWS's extension that is a GET on localhost, not an SDK.
            params_and_secrets=None if spec.role in _NO_SECRETS else _PARAMS_AND_SECRETS,
            role=role,
            timeout=Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            environment=self._environment(spec),
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            tracing=lambda_.Tracing.ACTIVE,
            **self._vpc_placement(spec),
        )

    # Orchestration

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
            assert role is not None  # every function gets its own role in _build_function
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
        self._grant_slack_endpoint(self.functions[names.SLACK_ENDPOINT], rds_permissions)
        self._grant_request_approval(self.functions[names.REQUEST_APPROVAL])

    def _grant_audit(self, spec: FunctionSpec, role: iam.IRole) -> None:
        """The audit table is append-only for every role: PutItem (its condition refuses an
        overwrite, pipeline.store.audit), never UpdateItem, DeleteItem or BatchWriteItem. Only
        what the code calls: every stage, the approval task and the Slack endpoint append; the
        database stage also reads its own operation's events back (Query), so a retry neither
        re-runs a post-restore script nor loses the users it made; the notifier never touches it."""
        actions = names.AUDIT_ACTIONS.get(spec, ())
        if actions:
            self.audit_table.grant(role, *actions)

    def _grant_request_approval(self, function: lambda_.Function) -> None:
        """The task fails its own approval step when the card cannot be posted. The machine
        names this function, so its ARN comes from the machine's name, not the resource."""
        role = function.role
        assert role is not None
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="AnswerOwnApprovalTask",
                actions=["states:SendTaskFailure"],
                resources=[self.state_machine_arn],
            )
        )

    def _grant_slack_endpoint(
        self, function: lambda_.Function, rds_permissions: RdsPermissions
    ) -> None:
        role = function.role
        assert role is not None
        # /restore resolves the plan in the endpoint (bot.restore_flow -> resolve_plan, which
        # calls pipeline.rds describe_cluster, describe_cluster_snapshot, cluster_snapshots and
        # shared_snapshot), so a request that cannot be carried out is refused at once.
        for statement in rds_permissions.plan_read():
            role.add_to_principal_policy(statement)
        self.state_machine.grant_start_execution(role)
        self.state_machine.grant_execution(role, "states:StopExecution")
        self.state_machine.grant_task_response(role)
        # Bolt's lazy listeners invoke this same function asynchronously. A separate policy
        # (not the role's default one, which the function depends on) avoids a cycle.
        iam.Policy(
            self,
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

    def _build_lazy_work_failures(self, function: lambda_.Function) -> sqs.Queue:
        """Bolt's lazy listeners run as asynchronous invocations of the Slack endpoint itself;
        one that times out, crashes or cannot start is retried twice by Lambda and then dropped,
        unless an on-failure destination keeps it
        (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
        The record carries the Slack request (encrypted at rest with the stack's key)."""
        queue = sqs.Queue(
            self,
            "SlackLazyWorkFailures",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
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

    def _build_api(self) -> apigw.RestApi:
        access_logs = logs.LogGroup(
            self,
            "SlackApiAccessLogs",
            retention=self.config.log_retention,
            removal_policy=RemovalPolicy.RETAIN,
        )
        api = apigw.RestApi(
            self,
            "SlackApi",
            description="aurora-restore: Slack slash commands and interactivity",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,  # API Gateway writes logs through the account-level role
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name="prod",
                throttling_rate_limit=self.config.api.rate_limit,
                throttling_burst_limit=self.config.api.burst_limit,
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
        events.add_method("POST", apigw.LambdaIntegration(self.functions[names.SLACK_ENDPOINT]))
        return api

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
