"""A rollback's first stage: start the cluster the replace kept, stopped, and wait for it.

StartDBCluster "starts an Amazon Aurora DB cluster that was stopped" (botocore, RDS); any other
status answers InvalidDBClusterStateFault. So the call is made only on a `stopped` cluster: one
already `starting` or `available` (a retried invocation) is waited for as it is. The cluster is
renamed by the swap only once it and every one of its instances are available (a stopped or
starting cluster cannot be modified). The cluster is the one the plan names, and still the one
approved: its DbClusterResourceId must be the plan's. This stage also records, before any name
changes, which version of each credential secret becomes current again (pipeline.rollback).
"""

from __future__ import annotations

from typing import Any

from pipeline import rds
from pipeline.aws_errors import aws_call
from pipeline.context import PipelineContext
from pipeline.errors import ResourceFailedError
from pipeline.models import Plan, Stage, StageStatus
from pipeline.rollback import previous_versions
from pipeline.stages.common import CheckResult, failing_stage, load_plan, ready, still_waiting
from pipeline.wait_budgets import WaitLoop

STOPPED = "stopped"


def start_kept(operation_id: str, ctx: PipelineContext) -> dict[str, str]:
    """Start the kept cluster of a rollback plan (nothing for any other plan)."""
    _, plan = load_plan(ctx, operation_id)
    if not plan.rollback:
        return {"cluster_id": plan.restore_cluster}
    kept = str(plan.staging_cluster_id)
    ctx.reporter.started(
        operation_id, Stage.START_KEPT, f"Starting `{kept}`, kept by `{plan.rollback_of}`"
    )
    client = ctx.clients.rds()
    with failing_stage(ctx, operation_id, Stage.START_KEPT):
        cluster = _incoming(client, plan)
        if not plan.rollback_secrets:
            original = ctx.store.get(str(plan.rollback_of))
            versions = previous_versions(original, ctx.clients.secretsmanager)
            ctx.store.update(
                operation_id, plan=plan.model_copy(update={"rollback_secrets": versions})
            )
        if cluster.get("Status") == STOPPED:
            with aws_call(f"start cluster {kept}"):
                client.start_db_cluster(DBClusterIdentifier=kept)
    return {"cluster_id": kept}


def check_kept(operation_id: str, attempt: int, ctx: PipelineContext) -> CheckResult:
    """Ready once the kept cluster and each of its instances are available."""
    _, plan = load_plan(ctx, operation_id)
    if not plan.rollback:
        return ready(attempt)
    client = ctx.clients.rds()
    kept = str(plan.staging_cluster_id)
    with failing_stage(ctx, operation_id, Stage.START_KEPT):
        cluster = _incoming(client, plan)
        status = str(cluster.get("Status", ""))
        rds.raise_if_failed("cluster", kept, status)
        waiting = [] if status == rds.AVAILABLE else [f"`{kept}` is `{status}`"]
        for instance_id in rds.member_ids(cluster):
            instance = rds.describe_instance(client, instance_id) or {}
            state = str(instance.get("DBInstanceStatus", "gone"))
            rds.raise_if_failed("instance", instance_id, state)
            if state != rds.AVAILABLE:
                waiting.append(f"`{instance_id}` is `{state}`")
    if waiting:
        what = f"the kept cluster `{kept}` to start"
        return still_waiting(attempt, ctx, operation_id, WaitLoop.START, what, ", ".join(waiting))
    ctx.reporter.finished(
        operation_id,
        Stage.START_KEPT,
        StageStatus.SUCCEEDED,
        f"`{kept}` is available, with {len(rds.member_ids(cluster))} instance(s)",
        resources={"cluster": kept},
    )
    return ready(attempt)


def _incoming(client: Any, plan: Plan) -> dict[str, Any]:
    kept = str(plan.staging_cluster_id)
    cluster = rds.describe_cluster(client, kept)
    if cluster is None:
        raise ResourceFailedError(f"the kept cluster `{kept}` no longer exists")
    if cluster.get("DbClusterResourceId") != plan.incoming_resource_id:
        raise ResourceFailedError(
            f"`{kept}` is not the cluster approved for the rollback (another cluster took its "
            "name); nothing is renamed"
        )
    return cluster
