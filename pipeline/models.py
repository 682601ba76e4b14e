"""Typed models shared by the pipeline, the bot and the local stack.

Identifier rules follow AWS's documented naming constraints, so a bad name is refused before any AWS
call, with a message naming the field and what is allowed.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

CLUSTER_ID_RULE = (
    "1-63 letters, digits or hyphens, starting with a letter, "
    "with no two consecutive hyphens and no trailing hyphen"
)
SNAPSHOT_ID_RULE = (
    "a snapshot name (1-255 letters, digits or hyphens, starting with a letter, no two consecutive "
    "hyphens, no trailing hyphen), an automated snapshot name `rds:<name>`, a snapshot ARN, "
    "or `latest:<source-cluster>`"
)
# Matched with fullmatch and ASCII digits only: `$` also matches before a trailing newline, and
# `\d` matches any Unicode digit (`٣`), neither of which AWS accepts.
_IDENT = re.compile(r"[A-Za-z](?:[A-Za-z0-9]|-(?!-))*(?<!-)")
_SNAPSHOT_ARN = re.compile(
    r"arn:aws[a-z-]*:rds:(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]):(?P<account>[0-9]{12}):"
    r"cluster-snapshot:(?P<name>(?:rds:)?[A-Za-z][A-Za-z0-9-]*)"
)
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]")
_INSTANCE_CLASS = re.compile(r"db\.[a-z0-9]+\.[a-z0-9]+")
_OPERATION_ID = re.compile(r"ar-[0-9]{14}-[0-9a-f]{6}")
LATEST_PREFIX = "latest:"
MAX_INSTANCES = 15  # Aurora allows one writer and up to 15 readers; we create at most 15 in all.


def is_identifier(value: str, max_length: int) -> bool:
    return 0 < len(value) <= max_length and _IDENT.fullmatch(value) is not None


def _is_snapshot_name(value: str) -> bool:
    """A manual snapshot name, or `rds:<name>` for an automated one (255 characters in all)."""
    if value.startswith("rds:"):
        return is_identifier(value[4:], 251)
    return is_identifier(value, 255)


def validate_cluster_id(value: str) -> str:
    if not is_identifier(value, 63):
        raise ValueError(f"`{value}` is not a valid cluster identifier: use {CLUSTER_ID_RULE}")
    return value.lower()


def validate_region(value: str) -> str:
    if _REGION.fullmatch(value) is None:
        raise ValueError(f"`{value}` is not an AWS region name such as `eu-west-1`")
    return value


def validate_instance_class(value: str) -> str:
    if _INSTANCE_CLASS.fullmatch(value) is None:
        raise ValueError(f"`{value}` is not a DB instance class such as `db.r6g.large`")
    return value


def validate_operation_id(value: str) -> str:
    if _OPERATION_ID.fullmatch(value) is None:
        raise ValueError(f"`{value}` is not an operation id such as `ar-20260101120000-1a2b3c`")
    return value


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


class SnapshotKind(StrEnum):
    MANUAL = "manual"
    AUTOMATED = "automated"
    ARN = "arn"
    LATEST = "latest"


class SnapshotRef(BaseModel):
    """A parsed snapshot reference: the user's text plus what kind of reference it is."""

    model_config = ConfigDict(frozen=True)

    text: str
    kind: SnapshotKind
    name: str  # snapshot identifier, or the source cluster for `latest:`
    region: str | None = None  # only known for ARNs
    account: str | None = None

    @classmethod
    def parse(cls, text: str) -> SnapshotRef:
        text = text.strip()
        if text.startswith(LATEST_PREFIX):
            cluster = text[len(LATEST_PREFIX) :]
            if not is_identifier(cluster, 63):
                raise ValueError(
                    f"`{text}`: after `latest:` give a source cluster identifier ({CLUSTER_ID_RULE})"
                )
            return cls(text=text, kind=SnapshotKind.LATEST, name=cluster.lower())
        if text.startswith("arn:"):
            match = _SNAPSHOT_ARN.fullmatch(text)
            if match is None or not _is_snapshot_name(match["name"]):
                raise ValueError(
                    f"`{text}` is not a cluster snapshot ARN such as "
                    "`arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:my-snap`"
                )
            return cls(
                text=text,
                kind=SnapshotKind.ARN,
                name=match["name"],
                region=match["region"],
                account=match["account"],
            )
        if text.startswith("rds:"):
            if not _is_snapshot_name(text):
                raise ValueError(
                    f"`{text}` is not a valid snapshot reference: use {SNAPSHOT_ID_RULE}"
                )
            return cls(text=text, kind=SnapshotKind.AUTOMATED, name=text.lower())
        if not is_identifier(text, 255):
            raise ValueError(f"`{text}` is not a valid snapshot reference: use {SNAPSHOT_ID_RULE}")
        return cls(text=text, kind=SnapshotKind.MANUAL, name=text.lower())


class RestoreRequest(BaseModel):
    """What a user asked for. `origin` (e.g. Slack channel) is stored, never interpreted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    snapshot: str
    target_cluster: ClusterId
    replace: bool = False
    source_region: Region | None = None
    instance_class: InstanceClass | None = None
    instance_count: int = Field(default=1, ge=1, le=MAX_INSTANCES)
    dry_run: bool = False
    requester: str = Field(min_length=1, max_length=200)
    origin: dict[str, str] = Field(default_factory=dict)

    @field_validator("snapshot")
    @classmethod
    def _snapshot_reference(cls, value: str) -> str:
        SnapshotRef.parse(value)
        return value.strip()

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
    """The stages a user sees, in order. Check loops report under the stage they wait for."""

    VALIDATE = "validate"
    APPROVAL = "approval"
    COPY_SNAPSHOT = "copy_snapshot"
    DELETE_TARGET = "delete_target"
    RESTORE_CLUSTER = "restore_cluster"
    SETUP_DATABASE = "setup_database"
    ARCHIVE = "archive"
    NOTIFY = "notify"

    @property
    def label(self) -> str:
        return STAGE_TITLES[self]


STAGE_TITLES: dict[Stage, str] = {
    Stage.VALIDATE: "Validate request",
    Stage.APPROVAL: "Approval",
    Stage.COPY_SNAPSHOT: "Copy snapshot",
    Stage.DELETE_TARGET: "Delete existing target",
    Stage.RESTORE_CLUSTER: "Restore cluster and instances",
    Stage.SETUP_DATABASE: "Set up database users",
    Stage.ARCHIVE: "Clean up",
    Stage.NOTIFY: "Finish",
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
    target_exists: bool = False
    delete_target: bool = False
    final_snapshot_id: str | None = None
    existing_instances: list[str] = Field(default_factory=list)
    instance_class: str
    instance_count: int = 1
    instance_ids: list[str] = Field(default_factory=list)


class StageRecord(BaseModel):
    status: StageStatus
    started_at: datetime | None = None
    ended_at: datetime | None = None
    detail: str = ""

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
