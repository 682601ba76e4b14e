"""The plan: exactly what a restore will copy, delete and create.

`build_plan` is the decision, a pure function of the request and the facts read from RDS (the
snapshot, the target); `resolve_plan` reads those facts and calls it. The bot resolves the plan
once, shows it on the approval card and stores it; ValidateRequest (pipeline.stages.plan)
re-checks the stored plan's facts instead of resolving it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline import rds
from pipeline.context import PipelineContext
from pipeline.errors import (
    ConfigurationError,
    InvalidRequestError,
    SnapshotNotAvailableError,
    SnapshotNotFoundError,
    TargetExistsError,
)
from pipeline.models import Plan, RestoreRequest
from pipeline.naming import SnapshotKind, SnapshotRef
from pipeline.settings import PipelineSettings
from pipeline.stages.common import instances_phrase
from pipeline.swap_plan import (
    MAX_IDENTIFIER,
    SwapNames,
    ensure_snapshot_name,
    numbered_members,
    safety_snapshot_id,
)


@dataclass(frozen=True)
class SnapshotFacts:
    """The source snapshot as RDS describes it, where it is, and whether another account shared
    it with us."""

    description: Mapping[str, Any]
    region: str
    shared: bool = False


def copy_snapshot_id(operation_id: str) -> str:
    return f"{operation_id}-copy"


def final_snapshot_id(target_cluster: str, operation_id: str) -> str:
    return f"{target_cluster}-final-{operation_id}"


def instance_ids(target_cluster: str, count: int) -> list[str]:
    return numbered_members(target_cluster, count)


def resolve_plan(request: RestoreRequest, operation_id: str, ctx: PipelineContext) -> Plan:
    """Read the snapshot and the target, then build the plan (`build_plan`'s errors)."""
    source_region = source_region_of(request, ctx.settings.region)
    description, shared = _find_snapshot(
        ctx.clients.rds(source_region), request.snapshot_ref, source_region
    )
    target = rds.describe_cluster(ctx.clients.rds(), request.target_cluster)
    return build_plan(
        request,
        operation_id,
        snapshot=SnapshotFacts(description, source_region, shared),
        target=target,
        settings=ctx.settings,
    )


def build_plan(
    request: RestoreRequest,
    operation_id: str,
    *,
    snapshot: SnapshotFacts,
    target: Mapping[str, Any] | None,
    settings: PipelineSettings,
) -> Plan:
    """The plan for `request`, given the snapshot and the target (None: it does not exist); raise
    a specific error if it cannot be carried out (snapshot not available, target exists without
    replace, protected, an encrypted copy without a key, names too long)."""
    target_region = settings.region
    described, source_region, shared = snapshot.description, snapshot.region, snapshot.shared
    snapshot_id = str(described["DBClusterSnapshotIdentifier"])
    ensure_snapshot_available(described, source_region)
    if target is not None:
        rds.ensure_not_protected(target, settings.protected_clusters)
        if not request.replace:
            raise TargetExistsError(
                f"cluster `{request.target_cluster}` already exists in {target_region}; "
                "ask with --replace to replace it (the current cluster is kept for rollback)"
            )
    in_place = target is not None and request.in_place

    snapshot_type = "shared" if shared else str(described.get("SnapshotType", "manual"))
    elsewhere = shared or source_region != target_region
    # Deleting a cluster deletes its automated snapshots, so one of the target itself is first
    # copied to a manual snapshot that survives the deletion (a swap keeps the old cluster).
    of_doomed_target = (
        in_place
        and snapshot_type == "automated"
        and described.get("DBClusterIdentifier") == request.target_cluster
    )
    needs_copy = elsewhere or of_doomed_target
    encrypted = bool(described.get("StorageEncrypted"))
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
    existing = rds.member_ids(target) if target is not None else []
    swap = None
    if in_place:
        ensure_snapshot_name(
            safety_snapshot_id(request.target_cluster, operation_id), request.target_cluster
        )
    if target is not None and not in_place:
        _ensure_no_custom_endpoints(target)
        swap = SwapNames.build(
            request.target_cluster,
            operation_id,
            instance_count=request.instance_count,
            existing=existing,
        )
        swap.ensure_valid()
    return Plan(
        source_snapshot_id=snapshot_id,
        source_snapshot_arn=str(described["DBClusterSnapshotArn"]),
        source_region=source_region,
        snapshot_created_at=described.get("SnapshotCreateTime"),
        snapshot_type=snapshot_type,
        engine=str(described["Engine"]),
        engine_version=str(described["EngineVersion"]),
        encrypted=encrypted,
        kms_key_id=(settings.kms_key_id if needs_copy and elsewhere else None)
        or described.get("KmsKeyId"),
        target_region=target_region,
        needs_copy=needs_copy,
        copy_snapshot_id=copy_id,
        restore_snapshot_id=copy_id or snapshot_id,
        target_cluster=request.target_cluster,
        delete_target=in_place,
        final_snapshot_id=(
            final_snapshot_id(request.target_cluster, operation_id) if in_place else None
        ),
        safety_snapshot_id=(
            safety_snapshot_id(request.target_cluster, operation_id) if in_place else None
        ),
        existing_instances=existing,
        instance_class=request.instance_class or settings.default_instance_class,
        instance_count=request.instance_count,
        instance_ids=instances,
        swap_target=swap is not None,
        staging_cluster_id=swap.staging if swap else None,
        staging_instance_ids=swap.staging_instances if swap else [],
        kept_cluster_id=swap.kept if swap else None,
        kept_instance_ids=swap.kept_instances if swap else [],
        target_resource_id=(
            str(target["DbClusterResourceId"])
            if target is not None and target.get("DbClusterResourceId")
            else None
        ),
        retention=request.retention or settings.default_retention(),
    )


def _ensure_no_custom_endpoints(target: Mapping[str, Any]) -> None:
    """Custom endpoints belong to their cluster, not to its name: after a swap they would still
    lead to the old cluster, stopped (DBCluster.CustomEndpoints, botocore)."""
    endpoints = [str(e) for e in target.get("CustomEndpoints", [])]
    if endpoints:
        raise InvalidRequestError(
            f"`{target['DBClusterIdentifier']}` has custom endpoints ({', '.join(endpoints)}), "
            "which would stay with the old cluster after a swap: remove them, or replace it "
            "with --replace --in-place"
        )


def ensure_snapshot_available(described: Mapping[str, Any], region: str) -> None:
    if described.get("Status") != rds.AVAILABLE:
        raise SnapshotNotAvailableError(
            f"snapshot `{described['DBClusterSnapshotIdentifier']}` in {region} is "
            f"`{described.get('Status')}`, not `available`"
        )


def recheck_plan(plan: Plan, request: RestoreRequest, ctx: PipelineContext) -> None:
    """Read again the facts the stored plan was built on and refuse it if they changed."""
    client = ctx.clients.rds(plan.source_region)
    if plan.snapshot_type == "shared":
        described = rds.shared_snapshot(client, plan.source_snapshot_arn)
    else:
        described = rds.describe_cluster_snapshot(
            client, plan.source_snapshot_id, snapshot_type=_type_of(plan.source_snapshot_id)
        )
    check_plan(
        plan,
        request,
        snapshot=described,
        target=rds.describe_cluster(ctx.clients.rds(), plan.target_cluster),
        settings=ctx.settings,
    )


def check_plan(
    plan: Plan,
    request: RestoreRequest,
    *,
    snapshot: Mapping[str, Any] | None,
    target: Mapping[str, Any] | None,
    settings: PipelineSettings,
) -> None:
    """Is the plan the approvers see still safe? The snapshot must still be there and available,
    and the target must not have become protected, nor appeared since a plan that would not
    replace it (a target gone since is fine: the delete stage finds nothing to delete)."""
    if snapshot is None:
        raise SnapshotNotFoundError(
            f"snapshot `{plan.source_snapshot_id}` is no longer in {plan.source_region}"
        )
    ensure_snapshot_available(snapshot, plan.source_region)
    if target is None:
        return
    rds.ensure_not_protected(target, settings.protected_clusters)
    if not plan.target_exists:
        raise TargetExistsError(
            f"cluster `{plan.target_cluster}` was created in {plan.target_region} after the plan "
            "was made, and the plan does not replace it; ask again"
            + ("" if request.replace else " with --replace to delete it")
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
            f"snapshot the existing `{plan.target_cluster}` as `{plan.safety_snapshot_id}`, then "
            f"delete it (final snapshot `{plan.final_snapshot_id}`)"
        )
    parts.append(f"create {instances_phrase(plan.instance_count, plan.instance_class)}")
    if plan.swap_target:
        parts.append(
            f"restore beside it as `{plan.restore_cluster}`, then swap names: the current "
            f"`{plan.target_cluster}` is kept, stopped, as `{plan.kept_cluster_id}`"
        )
    return "; ".join(parts)


def source_region_of(request: RestoreRequest, target_region: str) -> str:
    """Where the snapshot is: the ARN's region, else `--source-region`, else the target's."""
    ref, asked = request.snapshot_ref, request.source_region
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
