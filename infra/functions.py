"""The Lambda functions of the stack: code, layers, placement, environment and a role each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_cdk import (
    Annotations,
    Duration,
    RemovalPolicy,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from infra import constants as names
from infra.constants import Env, FunctionSpec, Role, retention_environment
from infra.network import ServiceEndpoints
from infra.packaging import dependencies_code

if TYPE_CHECKING:
    from infra.stack import AuroraRestoreStack

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


def database_files(stack: AuroraRestoreStack) -> dict[str, Path]:
    """The database stage's configuration directory and CA bundle, shipped in the code."""
    database = stack.config.database
    files = {names.CA_BUNDLE_ASSET: database.resolved(database.ca_bundle_file)}
    if database.config_file:
        files[names.DATABASE_ASSET_DIR] = database.resolved(database.config_file).parent
    return files


def _database_environment(stack: AuroraRestoreStack) -> dict[Env, str]:
    root = names.LAMBDA_TASK_ROOT
    env = {
        # The stack's key encrypts the credential secrets the stage creates.
        Env.SECRETS_KMS_KEY_ID: stack.key.key_arn,
        # TLS is on (the settings' default) and needs the RDS CAs: always shipped.
        Env.DB_CA_BUNDLE_PATH: f"{root}/{names.CA_BUNDLE_ASSET}",
    }
    config_file = stack.config.database.config_file
    if config_file:
        env[Env.DATABASE_CONFIG_PATH] = f"{root}/{names.DATABASE_ASSET_DIR}/{config_file.name}"
    return env


def build_dependencies_layer(stack: AuroraRestoreStack) -> lambda_.LayerVersion:
    return lambda_.LayerVersion(
        stack,
        "Dependencies",
        code=dependencies_code(RUNTIME),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description="aurora-restore runtime dependencies (pyproject.toml), arm64 wheels",
    )


def _vpc_placement(stack: AuroraRestoreStack, spec: FunctionSpec) -> dict[str, Any]:
    if spec is not names.SETUP_DATABASE:
        return {}
    network = stack.config.network
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id=network.vpc_id,
        availability_zones=sorted({subnet.availability_zone for subnet in network.subnets}),
    )
    subnets = []
    for index, subnet in enumerate(network.subnets):
        imported = ec2.Subnet.from_subnet_attributes(
            stack,
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
        ec2.SecurityGroup.from_security_group_id(stack, f"FunctionSecurityGroup{index}", group_id)
        for index, group_id in enumerate(network.function_security_group_ids)
    ]
    ServiceEndpoints(  # attached to the stack; nothing reads it back
        stack,
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


def function_environment(stack: AuroraRestoreStack, spec: FunctionSpec) -> dict[str, str]:
    env = {
        Env.POWERTOOLS_SERVICE_NAME: names.SERVICE,
        Env.POWERTOOLS_METRICS_NAMESPACE: names.METRICS_NAMESPACE,
        Env.POWERTOOLS_LOG_LEVEL: "INFO",
        Env.POWERTOOLS_TRACER_CAPTURE_RESPONSE: "false",
        Env.POWERTOOLS_TRACER_CAPTURE_ERROR: "false",
    }
    if spec.role is Role.METRICS:
        return {str(name): value for name, value in env.items()}
    config, network = stack.config, stack.config.network
    env |= {
        Env.OPERATIONS_TABLE: stack.operations_table.table_name,
        Env.AUDIT_TABLE: stack.audit_table.table_name,
        Env.PROGRESS_TOPIC_ARN: stack.progress_topic.topic_arn,
        Env.DB_SUBNET_GROUP: stack.db_subnet_group_name,
        Env.VPC_SECURITY_GROUP_IDS: json.dumps(network.database_security_group_ids),
        Env.DEFAULT_INSTANCE_CLASS: config.rds.default_instance_class,
        Env.PROTECTED_CLUSTERS: json.dumps(list(config.policy().protected_targets)),
        # The snapshots the roles may restore from: ValidateRequest refuses any other up front.
        Env.SNAPSHOT_PATTERNS: json.dumps(config.rds.snapshot_patterns),
        Env.LOCK_TTL_SECONDS: str(config.lock_ttl_seconds),
        Env.AUDIT_RETENTION_DAYS: str(config.audit_retention_days),
        Env.SECRET_NAME_PREFIX: names.DB_SECRET_PREFIX,
    }
    env |= retention_environment(config.policy().retention.defaults)
    if config.rds.kms_key_arn:
        env[Env.KMS_KEY_ID] = config.rds.kms_key_arn
    if config.rds.db_cluster_parameter_group:
        env[Env.DB_CLUSTER_PARAMETER_GROUP] = config.rds.db_cluster_parameter_group
    if spec is names.SETUP_DATABASE:
        env |= _database_environment(stack)
    if spec.role is not Role.STAGE:
        env |= {
            Env.STATE_MACHINE_ARN: stack.state_machine_arn,
            Env.SIGNING_SECRET_ARN: stack.signing_secret.secret_arn,
            Env.BOT_TOKEN_SECRET_ARN: stack.bot_token_secret.secret_arn,
            Env.POLICY_PARAMETER: stack.policy_parameter.parameter_name,
        }
    return {str(name): value for name, value in env.items()}


def build_function(stack: AuroraRestoreStack, spec: FunctionSpec) -> lambda_.Function:
    log_group = logs.LogGroup(
        stack,
        f"{spec.construct_id}Logs",
        retention=stack.config.log_retention,
        removal_policy=RemovalPolicy.RETAIN,
    )
    role = iam.Role(
        stack,
        f"{spec.construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"aurora-restore {spec.construct_id}: {spec.description}",
    )
    log_group.grant_write(role)
    return lambda_.Function(
        stack,
        spec.construct_id,
        description=f"aurora-restore: {spec.description}",
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler=spec.handler,
        code=stack._code,
        layers=[stack._dependencies],
        # The bot's functions read the Slack secrets and the policy on every cold start, before
        # the first answer: through AWS's extension that is a GET on localhost, not an SDK.
        params_and_secrets=None if spec.role in _NO_SECRETS else _PARAMS_AND_SECRETS,
        role=role,
        timeout=Duration.seconds(spec.timeout_seconds),
        memory_size=spec.memory_mb,
        environment=function_environment(stack, spec),
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
        system_log_level_v2=lambda_.SystemLogLevel.WARN,
        tracing=lambda_.Tracing.ACTIVE,
        **_vpc_placement(stack, spec),
    )
