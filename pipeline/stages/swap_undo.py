"""Undo a swap that failed part-way: every name goes back, so the target is as it was.

Like the swap (pipeline.stages.swap), each invocation reads RDS and takes the next step back,
in the reverse order: the credentials' AWSCURRENT returns to the version applications used
before; the new instances take their staging names back; the new cluster leaves the target's
name; the old cluster takes it back; the old instances take their own names back. Only clusters
and instances this operation created are ever renamed away from the target's names.
"""

from __future__ import annotations

from pipeline import rds
from pipeline.context import PipelineContext
from pipeline.models import Operation, Plan
from pipeline.secret_versions import demote
from pipeline.stages.common import CheckResult, ready, still_waiting
from pipeline.stages.swap_steps import (
    SECRETS_PROMOTED,
    SWAP_STARTED,
    SWAP_UNDONE,
    ClusterView,
    pending_secrets,
    rename_cluster,
    rename_instances,
    swap_names_of,
)
from pipeline.wait_budgets import WaitLoop


def undo_swap(operation_id: str, attempt: int, ctx: PipelineContext) -> CheckResult:
    """One step back; ready once the target has its own name and instances again (or when the
    swap never started)."""
    operation = ctx.store.get(operation_id)
    plan = operation.plan
    if plan is None or not plan.swap_target:
        return ready(attempt)
    # Even before the swap recorded its start, step 1 may have renamed old instances.
    done = _step_back(operation, plan, ctx)
    if done:
        _record(ctx, operation, {SWAP_UNDONE: "true"})
    if done:
        return ready(attempt)
    what = f"the names of `{plan.target_cluster}` to be put back"
    return still_waiting(
        attempt, ctx, operation_id, WaitLoop.UNDO, what, "renaming or not yet available"
    )


def _step_back(operation: Operation, plan: Plan, ctx: PipelineContext) -> bool:
    client = ctx.clients.rds()
    names = swap_names_of(plan)
    operation_id = operation.operation_id
    _demote_secrets(ctx, operation)
    view = ClusterView.read(client, names, operation_id)
    if view.target_is_ours:
        ours = rename_instances(
            client,
            names.new_instances,
            names.staging_instances,
            cluster=names.target,
            owned_by=operation_id,
        )
        if ours and view.target is not None and view.target.get("Status") == rds.AVAILABLE:
            rename_cluster(client, names.target, names.staging)
        return False
    if view.target is None:
        if view.kept is None:
            return True  # the target did not exist, or is gone: no name to give back
        if view.kept.get("Status") == rds.AVAILABLE:
            rename_cluster(client, names.kept, names.target)
        return False
    return rename_instances(client, names.kept_instances, names.old_instances, cluster=names.target)


def _demote_secrets(ctx: PipelineContext, operation: Operation) -> None:
    if operation.resources.get(SECRETS_PROMOTED) != "true":
        return
    for name, version in pending_secrets(operation):
        demote(ctx.clients.secretsmanager, name, version)
    _record(ctx, operation, {SECRETS_PROMOTED: "false"})


def _record(ctx: PipelineContext, operation: Operation, values: dict[str, str]) -> None:
    fresh = ctx.store.get(operation.operation_id)
    ctx.store.update(operation.operation_id, resources={**fresh.resources, **values})


def swap_outcome(operation: Operation) -> str:
    """What a failure message adds about the swap: where the names stand."""
    plan = operation.plan
    if plan is None or not plan.swap_target:
        return ""
    resources = operation.resources
    if resources.get(SWAP_UNDONE) == "true":
        return (
            f". The swap was undone: `{plan.target_cluster}` is the original cluster again, "
            f"with its own instances; the restored cluster is `{plan.restore_cluster}`"
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
