"""Names shared by the CDK app, its tests and the code it deploys: construct ids, handler paths,
environment variable names and metric names. Change a name here and every side follows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.retention_terms import RetentionTerms

DEFAULT_STACK_NAME = "AuroraRestore"
SERVICE = "aurora-restore"
METRICS_NAMESPACE = "AuroraRestore"  # the namespace infra.runtime.progress_metrics publishes to

# CDK context keys the app reads (`cdk synth -c aurora-restore:config=infra/config.yaml`).
CONTEXT_CONFIG_FILE = "aurora-restore:config"
CONTEXT_CONFIG_INLINE = "aurora-restore"
CONTEXT_BUNDLE = "aurora-restore:bundle"
BUNDLING_STACKS_CONTEXT = "aws:cdk:bundling-stacks"  # CDK's own key: which stacks get bundled

# Secrets are created empty by the stack; the operator puts the values (docs/deploy.md).
SIGNING_SECRET_DESCRIPTION = "Slack signing secret (Basic Information > App Credentials)"  # noqa: S105
BOT_TOKEN_DESCRIPTION = "Slack bot token, xoxb-... (OAuth & Permissions)"  # noqa: S105
DB_SECRET_PREFIX = "aurora-restore"  # noqa: S105 - PipelineSettings.secret_name_prefix


class Env(StrEnum):
    """Environment variables of the deployed functions (pydantic-settings prefix AURORA_RESTORE_)."""

    # PipelineSettings
    OPERATIONS_TABLE = "AURORA_RESTORE_OPERATIONS_TABLE"
    AUDIT_TABLE = "AURORA_RESTORE_AUDIT_TABLE"
    PROGRESS_TOPIC_ARN = "AURORA_RESTORE_PROGRESS_TOPIC_ARN"
    DB_SUBNET_GROUP = "AURORA_RESTORE_DB_SUBNET_GROUP"
    VPC_SECURITY_GROUP_IDS = "AURORA_RESTORE_VPC_SECURITY_GROUP_IDS"
    KMS_KEY_ID = "AURORA_RESTORE_KMS_KEY_ID"
    DB_CLUSTER_PARAMETER_GROUP = "AURORA_RESTORE_DB_CLUSTER_PARAMETER_GROUP"
    DEFAULT_INSTANCE_CLASS = "AURORA_RESTORE_DEFAULT_INSTANCE_CLASS"
    PROTECTED_CLUSTERS = "AURORA_RESTORE_PROTECTED_CLUSTERS"
    LOCK_TTL_SECONDS = "AURORA_RESTORE_LOCK_TTL_SECONDS"
    AUDIT_RETENTION_DAYS = "AURORA_RESTORE_AUDIT_RETENTION_DAYS"
    KEPT_CLUSTER_DAYS = "AURORA_RESTORE_KEPT_CLUSTER_DAYS"
    KEPT_CLUSTER_NOTICE_HOURS = "AURORA_RESTORE_KEPT_CLUSTER_NOTICE_HOURS"
    FINAL_SNAPSHOT_DAYS = "AURORA_RESTORE_FINAL_SNAPSHOT_DAYS"
    SECRET_NAME_PREFIX = "AURORA_RESTORE_SECRET_NAME_PREFIX"  # noqa: S105
    SECRETS_KMS_KEY_ID = "AURORA_RESTORE_SECRETS_KMS_KEY_ID"
    DATABASE_CONFIG_PATH = "AURORA_RESTORE_DATABASE_CONFIG_PATH"
    DB_CA_BUNDLE_PATH = "AURORA_RESTORE_DB_CA_BUNDLE_PATH"
    SNAPSHOT_PATTERNS = "AURORA_RESTORE_SNAPSHOT_PATTERNS"
    # BotSettings
    STATE_MACHINE_ARN = "AURORA_RESTORE_STATE_MACHINE_ARN"
    SIGNING_SECRET_ARN = "AURORA_RESTORE_SIGNING_SECRET_ARN"  # noqa: S105
    BOT_TOKEN_SECRET_ARN = "AURORA_RESTORE_BOT_TOKEN_SECRET_ARN"  # noqa: S105
    POLICY_PARAMETER = "AURORA_RESTORE_POLICY_PARAMETER"
    # Powertools
    POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
    POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
    POWERTOOLS_LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"
    # Responses and errors can carry task tokens: never copy them into trace metadata.
    POWERTOOLS_TRACER_CAPTURE_RESPONSE = "POWERTOOLS_TRACER_CAPTURE_RESPONSE"
    POWERTOOLS_TRACER_CAPTURE_ERROR = "POWERTOOLS_TRACER_CAPTURE_ERROR"


class Role(StrEnum):
    """What a function needs beyond its log group; the stack grants by role, not by name."""

    STAGE = "stage"  # a pipeline stage: tables, progress topic, its RDS statements
    SLACK = "slack"  # the Slack HTTP endpoint
    APPROVAL = "approval"  # the request-approval task
    NOTIFIER = "notifier"  # progress queue -> Slack
    METRICS = "metrics"  # progress queue -> CloudWatch metrics


@dataclass(frozen=True)
class FunctionSpec:
    construct_id: str
    handler: str
    description: str
    role: Role
    placeholder: str | None = None  # the ASL `${...}` this function's ARN fills
    timeout_seconds: int = 60
    memory_mb: int = 256


def _stage(construct_id: str, name: str, placeholder: str, description: str) -> FunctionSpec:
    return FunctionSpec(
        construct_id, f"pipeline.handlers.handle_{name}", description, Role.STAGE, placeholder
    )


# The ASL placeholders and handler paths of docs/contracts.md.
VALIDATE = _stage(
    "Validate", "validate", "ValidateFunctionArn", "Resolve the snapshot, store the plan"
)
LIFECYCLE = _stage("Lifecycle", "lifecycle", "LifecycleFunctionArn", "Operation status transitions")
COPY_SNAPSHOT = _stage(
    "CopySnapshot", "copy_snapshot", "CopySnapshotFunctionArn", "Copy the source snapshot"
)
CHECK_COPY = _stage("CheckCopy", "check_copy", "CheckCopyFunctionArn", "Poll the snapshot copy")
DELETE_TARGET = _stage(
    "DeleteTarget", "delete_target", "DeleteTargetFunctionArn", "Delete the existing target"
)
CHECK_DELETE = _stage(
    "CheckDelete", "check_delete", "CheckDeleteFunctionArn", "Poll the deletion of the target"
)
RESTORE_CLUSTER = _stage(
    "RestoreCluster", "restore_cluster", "RestoreClusterFunctionArn", "Restore cluster, instances"
)
CHECK_RESTORE = _stage(
    "CheckRestore", "check_restore", "CheckRestoreFunctionArn", "Poll the restored cluster"
)
SETUP_DATABASE = FunctionSpec(
    "SetupDatabase",
    "pipeline.handlers.handle_setup_database",
    "Create database users and run post-restore SQL (runs in the VPC)",
    Role.STAGE,
    "SetupDatabaseFunctionArn",
    timeout_seconds=300,
)
SWAP_NAMES = _stage(
    "SwapNames",
    "swap_names",
    "SwapNamesFunctionArn",
    "Swap the restored cluster in, keep the old one; undo a failed swap",
)
DELETE_COPY = _stage(
    "DeleteCopy", "delete_copy", "DeleteCopyFunctionArn", "Delete the intermediate copy"
)
FINISH = _stage("Finish", "finish", "FinishFunctionArn", "Record success, release the lock")
# Not a stage of the state machine: an hourly schedule runs it (pipeline.retention).
RETENTION_SWEEP = FunctionSpec(
    "RetentionSweep",
    "pipeline.handlers.handle_retention_sweep",
    "Hourly: announce, then delete kept clusters and the tool's expired snapshots",
    Role.STAGE,
    timeout_seconds=300,
)
RETENTION_SCHEDULE_HOURS = 1
REQUEST_APPROVAL = FunctionSpec(
    "RequestApproval",
    "bot.request_approval.handler",
    "Post the approval card and store the task token",
    Role.APPROVAL,
    "RequestApprovalFunctionArn",
)
SLACK_ENDPOINT = FunctionSpec(
    "SlackEndpoint",
    "bot.lambda_entry.handler",
    "Slack slash commands and interactivity (Bolt, lazy self-invocation)",
    Role.SLACK,
    timeout_seconds=120,
    memory_mb=512,
)
NOTIFIER = FunctionSpec(
    "Notifier", "bot.notifier.handler", "Progress events to Slack threads", Role.NOTIFIER
)
PROGRESS_METRICS = FunctionSpec(
    "ProgressMetrics",
    "infra.runtime.progress_metrics.handler",
    "Progress events to CloudWatch metrics (outcomes, stage durations, approval latency)",
    Role.METRICS,
    timeout_seconds=30,
    memory_mb=128,
)

STAGE_FUNCTIONS = (
    VALIDATE,
    LIFECYCLE,
    COPY_SNAPSHOT,
    CHECK_COPY,
    DELETE_TARGET,
    CHECK_DELETE,
    RESTORE_CLUSTER,
    CHECK_RESTORE,
    SETUP_DATABASE,
    SWAP_NAMES,
    DELETE_COPY,
    FINISH,
)
ALL_FUNCTIONS = (
    *STAGE_FUNCTIONS,
    RETENTION_SWEEP,
    REQUEST_APPROVAL,
    SLACK_ENDPOINT,
    NOTIFIER,
    PROGRESS_METRICS,
)

# The audit table is append-only: the DynamoDB actions each function may use on it, exactly those
# its code calls (pipeline.store: `audit` is PutItem, `audit_events` is Query).
AUDIT_APPEND = ("dynamodb:PutItem",)
AUDIT_ACTIONS: dict[FunctionSpec, tuple[str, ...]] = {
    **{spec: AUDIT_APPEND for spec in STAGE_FUNCTIONS},
    SETUP_DATABASE: (*AUDIT_APPEND, "dynamodb:Query"),  # pipeline.database.stage reads it back
    RETENTION_SWEEP: AUDIT_APPEND,  # retention.cluster_deleted, retention.snapshot_deleted
    SLACK_ENDPOINT: AUDIT_APPEND,
    REQUEST_APPROVAL: AUDIT_APPEND,  # the approval stage's events (pipeline.progress.Reporter)
}

# Metrics infra.runtime.progress_metrics publishes and the dashboard and alarms read.
STAGE_DURATION_METRIC = "StageDuration"
STAGE_DIMENSION = "Stage"
RESTORE_OUTCOME_METRIC = "RestoreOutcome"
OUTCOME_DIMENSION = "Outcome"

# Progress delivery: FIFO topic -> one FIFO queue per consumer -> its function. A failed message
# comes back after the visibility timeout, so the timeout spaces the retries: at least six times
# the function's timeout (the SQS event source's guidance), and MAX_RECEIVES of them outlast a
# Slack outage of hours (360 s x 120 = 12 hours) before a message goes to the dead-letter queue.
PROGRESS_RETENTION_DAYS = 4
DEAD_LETTER_RETENTION_DAYS = 14  # the longest SQS keeps a message: time to look and redrive
VISIBILITY_TIMEOUT_FACTOR = 6
PROGRESS_MAX_RECEIVES = 120
PROGRESS_BATCH_SIZE = 10  # the most a FIFO event source passes per invocation
NOTIFIER_MAX_CONCURRENCY = 5  # message groups (operations) delivered in parallel


def visibility_timeout_seconds(spec: FunctionSpec) -> int:
    return spec.timeout_seconds * VISIBILITY_TIMEOUT_FACTOR


def retention_environment(defaults: RetentionTerms) -> dict[Env, str]:
    """The policy's retention defaults as the pipeline's settings read them, for what carries
    no terms of its own (requests and snapshots made before retention moved to the policy);
    each new restore carries its target's terms, overrides included, in its request."""
    return {
        Env.KEPT_CLUSTER_DAYS: str(defaults.kept_cluster_days),
        Env.KEPT_CLUSTER_NOTICE_HOURS: str(defaults.notice_hours),
        Env.FINAL_SNAPSHOT_DAYS: str(defaults.final_snapshot_days),
    }


# The Slack endpoint's lazy self-invocations (asynchronous): Lambda's own retries, then the
# on-failure queue. response_url answers for 30 minutes, so older work is not worth running.
LAZY_RETRY_ATTEMPTS = 2
LAZY_MAX_EVENT_AGE_SECONDS = 30 * 60

SLACK_EVENTS_PATH = "slack/events"
LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks the function code
DATABASE_ASSET_DIR = "database-config"  # the database config's directory, inside the code
CA_BUNDLE_ASSET = "rds-ca-bundle.pem"
