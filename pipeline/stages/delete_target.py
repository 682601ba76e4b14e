"""Stages 4 and 5 of an in-place replace: first a manual snapshot of the target, available
before anything is touched (a refusal, such as the snapshot quota, then costs nothing); then
delete the target (instances first, then the cluster with a final snapshot named after the
operation), and wait until it is gone and the final snapshot exists. The safety snapshot is
tagged with its keep-until (the plan's retention); DeleteDBCluster takes no tags for the final
snapshot, which the retention sweep tags.

Protection is checked again here, right before acting: a tag or deletion protection may have been
added since the plan was approved. A protected cluster is refused before anything is touched.
"""

from __future__ import annotations

from typing import Any, TypedDict

from botocore.exceptions import ClientError

from pipeline import rds
from pipeline.aws_errors import aws_call, error_code
from pipeline.context import PipelineContext
from pipeline.errors import (
    FatalError,
    ProtectedClusterError,
    ResourceFailedError,
    SnapshotQuotaError,
)
from pipeline.models import Plan, Stage, StageStatus, utc_now
from pipeline.retention_terms import keep_until_tag
from pipeline.stages.common import CheckResult, failing_stage, load_plan, ready, still_waiting
from pipeline.wait_budgets import WaitLoop

SNAPSHOT_EXISTS = "DBClusterSnapshotAlreadyExistsFault"


class DeleteResult(TypedDict):
    final_snapshot_id: str | None


def snapshot_target(operation_id: str, ctx: PipelineContext) -> DeleteResult:
    """Take the safety snapshot of the target while it is whole; refuses a protected target."""
    operation, plan = load_plan(ctx, operation_id)
    safety = plan.safety_snapshot_id
    if not plan.delete_target or safety is None:
        return DeleteResult(final_snapshot_id=None)
    target = plan.target_cluster
    ctx.reporter.started(
        operation_id,
        Stage.DELETE_TARGET,
        f"Snapshotting `{target}` as `{safety}` before anything is deleted",
    )
    client = ctx.clients.rds()
    now = utc_now()
    with failing_stage(ctx, operation_id, Stage.DELETE_TARGET):
        cluster = rds.describe_cluster(client, target)
        if cluster is None:
            return DeleteResult(final_snapshot_id=None)  # gone since: nothing to keep
        rds.ensure_not_protected(cluster, ctx.settings.protected_clusters)
        with aws_call(f"snapshot cluster {target}"):
            try:
                client.create_db_cluster_snapshot(
                    DBClusterIdentifier=target,
                    DBClusterSnapshotIdentifier=safety,
                    Tags=[
                        *rds.operation_tags(operation_id, operation.request.requester),
                        keep_until_tag(ctx.settings.retention_of(plan).snapshot_keep_until(now)),
                    ],
                )
            except ClientError as exc:
                if error_code(exc) != SNAPSHOT_EXISTS:
                    raise
                _ensure_own_snapshot(client, safety, operation_id)
    ctx.store.update(operation_id, resources={**operation.resources, "safety_snapshot": safety})
    return DeleteResult(final_snapshot_id=None)


def check_safety_snapshot(operation_id: str, attempt: int, ctx: PipelineContext) -> CheckResult:
    """Ready when the safety snapshot is available (or the target is gone: nothing to keep)."""
    _, plan = load_plan(ctx, operation_id)
    safety = plan.safety_snapshot_id
    client = ctx.clients.rds()
    with failing_stage(ctx, operation_id, Stage.DELETE_TARGET):
        snapshot = rds.describe_cluster_snapshot(client, safety) if safety else None
        if snapshot is None:
            if safety is None or rds.describe_cluster(client, plan.target_cluster) is None:
                return ready(attempt)
            raise ResourceFailedError(
                f"safety snapshot `{safety}` disappeared; nothing was deleted"
            )
        status = str(snapshot.get("Status", ""))
        rds.raise_if_failed("safety snapshot", str(safety), status)
    if status != rds.AVAILABLE:
        what = f"the safety snapshot `{safety}` (nothing was deleted)"
        return still_waiting(attempt, ctx, operation_id, WaitLoop.SAFETY, what, f"`{status}`")
    return ready(attempt)


def _ensure_own_snapshot(client: Any, snapshot_id: str, operation_id: str) -> None:
    found = rds.describe_cluster_snapshot(client, snapshot_id)
    if found is None or not rds.made_by(found, operation_id):
        raise FatalError(
            f"snapshot `{snapshot_id}` exists but was not taken by operation {operation_id}; "
            "nothing was deleted"
        )


def delete_target(operation_id: str, ctx: PipelineContext) -> DeleteResult:
    operation, plan = load_plan(ctx, operation_id)
    if not plan.delete_target or plan.final_snapshot_id is None:
        return DeleteResult(final_snapshot_id=None)
    target, final_id = plan.target_cluster, plan.final_snapshot_id
    ctx.reporter.started(
        operation_id,
        Stage.DELETE_TARGET,
        f"Deleting `{target}` and its instances; final snapshot `{final_id}`",
    )
    client = ctx.clients.rds()
    with failing_stage(ctx, operation_id, Stage.DELETE_TARGET):
        cluster = rds.describe_cluster(client, target)
        if cluster is not None:
            rds.ensure_not_protected(cluster, ctx.settings.protected_clusters)
            _ensure_safety_snapshot(client, plan)
            if cluster.get("Status") != rds.DELETING:
                for instance_id in rds.member_ids(cluster):
                    _delete_instance(client, instance_id)
                _delete_cluster(client, target, final_id)
    ctx.store.update(operation_id, resources={**operation.resources, "final_snapshot": final_id})
    return DeleteResult(final_snapshot_id=final_id)


