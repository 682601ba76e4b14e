"""Stages 6 and 7: restore the cluster from the snapshot, wait until it is available, create its
instances (Aurora creates none by itself), then wait until the cluster and every instance are
available. RDS creates instances only in an available cluster (RestoreDBClusterFromSnapshot: "You
can create DB instances only after the RestoreDBClusterFromSnapshot operation has completed and
the DB cluster is available"); before that, CreateDBInstance answers InvalidDBClusterStateFault.

Everything created is tagged with the operation id, so a retried invocation skips what exists and
refuses to adopt anything this operation did not create.
"""

from __future__ import annotations

from typing import Any, TypedDict

from botocore.exceptions import ClientError

from pipeline import rds
from pipeline.aws_errors import aws_call, error_code
from pipeline.context import PipelineContext
from pipeline.errors import FatalError, ResourceFailedError, TargetExistsError
from pipeline.models import Plan, Stage, StageStatus
from pipeline.settings import PipelineSettings
from pipeline.stages.common import (
    CheckResult,
    failing_stage,
    instances_phrase,
    load_plan,
    ready,
    still_waiting,
)
from pipeline.wait_budgets import WaitLoop

CLUSTER_EXISTS = "DBClusterAlreadyExistsFault"
INSTANCE_EXISTS = "DBInstanceAlreadyExists"


class RestoreResult(TypedDict):
    cluster_id: str
    instance_ids: list[str]


def restore_cluster(operation_id: str, ctx: PipelineContext) -> RestoreResult:
    operation, plan = load_plan(ctx, operation_id)
    target = plan.restore_cluster
    ctx.reporter.started(
        operation_id,
        Stage.RESTORE_CLUSTER,
        f"Restoring `{target}` from `{plan.restore_snapshot_id}` ({plan.engine} "
        f"{plan.engine_version}) with {instances_phrase(plan.instance_count, plan.instance_class)}",
    )
    client = ctx.clients.rds()
    tags = rds.operation_tags(operation_id, operation.request.requester)
    with failing_stage(ctx, operation_id, Stage.RESTORE_CLUSTER):
        cluster = rds.describe_cluster(client, target)
        if cluster is None:
            cluster = _restore(client, plan, tags, ctx.settings)
        _ensure_ours(cluster, target, operation_id)
    ctx.store.update(operation_id, resources={**operation.resources, "cluster": target})
    return RestoreResult(cluster_id=target, instance_ids=[])


def check_cluster(operation_id: str, attempt: int, ctx: PipelineContext) -> CheckResult:
    """Ready when the restored cluster is available; raises on a failure status."""
    _, plan = load_plan(ctx, operation_id)
    with failing_stage(ctx, operation_id, Stage.RESTORE_CLUSTER):
        cluster = rds.describe_cluster(ctx.clients.rds(), plan.restore_cluster)
        if cluster is None:
            raise ResourceFailedError(f"cluster `{plan.restore_cluster}` no longer exists")
        status = str(cluster.get("Status", ""))
        rds.raise_if_failed("cluster", plan.restore_cluster, status)
    if status != rds.AVAILABLE:
        what = f"the restored cluster `{plan.restore_cluster}`"
        return still_waiting(attempt, ctx, operation_id, WaitLoop.CLUSTER, what, f"`{status}`")
    return ready(attempt)


def create_instances(operation_id: str, ctx: PipelineContext) -> RestoreResult:
    """Create the plan's instances in the restored cluster, which check_cluster found available
    (if it is busy again, RDS refuses with InvalidDBClusterStateFault: retried as busy)."""
    operation, plan = load_plan(ctx, operation_id)
    target = plan.restore_cluster
    client = ctx.clients.rds()
    tags = rds.operation_tags(operation_id, operation.request.requester)
    with failing_stage(ctx, operation_id, Stage.RESTORE_CLUSTER):
        cluster = rds.describe_cluster(client, target)
        if cluster is None:
            raise ResourceFailedError(f"cluster `{target}` no longer exists")
        _ensure_ours(cluster, target, operation_id)
        for instance_id in plan.restore_instance_ids:
            _ensure_instance(client, plan, instance_id, tags, operation_id)
    ctx.store.update(
        operation_id,
        resources={
            **operation.resources,
            "cluster": target,
            "instances": ", ".join(plan.restore_instance_ids),
        },
    )
    return RestoreResult(cluster_id=target, instance_ids=list(plan.restore_instance_ids))


