"""Stage 1: resolve the snapshot reference and decide exactly what will be copied, deleted, created.

`resolve_plan` only reads; the bot calls it for `--dry-run` and to refuse bad requests early.
`validate_request` is the state machine's first task: it resolves and stores the plan.
"""

from __future__ import annotations

from typing import Any, TypedDict

from pipeline import rds
from pipeline.context import PipelineContext
from pipeline.errors import (
    ConfigurationError,
    InvalidRequestError,
    SnapshotNotAvailableError,
    SnapshotNotFoundError,
    TargetExistsError,
)
from pipeline.models import Plan, RestoreRequest, Stage, StageStatus
from pipeline.naming import SnapshotKind, SnapshotRef
from pipeline.stages.common import failing_stage, instances_phrase

MAX_IDENTIFIER = 63


class ValidateResult(TypedDict):
    needs_copy: bool
    delete_target: bool
    target_exists: bool
    max_wait_attempts: int


def copy_snapshot_id(operation_id: str) -> str:
    return f"{operation_id}-copy"


def final_snapshot_id(target_cluster: str, operation_id: str) -> str:
    return f"{target_cluster}-final-{operation_id}"


def instance_ids(target_cluster: str, count: int) -> list[str]:
    return [f"{target_cluster}-{number}" for number in range(1, count + 1)]


def resolve_plan(request: RestoreRequest, operation_id: str, ctx: PipelineContext) -> Plan:
    """Read the snapshot and the target and build the plan; raise a specific error if it cannot be
    carried out (snapshot missing or not available, target exists without replace, protected)."""
    settings = ctx.settings
    target_region = settings.region
    ref = request.snapshot_ref
    source_region = _source_region(ref, request.source_region, target_region)
    snapshot, shared = _find_snapshot(ctx.clients.rds(source_region), ref, source_region)
    snapshot_id = str(snapshot["DBClusterSnapshotIdentifier"])
    if snapshot.get("Status") != rds.AVAILABLE:
        raise SnapshotNotAvailableError(
            f"snapshot `{snapshot_id}` in {source_region} is `{snapshot.get('Status')}`, "
            "not `available`"
        )

    target = rds.describe_cluster(ctx.clients.rds(), request.target_cluster)
    if target is not None:
        rds.ensure_not_protected(target, settings.protected_clusters)
        if not request.replace:
            raise TargetExistsError(
                f"cluster `{request.target_cluster}` already exists in {target_region}; "
                "ask with --replace to delete it (a final snapshot is kept)"
            )

    snapshot_type = "shared" if shared else str(snapshot.get("SnapshotType", "manual"))
    elsewhere = shared or source_region != target_region
    # Deleting a cluster deletes its automated snapshots, so one of the target itself is first
    # copied to a manual snapshot that survives the deletion.
    of_doomed_target = (
        target is not None
        and snapshot_type == "automated"
        and snapshot.get("DBClusterIdentifier") == request.target_cluster
    )
    needs_copy = elsewhere or of_doomed_target
    encrypted = bool(snapshot.get("StorageEncrypted"))
    if needs_copy and encrypted and elsewhere and not settings.kms_key_id:
        raise ConfigurationError(
            f"snapshot `{snapshot_id}` is encrypted and must be copied into {target_region}: "
            "set AURORA_RESTORE_KMS_KEY_ID to a KMS key of that region"
        )
    instances = instance_ids(request.target_cluster, request.instance_count)
    if any(len(name) > MAX_IDENTIFIER for name in instances):
        raise InvalidRequestError(
            f"target_cluster: `{request.target_cluster}` is too long to name its instances "
            f"(`{instances[-1]}` exceeds {MAX_IDENTIFIER} characters)"
        )
    copy_id = copy_snapshot_id(operation_id) if needs_copy else None
    return Plan(
        source_snapshot_id=snapshot_id,
        source_snapshot_arn=str(snapshot["DBClusterSnapshotArn"]),
        source_region=source_region,
        snapshot_created_at=snapshot.get("SnapshotCreateTime"),
        snapshot_type=snapshot_type,
        engine=str(snapshot["Engine"]),
        engine_version=str(snapshot["EngineVersion"]),
        encrypted=encrypted,
        kms_key_id=(settings.kms_key_id if needs_copy and elsewhere else None)
        or snapshot.get("KmsKeyId"),
        target_region=target_region,
        needs_copy=needs_copy,
        copy_snapshot_id=copy_id,
        restore_snapshot_id=copy_id or snapshot_id,
        target_cluster=request.target_cluster,
        delete_target=target is not None,
        final_snapshot_id=(
            final_snapshot_id(request.target_cluster, operation_id) if target is not None else None
        ),
        existing_instances=rds.member_ids(target) if target is not None else [],
        instance_class=request.instance_class or settings.default_instance_class,
        instance_count=request.instance_count,
        instance_ids=instances,
    )


