"""Undo a swap that failed before its commit point: the target's name goes back to the old
cluster, so the target is as it was.

Before the commit point (pipeline.stages.swap) only the two clusters were renamed and, perhaps,
some credentials made current: no instance was renamed. Each invocation reads RDS and takes the
next step back: the credentials' AWSCURRENT returns to the versions applications used before
(each one, whatever was recorded: a promotion can fail half-way); the new cluster leaves the
target's name; the old cluster, known by its resource id, takes it back. After the commit point
nothing is undone: the target already serves the new cluster.
"""

from __future__ import annotations

from pipeline import rds
from pipeline.aws_errors import aws_call
from pipeline.context import PipelineContext
from pipeline.errors import FatalError
from pipeline.models import Operation, Plan
from pipeline.secret_versions import demote
from pipeline.stages.common import CheckResult, ready, still_waiting
from pipeline.stages.swap_steps import (
    COMMITTED,
    INCOMPLETE,
    SECRETS_PROMOTED,
    SWAP_STARTED,
    SWAP_UNDONE,
    ClusterView,
    pending_secrets,
    record,
    rename_cluster,
    swap_names_of,
)
from pipeline.wait_budgets import WaitLoop

INCOMING_STATUS = "incoming_status"  # a failed rollback: the kept cluster's status at the end


def undo_swap(operation_id: str, attempt: int, ctx: PipelineContext) -> CheckResult:
    """One step back; ready once the old cluster has the target's name again and is available
    (at once when nothing was renamed, or when the swap had committed)."""
    operation = ctx.store.get(operation_id)
    plan = operation.plan
    if plan is None or not plan.swap_target or operation.resources.get(COMMITTED) == "true":
        return ready(attempt)
    if SWAP_STARTED not in operation.resources:
        _demote_secrets(ctx, operation)
        _stop_incoming_again(ctx, operation_id, plan)
        return ready(attempt)
    done = _step_back(operation, plan, ctx)
    if done:
        record(ctx, operation_id, {SWAP_UNDONE: "true"})
        _stop_incoming_again(ctx, operation_id, plan)
        return ready(attempt)
    what = f"the name `{plan.target_cluster}` to go back to the old cluster"
    return still_waiting(
        attempt, ctx, operation_id, WaitLoop.UNDO, what, "renaming or not yet available"
    )


def _step_back(operation: Operation, plan: Plan, ctx: PipelineContext) -> bool:
    client = ctx.clients.rds()
    names = swap_names_of(plan)
    _demote_secrets(ctx, operation)
    view = ClusterView.read(client, names, operation.operation_id, plan)
    if view.target_is_old:
        assert view.target is not None
        return view.target.get("Status") == rds.AVAILABLE and view.kept is None
    if view.target_is_ours:
        assert view.target is not None
        if view.target.get("Status") == rds.AVAILABLE:
            rename_cluster(client, names.target, names.staging)
        return False
    if view.target is not None:
        raise FatalError(
            f"another cluster took the name `{names.target}` during the swap; the original is "
            f"`{names.kept}`"
        )
    if view.kept is None:
        return True  # neither holds a name to give back: the old target was deleted meanwhile
    if view.kept.get("Status") == rds.AVAILABLE:
        rename_cluster(client, names.kept, names.target, wait_if_taken=True)
    return False


def _stop_incoming_again(ctx: PipelineContext, operation_id: str, plan: Plan) -> None:
    """A failed rollback stops the kept cluster it started, as it was (kept at the cost of its
    storage only). StopDBCluster wants an `available` cluster (InvalidDBClusterStateFault
    otherwise): one still `starting` is left to finish, and the failure message says so."""
    if not plan.rollback or plan.staging_cluster_id is None:
        return
    client = ctx.clients.rds()
    kept = rds.describe_cluster(client, plan.staging_cluster_id) or {}
    status = str(kept.get("Status", "gone"))
    if status == rds.AVAILABLE:
        with aws_call(f"stop cluster {plan.staging_cluster_id}"):
            client.stop_db_cluster(DBClusterIdentifier=plan.staging_cluster_id)
        status = "stopping"
    record(ctx, operation_id, {INCOMING_STATUS: status})


def _demote_secrets(ctx: PipelineContext, operation: Operation) -> None:
    for name, version in pending_secrets(operation):
        demote(ctx.clients.secretsmanager, name, version)  # a no-op unless it was promoted
    if operation.resources.get(SECRETS_PROMOTED) == "true":
        record(ctx, operation.operation_id, {SECRETS_PROMOTED: "false"})


def _incoming_fate(status: str) -> str:
    if status in ("stopped", "stopping"):
        return f" ({status})"
    return (
        f" but `{status}`: stop it once it is available (aws rds stop-db-cluster), or it runs "
        "at full cost until its keep-until date"
    )


def swap_outcome(operation: Operation) -> str:
    """What a failure message adds about the swap: where the names stand."""
    plan = operation.plan
    if plan is None or not plan.swap_target:
        return ""
    resources = operation.resources
    if resources.get(COMMITTED) == "true":
        unfinished = f" ({resources[INCOMPLETE]})" if INCOMPLETE in resources else ""
        return (
            f". The swap had committed: `{plan.target_cluster}` serves the restored cluster; "
            f"the old one is `{plan.kept_cluster_id}`{unfinished}"
        )
    if plan.rollback and (resources.get(SWAP_UNDONE) == "true" or SWAP_STARTED not in resources):
        return (
            f". `{plan.target_cluster}` is as it was before the rollback; "
            f"`{plan.staging_cluster_id}` is still kept by `{plan.rollback_of}`"
            + _incoming_fate(resources.get(INCOMING_STATUS, "stopped"))
        )
    if resources.get(SWAP_UNDONE) == "true":
        return (
            f". The swap was undone: `{plan.target_cluster}` is the original cluster again; "
            f"the restored cluster is `{plan.restore_cluster}`"
        )
    if SWAP_STARTED in resources:
        return (
            f". The swap did not finish and could not be undone: check which cluster is named "
            f"`{plan.target_cluster}`; the original may be `{plan.kept_cluster_id}`"
        )
    restored = (
        f"; the restored cluster is `{plan.restore_cluster}`" if "cluster" in resources else ""
    )
    return f". `{plan.target_cluster}` was not touched{restored}"