def _ensure_ours(cluster: dict[str, Any], target: str, operation_id: str) -> None:
    if not rds.made_by(cluster, operation_id):
        raise TargetExistsError(
            f"cluster `{target}` exists but was not created by operation {operation_id}; "
            "it is left untouched"
        )


def check_restore(operation_id: str, attempt: int, ctx: PipelineContext) -> CheckResult:
    """Ready when the cluster and every instance are available; raises on a failure status."""
    _, plan = load_plan(ctx, operation_id)
    client = ctx.clients.rds()
    with failing_stage(ctx, operation_id, Stage.RESTORE_CLUSTER):
        cluster = rds.describe_cluster(client, plan.restore_cluster)
        if cluster is None:
            raise ResourceFailedError(f"cluster `{plan.restore_cluster}` no longer exists")
        statuses = {plan.restore_cluster: str(cluster.get("Status", ""))}
        rds.raise_if_failed("cluster", plan.restore_cluster, statuses[plan.restore_cluster])
        for instance_id in plan.restore_instance_ids:
            instance = rds.describe_instance(client, instance_id)
            if instance is None:
                raise ResourceFailedError(f"instance `{instance_id}` no longer exists")
            statuses[instance_id] = str(instance.get("DBInstanceStatus", ""))
            rds.raise_if_failed("instance", instance_id, statuses[instance_id])
    if any(status != rds.AVAILABLE for status in statuses.values()):
        state = ", ".join(f"{k} `{v}`" for k, v in statuses.items() if v != rds.AVAILABLE)
        what = f"`{plan.restore_cluster}` and its instances"
        return still_waiting(attempt, ctx, operation_id, WaitLoop.INSTANCES, what, state)
    endpoint = str(cluster.get("Endpoint", ""))
    ctx.reporter.finished(
        operation_id,
        Stage.RESTORE_CLUSTER,
        StageStatus.SUCCEEDED,
        f"`{plan.restore_cluster}` is available at {endpoint or 'its cluster endpoint'} "
        f"with {', '.join(plan.restore_instance_ids)}",
        resources={"cluster": plan.restore_cluster, "endpoint": endpoint},
    )
    return ready(attempt)


def _restore(
    client: Any, plan: Plan, tags: list[dict[str, str]], settings: PipelineSettings
) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "DBClusterIdentifier": plan.restore_cluster,
        "SnapshotIdentifier": plan.restore_snapshot_id,
        "Engine": plan.engine,
        "EngineVersion": plan.engine_version,
        "Tags": tags,
        "CopyTagsToSnapshot": True,
    }
    if settings.db_subnet_group:
        arguments["DBSubnetGroupName"] = settings.db_subnet_group
    if settings.vpc_security_group_ids:
        arguments["VpcSecurityGroupIds"] = settings.vpc_security_group_ids
    if settings.db_cluster_parameter_group:
        arguments["DBClusterParameterGroupName"] = settings.db_cluster_parameter_group
    with aws_call(f"restore cluster {plan.restore_cluster}"):
        try:
            return dict(client.restore_db_cluster_from_snapshot(**arguments)["DBCluster"])
        except ClientError as exc:
            if error_code(exc) != CLUSTER_EXISTS:
                raise
    # Created concurrently: read it back so the caller can check it is ours.
    found = rds.describe_cluster(client, plan.restore_cluster)
    if found is None:
        raise FatalError(f"cluster `{plan.restore_cluster}` was reported to exist but is missing")
    return found


def _ensure_instance(
    client: Any, plan: Plan, instance_id: str, tags: list[dict[str, str]], operation_id: str
) -> None:
    existing = rds.describe_instance(client, instance_id)
    if existing is None:
        with aws_call(f"create instance {instance_id}"):
            try:
                client.create_db_instance(
                    DBInstanceIdentifier=instance_id,
                    DBClusterIdentifier=plan.restore_cluster,
                    Engine=plan.engine,
                    DBInstanceClass=plan.instance_class,
                    Tags=tags,
                )
                return
            except ClientError as exc:
                if error_code(exc) != INSTANCE_EXISTS:
                    raise
        existing = rds.describe_instance(client, instance_id)
    if existing is None or existing.get("DBClusterIdentifier") != plan.restore_cluster:
        raise FatalError(
            f"instance `{instance_id}` exists outside cluster `{plan.restore_cluster}`; "
            "it is left untouched"
        )
    if not rds.made_by(existing, operation_id):
        raise FatalError(f"instance `{instance_id}` was not created by operation {operation_id}")