def _ensure_safety_snapshot(client: Any, plan: Plan) -> None:
    """Never touch an instance unless the safety snapshot is there and available."""
    if plan.safety_snapshot_id is None:
        return  # a plan stored before safety snapshots: its final snapshot is the only one
    snapshot = rds.describe_cluster_snapshot(client, plan.safety_snapshot_id)
    if snapshot is None or snapshot.get("Status") != rds.AVAILABLE:
        raise FatalError(
            f"safety snapshot `{plan.safety_snapshot_id}` is not available; "
            f"`{plan.target_cluster}` was not touched"
        )


def check_delete(operation_id: str, attempt: int, ctx: PipelineContext) -> CheckResult:
    """Ready when the cluster and its instances are gone and the final snapshot is available."""
    _, plan = load_plan(ctx, operation_id)
    client = ctx.clients.rds()
    with failing_stage(ctx, operation_id, Stage.DELETE_TARGET):
        waiting_for = _remaining(client, plan)
    if waiting_for:
        what = f"the deletion of `{plan.target_cluster}`"
        return still_waiting(
            attempt, ctx, operation_id, WaitLoop.DELETE, what, ", ".join(waiting_for)
        )
    ctx.reporter.finished(
        operation_id,
        Stage.DELETE_TARGET,
        StageStatus.SUCCEEDED,
        f"Deleted `{plan.target_cluster}`; final snapshot `{plan.final_snapshot_id}` is available",
        resources={"final_snapshot": plan.final_snapshot_id or ""},
    )
    return ready(attempt)


def _remaining(client: Any, plan: Plan) -> list[str]:
    """What still stands between us and a deleted target; raises on a failure status."""
    remaining = []
    for instance_id in plan.existing_instances:
        instance = rds.describe_instance(client, instance_id)
        if instance is not None:
            status = str(instance.get("DBInstanceStatus", ""))
            rds.raise_if_failed("instance", instance_id, status)
            remaining.append(f"instance {instance_id} ({status})")
    cluster = rds.describe_cluster(client, plan.target_cluster)
    if cluster is not None:
        status = str(cluster.get("Status", ""))
        rds.raise_if_failed("cluster", plan.target_cluster, status)
        remaining.append(f"cluster {plan.target_cluster} ({status})")
    if plan.final_snapshot_id is not None:
        snapshot = rds.describe_cluster_snapshot(client, plan.final_snapshot_id)
        if snapshot is None:
            remaining.append(f"final snapshot {plan.final_snapshot_id} (not yet created)")
        else:
            status = str(snapshot.get("Status", ""))
            rds.raise_if_failed("final snapshot", plan.final_snapshot_id, status)
            if status != rds.AVAILABLE:
                remaining.append(f"final snapshot {plan.final_snapshot_id} ({status})")
    return remaining


def _delete_instance(client: Any, instance_id: str) -> None:
    instance = rds.describe_instance(client, instance_id)
    if instance is None or instance.get("DBInstanceStatus") == rds.DELETING:
        return
    with aws_call(f"delete instance {instance_id}"):
        try:
            # Aurora instances keep no snapshot of their own: the cluster's final snapshot does.
            client.delete_db_instance(DBInstanceIdentifier=instance_id)
        except ClientError as exc:
            if error_code(exc) != rds.INSTANCE_NOT_FOUND:
                raise


def _delete_cluster(client: Any, cluster_id: str, final_snapshot_id: str) -> None:
    kept = f"`{cluster_id}` is kept, with its data, but its instances are already deleted"
    try:
        with aws_call(f"delete cluster {cluster_id}"):
            try:
                client.delete_db_cluster(
                    DBClusterIdentifier=cluster_id,
                    SkipFinalSnapshot=False,
                    FinalDBSnapshotIdentifier=final_snapshot_id,
                )
            except ClientError as exc:
                if error_code(exc) != rds.CLUSTER_NOT_FOUND:
                    raise
    except SnapshotQuotaError as exc:
        raise SnapshotQuotaError(f"{exc.message}. {kept}", aws_error=exc.aws_error) from exc
    except FatalError as exc:
        # RDS refuses DeleteDBCluster under deletion protection (InvalidParameterCombination):
        # protection turned on after the check above. Say so, rather than RDS's bare code.
        cluster = rds.describe_cluster(client, cluster_id)
        if cluster is not None and cluster.get("DeletionProtection"):
            raise ProtectedClusterError(
                f"RDS refused to delete `{cluster_id}`: deletion protection was turned on while "
                f"the restore ran. {kept}",
                aws_error=exc.aws_error,
            ) from exc
        raise
    # Deleted concurrently by a retried invocation: the final snapshot check in the wait loop
    # proves whether the deletion kept it.