def describe_plan(plan: Plan) -> str:
    """The plan in one paragraph, as a person approving it needs to read it."""
    taken = (
        f", taken {plan.snapshot_created_at:%Y-%m-%d %H:%M} UTC" if plan.snapshot_created_at else ""
    )
    parts = [
        f"Restore `{plan.source_snapshot_id}` ({plan.engine} {plan.engine_version}{taken}) "
        f"from {plan.source_region} into `{plan.target_cluster}` in {plan.target_region}"
    ]
    if plan.needs_copy:
        parts.append(f"copy the snapshot first as `{plan.copy_snapshot_id}`")
    if plan.delete_target:
        parts.append(
            f"delete the existing `{plan.target_cluster}` (final snapshot `{plan.final_snapshot_id}`)"
        )
    parts.append(f"create {instances_phrase(plan.instance_count, plan.instance_class)}")
    return "; ".join(parts)


def validate_request(operation_id: str, ctx: PipelineContext) -> ValidateResult:
    """Resolve and store the plan once; a retried invocation returns the plan already stored."""
    operation = ctx.store.get(operation_id)
    previous = operation.stages.get(Stage.VALIDATE)
    plan = operation.plan
    if plan is None or previous is None or previous.status != StageStatus.SUCCEEDED:
        request = operation.request
        ctx.reporter.started(
            operation_id,
            Stage.VALIDATE,
            f"Resolving `{request.snapshot}` for `{request.target_cluster}`",
        )
        with failing_stage(ctx, operation_id, Stage.VALIDATE):
            plan = resolve_plan(request, operation_id, ctx)
        ctx.store.update(operation_id, plan=plan)
        ctx.reporter.finished(
            operation_id,
            Stage.VALIDATE,
            StageStatus.SUCCEEDED,
            describe_plan(plan),
            resources={"source_snapshot": plan.source_snapshot_arn},
        )
    return ValidateResult(
        needs_copy=plan.needs_copy,
        delete_target=plan.delete_target,
        target_exists=plan.target_exists,
        max_wait_attempts=ctx.settings.max_wait_attempts,
    )


def _source_region(ref: SnapshotRef, asked: str | None, target_region: str) -> str:
    if ref.kind == SnapshotKind.ARN:
        assert ref.region is not None  # the ARN pattern always captures it
        if asked is not None and asked != ref.region:
            raise InvalidRequestError(
                f"source_region: `{asked}` contradicts the snapshot ARN's region `{ref.region}`"
            )
        return ref.region
    return asked or target_region


def _find_snapshot(client: Any, ref: SnapshotRef, region: str) -> tuple[dict[str, Any], bool]:
    """The snapshot the reference names, and whether another account shared it with us."""
    if ref.kind == SnapshotKind.LATEST:
        return _latest_snapshot(client, ref.name, region), False
    if ref.kind == SnapshotKind.ARN:
        own = rds.describe_cluster_snapshot(client, ref.name, snapshot_type=_type_of(ref.name))
        if own is not None and str(own.get("DBClusterSnapshotArn", "")).lower() == ref.text.lower():
            return own, False
        shared = rds.shared_snapshot(client, ref.text)
        if shared is not None:
            return shared, True
        raise SnapshotNotFoundError(f"no snapshot `{ref.text}` is visible to this account")
    found = rds.describe_cluster_snapshot(client, ref.name, snapshot_type=_type_of(ref.name))
    if found is None:
        raise SnapshotNotFoundError(f"no cluster snapshot `{ref.name}` in {region}")
    return found, False


def _type_of(snapshot_id: str) -> str | None:
    return "automated" if snapshot_id.startswith("rds:") else None


def _latest_snapshot(client: Any, cluster_id: str, region: str) -> dict[str, Any]:
    candidates = [
        snapshot
        for snapshot in rds.cluster_snapshots(client, cluster_id)
        if snapshot.get("Status") == rds.AVAILABLE and snapshot.get("SnapshotCreateTime")
    ]
    if not candidates:
        raise SnapshotNotFoundError(f"cluster `{cluster_id}` has no available snapshot in {region}")
    return max(candidates, key=lambda snapshot: snapshot["SnapshotCreateTime"])
