"""The Lambda functions of the system: deployed name, handler, and the ASL placeholder they fill.

The CDK app deploys the same handlers; the local stack registers them with its in-process runtime.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str
    placeholder: str | None = None  # the `${...}` in restore.asl.json this function's ARN fills


BOT_FUNCTION = "aurora-restore-bot"
NOTIFIER_FUNCTION = "aurora-restore-notifier"

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(BOT_FUNCTION, "bot.lambda_entry.handler"),
    FunctionSpec(NOTIFIER_FUNCTION, "bot.notifier.handler"),
    FunctionSpec(
        "aurora-restore-request-approval",
        "bot.request_approval.handler",
        "RequestApprovalFunctionArn",
    ),
    FunctionSpec(
        "aurora-restore-validate", "pipeline.handlers.validate.handler", "ValidateFunctionArn"
    ),
    FunctionSpec(
        "aurora-restore-lifecycle", "pipeline.handlers.lifecycle.handler", "LifecycleFunctionArn"
    ),
    FunctionSpec(
        "aurora-restore-copy-snapshot",
        "pipeline.handlers.copy_snapshot.handler",
        "CopySnapshotFunctionArn",
    ),
    FunctionSpec(
        "aurora-restore-check-copy", "pipeline.handlers.check_copy.handler", "CheckCopyFunctionArn"
    ),
    FunctionSpec(
        "aurora-restore-delete-target",
        "pipeline.handlers.delete_target.handler",
        "DeleteTargetFunctionArn",
    ),
    FunctionSpec(
        "aurora-restore-check-delete",
        "pipeline.handlers.check_delete.handler",
        "CheckDeleteFunctionArn",
    ),
    FunctionSpec(
        "aurora-restore-restore-cluster",
        "pipeline.handlers.restore_cluster.handler",
        "RestoreClusterFunctionArn",
    ),
    FunctionSpec(
        "aurora-restore-check-restore",
        "pipeline.handlers.check_restore.handler",
        "CheckRestoreFunctionArn",
    ),
    FunctionSpec(
        "aurora-restore-setup-database",
        "pipeline.handlers.setup_database.handler",
        "SetupDatabaseFunctionArn",
    ),
    FunctionSpec(
        "aurora-restore-archive", "pipeline.handlers.archive.handler", "ArchiveFunctionArn"
    ),
    FunctionSpec("aurora-restore-notify", "pipeline.handlers.notify.handler", "NotifyFunctionArn"),
)
