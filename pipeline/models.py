"""Typed models shared by the pipeline, the bot and the local stack.

Identifier rules follow AWS's documented naming constraints, so a bad name is refused before any AWS
call, with a message naming the field and what is allowed.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from pipeline.naming import (
    SnapshotRef,
    validate_cluster_id,
    validate_instance_class,
    validate_instance_count,
    validate_operation_id,
    validate_region,
    validate_requester,
    validate_snapshot_reference,
)
from pipeline.retention_terms import RetentionTerms

ClusterId = Annotated[str, AfterValidator(validate_cluster_id)]
Region = Annotated[str, AfterValidator(validate_region)]
InstanceClass = Annotated[str, AfterValidator(validate_instance_class)]
OperationId = Annotated[str, AfterValidator(validate_operation_id)]


def new_operation_id(now: datetime | None = None) -> str:
    """A sortable, unique id that is also a valid execution name and snapshot-name suffix."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"ar-{moment:%Y%m%d%H%M%S}-{secrets.token_hex(3)}"


def utc_now() -> datetime:
    return datetime.now(UTC)


class RestoreRequest(BaseModel):
    """What a user asked for. `origin` (e.g. Slack channel) is stored, never interpreted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    snapshot: Annotated[str, AfterValidator(validate_snapshot_reference)]
    target_cluster: ClusterId
    replace: bool = False
    # With `replace`: delete the target, then restore into its name (no room for two clusters);
    # without, the restore goes beside the target and the names are swapped (pipeline.swap_plan).
    in_place: bool = False
    source_region: Region | None = None
    instance_class: InstanceClass | None = None
    instance_count: Annotated[int, AfterValidator(validate_instance_count)] = 1
    dry_run: bool = False
    retention: RetentionTerms | None = None  # the policy's for the target (bot.policy)
    # `/restore rollback <op>`: the names go back to the cluster that operation's replace kept;
    # `snapshot` then holds that kept cluster's name, for display (pipeline.rollback).
    rollback_of: OperationId | None = None
    requester: Annotated[str, AfterValidator(validate_requester)]
    origin: dict[str, str] = Field(default_factory=dict)

    @property
    def snapshot_ref(self) -> SnapshotRef:
        return SnapshotRef.parse(self.snapshot)


class OperationStatus(StrEnum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    APPROVED = "APPROVED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    DENIED = "DENIED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {
        OperationStatus.SUCCEEDED,
        OperationStatus.FAILED,
        OperationStatus.DENIED,
        OperationStatus.EXPIRED,
        OperationStatus.CANCELLED,
    }
)
ACTIVE_STATUSES = frozenset(set(OperationStatus) - TERMINAL_STATUSES)


class Stage(StrEnum):
    """The stages a user sees, in order. Check loops report under the stage they wait for.

    The values are stored (operations' stage records, audit actions such as `archive.succeeded`,
    progress event ids, the metrics' Stage dimension), so they stay as first written even where
    the member's name says better what the stage does.
    """

    VALIDATE = "validate"
    APPROVAL = "approval"
    START_KEPT = "start_kept"  # a rollback starts the cluster a replace kept, stopped
    COPY_SNAPSHOT = "copy_snapshot"
    DELETE_TARGET = "delete_target"
    RESTORE_CLUSTER = "restore_cluster"
    SETUP_DATABASE = "setup_database"
    SWAP = "swap"  # the restored cluster takes the target's name; the old one is kept
    DELETE_COPY = "archive"  # deletes the intermediate snapshot copy
    FINISH = "notify"  # the operation ends: its terminal event, success or not
    # After the restore: the retention sweep (pipeline.retention), never on the card's checklist.
    RETENTION = "retention"

    @property
    def label(self) -> str:
        return STAGE_TITLES[self]


STAGE_TITLES: dict[Stage, str] = {
    Stage.VALIDATE: "Validate request",
    Stage.APPROVAL: "Approval",
    Stage.START_KEPT: "Start the kept cluster",
    Stage.COPY_SNAPSHOT: "Copy snapshot",
    Stage.DELETE_TARGET: "Delete existing target",
    Stage.RESTORE_CLUSTER: "Restore cluster and instances",
    Stage.SETUP_DATABASE: "Set up database users",
    Stage.SWAP: "Swap in the restored cluster",
    Stage.DELETE_COPY: "Clean up",
    Stage.FINISH: "Finish",
    Stage.RETENTION: "Retention sweep",
}


class StageStatus(StrEnum):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class Plan(BaseModel):
    """The resolved plan: exactly what the pipeline will copy, delete and create."""

    source_snapshot_id: str
    source_snapshot_arn: str
    source_region: str
    snapshot_created_at: datetime | None = None
    snapshot_type: str = "manual"
    engine: str
    engine_version: str
    encrypted: bool = False
    kms_key_id: str | None = None
    target_region: str
    needs_copy: bool = False
    copy_snapshot_id: str | None = None  # the intermediate copy this operation makes
    restore_snapshot_id: str  # what RestoreDBClusterFromSnapshot uses
    target_cluster: str
    delete_target: bool = False  # an in-place replace: the target is deleted before the restore
    final_snapshot_id: str | None = None
    existing_instances: list[str] = Field(default_factory=list)
    instance_class: str
    instance_count: int = 1
    instance_ids: list[str] = Field(default_factory=list)
    # A replace through a swap (pipeline.swap_plan): the restore goes to `staging_cluster_id`
    # beside the target, and only once it is proven do the names change; the old target is then
    # `kept_cluster_id`, its instances `kept_instance_ids` (in `existing_instances`' order).
    swap_target: bool = False
    staging_cluster_id: str | None = None
    staging_instance_ids: list[str] = Field(default_factory=list)
    kept_cluster_id: str | None = None
    kept_instance_ids: list[str] = Field(default_factory=list)
    target_resource_id: str | None = None  # the replaced cluster's, which renames keep
    # In place: a manual snapshot of the target, available before any instance is touched.
    safety_snapshot_id: str | None = None
    retention: RetentionTerms | None = None  # None: stored before retention was planned
    # A rollback of `rollback_of` (pipeline.rollback): a swap whose incoming cluster is the one
    # that operation kept (`staging_cluster_id`, known by its DbClusterResourceId: it carries no
    # tag of this operation); AWSCURRENT of each credential secret goes back to the version
    # (name -> version id) the replace made AWSPREVIOUS, read when the rollback begins.
    rollback_of: str | None = None
    incoming_resource_id: str | None = None
    rollback_secrets: dict[str, str] = Field(default_factory=dict)

    @property
    def rollback(self) -> bool:
        return self.rollback_of is not None

    @property
    def target_exists(self) -> bool:
        """Whether the plan replaces an existing target, swapped or in place (ValidateRequest's
        output, docs/contracts.md)."""
        return self.delete_target or self.swap_target

    @property
    def restore_cluster(self) -> str:
        """The cluster the restore creates: the staging name of a swap, else the target."""
        return self.staging_cluster_id or self.target_cluster

    @property
    def restore_instance_ids(self) -> list[str]:
        return self.staging_instance_ids or self.instance_ids


class StageRecord(BaseModel):
    status: StageStatus
    started_at: datetime | None = None
    ended_at: datetime | None = None
    detail: str = ""
    # Whether this status's progress event went out; written False with the record, True once
    # published, so a retried stage publishes an event a failed publish left behind (older
    # records, from before the flag, were all published).
    announced: bool = True

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class Operation(BaseModel):
    """One restore operation as stored in the operations table (the task token is not here)."""

    operation_id: str
    status: OperationStatus
    request: RestoreRequest
    plan: Plan | None = None
    current_stage: Stage | None = None
    stages: dict[Stage, StageRecord] = Field(default_factory=dict)
    approvers: list[str] = Field(default_factory=list)
    required_approvals: int = 1
    decided_by: str | None = None
    cancelled_by: str | None = None
    slack_channel: str | None = None
    slack_message_ts: str | None = None
    # The /restore command's response_url is kept with the item too, like the task token, but
    # not here: a credential, never logged, audited or shown (bot/response_url.py).
    execution_arn: str | None = None
    resources: dict[str, str] = Field(default_factory=dict)
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    approval_expires_at: datetime | None = None

    @property
    def target_cluster(self) -> str:
        return self.request.target_cluster


class ProgressEvent(BaseModel):
    """What the pipeline publishes to SNS for each stage; the bot turns it into Slack messages."""

    event_id: str  # deterministic per (operation, stage, status): consumers drop duplicates
    operation_id: str
    stage: Stage
    status: StageStatus
    detail: str
    resources: dict[str, str] = Field(default_factory=dict)
    duration_seconds: float | None = None
    operation_status: OperationStatus | None = None
    at: datetime = Field(default_factory=utc_now)

    @classmethod
    def for_stage(
        cls, operation_id: str, stage: Stage, status: StageStatus, detail: str, **extra: Any
    ) -> ProgressEvent:
        return cls(
            event_id=f"{operation_id}:{stage}:{status}",
            operation_id=operation_id,
            stage=stage,
            status=status,
            detail=detail,
            **extra,
        )


class AuditEvent(BaseModel):
    operation_id: str
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any] = Field(default_factory=dict)
