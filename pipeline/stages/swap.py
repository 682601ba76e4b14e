"""The swap of a replace: the proven new cluster takes the target's name, the old one is kept.

Each invocation looks at what RDS shows and takes the next step, so the state machine's loop
(SwapNames, then wait, then SwapNames again) converges whatever was interrupted, and a retried
invocation repeats nothing. Before anything is renamed, everything the swap needs is proven (the
destination names free, the new cluster and its instances available, no instance joined the
target since the plan). Then:
1. the old cluster leaves the target's name (`<target>-old-<id>`); RDS frees a name
   asynchronously ("The renamed DB cluster isn't available until the new name becomes
   effective", RDS user guide), so the next step waits until the name is free;
2. the new cluster takes the target's name; from step 1 until it is available under that name
   the target's cluster endpoint does not answer (measured, and said in the thread);
3. the credentials written as pending by the database stage become current. This is the commit
   point: from here on nothing is undone, since the target already serves the new data;
4. the old instances take kept names (`<target>-old-<id>-N`) on the cluster that no longer
   serves; "an instance reboot occurs immediately" on each rename (botocore
   NewDBInstanceIdentifier), which is why no instance of the serving target is renamed before;
5. the kept cluster is tagged with its operation and keep-until date, then stopped;
6. the new instances take the target's instance names (`<target>-N`), each rebooting once.
A fatal error before the commit point sends the state machine to `undo_swap`
(pipeline.stages.swap_undo), which gives the target's name back to the old cluster; after it,
a failure of a later step is reported and the restore still succeeds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline import rds
from pipeline.aws_errors import aws_call
from pipeline.context import PipelineContext
from pipeline.errors import FatalError
from pipeline.models import Operation, Plan, Stage, StageStatus, utc_now
from pipeline.retention import ANNOUNCED_TAG
from pipeline.secret_versions import promote
from pipeline.stages.common import (
    CheckResult,
    failing_stage,
    load_plan,
    ready,
    still_waiting,
)
from pipeline.stages.swap_checks import ensure_switchable, switch_ready
from pipeline.stages.swap_steps import (
    COMMITTED,
    INCOMPLETE,
    KEEP_UNTIL_FORMAT,
    KEEP_UNTIL_TAG,
    KEPT_BY_TAG,
    SECRETS_PROMOTED,
    SWAP_STARTED,
    SWAPPED_IN,
    UNAVAILABLE_SECONDS,
    ClusterView,
    pending_secrets,
    record,
    rename_cluster,
    rename_instances,
    swap_names_of,
)
from pipeline.swap_guard import mark_swap_started
from pipeline.wait_budgets import WaitLoop

KEPT_STOPPED = frozenset({"stopping", "stopped"})


def swap_names(operation_id: str, attempt: int, ctx: PipelineContext) -> CheckResult:
    """One step of the forward swap; ready once every step is done."""
    operation, plan = load_plan(ctx, operation_id)
    if not plan.swap_target:
        return ready(attempt)
    if attempt == 0:
        ctx.reporter.started(
            operation_id,
            Stage.SWAP,
            f"Swapping names: `{plan.restore_cluster}` becomes `{plan.target_cluster}`; the "
            f"current `{plan.target_cluster}` is kept as `{plan.kept_cluster_id}`",
        )
    with failing_stage(ctx, operation_id, Stage.SWAP):
        if operation.resources.get(COMMITTED) == "true":
            done = _finish_committed(operation, plan, ctx)
        else:
            done = _switch(operation, plan, ctx)
    if done:
        return ready(attempt)
    what = f"the swap of `{plan.target_cluster}` and `{plan.restore_cluster}`"
    return still_waiting(
        attempt, ctx, operation_id, WaitLoop.SWAP, what, "renaming or not yet available"
    )


def _switch(operation: Operation, plan: Plan, ctx: PipelineContext) -> bool:
    """Steps 1 to 3, up to the commit point; False while waiting."""
    client = ctx.clients.rds()
    names = swap_names_of(plan)
    view = ClusterView.read(client, names, operation.operation_id, plan)
    started = SWAP_STARTED in operation.resources
    if view.target_is_old:
        if started:
            return False  # step 1 issued: the old cluster is still leaving the target's name
        assert view.target is not None
        rds.ensure_not_protected(view.target, ctx.settings.protected_clusters)
        ensure_switchable(client, names, view)
        if not switch_ready(client, names, view):
            return False
        # A cancel since this invocation began stops here: nothing has been renamed yet.
        mark_swap_started(ctx, operation)
        rename_cluster(client, names.target, names.kept)
        return False
    if view.target is None:
        if view.staging is None:
            raise FatalError(
                f"the restored cluster `{names.staging}` is gone: nothing can take "
                f"`{names.target}`'s name"
            )
        rds.raise_if_failed("cluster", names.staging, str(view.staging.get("Status", "")))
        rename_cluster(client, names.staging, names.target, wait_if_taken=True)
        return False
    if not view.target_is_ours:
        raise FatalError(
            f"another cluster took the name `{names.target}` during the swap; the restored "
            f"cluster is `{names.staging}`"
        )
    if view.target.get("Status") != rds.AVAILABLE:
        return False
    _note_available(ctx, operation.operation_id)
    _promote_secrets(ctx, operation.operation_id)
    swapped_in = str(view.target.get("DbClusterResourceId", ""))
    record(ctx, operation.operation_id, {COMMITTED: "true", SWAPPED_IN: swapped_in})
    return _finish_committed(ctx.store.get(operation.operation_id), plan, ctx)


def _finish_committed(operation: Operation, plan: Plan, ctx: PipelineContext) -> bool:
    """Steps 4 to 6. The target serves the new cluster already: a failure here is reported,
    never undone."""
    try:
        done = _tidy(operation, plan, ctx)
    except FatalError as exc:
        record(ctx, operation.operation_id, {INCOMPLETE: exc.message})
        done = True
    if done:
        _report_swapped(ctx, ctx.store.get(operation.operation_id), plan)
    return done


def _tidy(operation: Operation, plan: Plan, ctx: PipelineContext) -> bool:
    client = ctx.clients.rds()
    names = swap_names_of(plan)
    view = ClusterView.read(client, names, operation.operation_id, plan)
    if plan.rollback:
        _untag_incoming(client, view.target)
    kept = view.kept
    if kept is not None and str(kept.get("Status", "")) not in KEPT_STOPPED:
        if kept.get("Status") != rds.AVAILABLE:
            return False
        if not rename_instances(
            client, names.old_instances, names.kept_instances, cluster=names.kept
        ):
            return False
        keep_until = ctx.settings.retention_of(plan).cluster_keep_until(utc_now())
        _tag_kept(client, kept, operation.operation_id, keep_until.strftime(KEEP_UNTIL_FORMAT))
        with aws_call(f"stop cluster {names.kept}"):
            client.stop_db_cluster(DBClusterIdentifier=names.kept)
        record(
            ctx,
            operation.operation_id,
            {"kept_cluster": names.kept, "keep_until": keep_until.isoformat()},
        )
    return rename_instances(
        client, names.staging_instances, names.new_instances, cluster=names.target
    )


def _note_available(ctx: PipelineContext, operation_id: str) -> None:
    resources = ctx.store.get(operation_id).resources
    started = resources.get(SWAP_STARTED)
    if started is None or UNAVAILABLE_SECONDS in resources:
        return
    seconds = (utc_now() - datetime.fromisoformat(started)).total_seconds()
    record(ctx, operation_id, {UNAVAILABLE_SECONDS: f"{seconds:.1f}"})


def _promote_secrets(ctx: PipelineContext, operation_id: str) -> None:
    operation = ctx.store.get(operation_id)
    if operation.resources.get(SECRETS_PROMOTED) == "true":
        return
    for name, version in pending_secrets(operation):
        try:
            promote(ctx.clients.secretsmanager, name, version)
        except KeyError as exc:
            raise FatalError(f"cannot make the new credentials current: {exc}") from exc
    record(ctx, operation_id, {SECRETS_PROMOTED: "true"})


def _untag_incoming(client: Any, target: dict[str, Any] | None) -> None:
    """The cluster a rollback brought back serves the target again: kept for nothing, so the
    retention sweep must never see it as kept (pipeline.retention)."""
    tags = rds.tags_of(target or {})
    stale = [key for key in (KEPT_BY_TAG, KEEP_UNTIL_TAG, ANNOUNCED_TAG) if key in tags]
    if target is None or not stale:
        return
    with aws_call(f"untag cluster {target['DBClusterIdentifier']}"):
        client.remove_tags_from_resource(ResourceName=target["DBClusterArn"], TagKeys=stale)


def _tag_kept(client: Any, kept: dict[str, Any], operation_id: str, keep_until: str) -> None:
    with aws_call(f"tag cluster {kept['DBClusterIdentifier']}"):
        client.add_tags_to_resource(
            ResourceName=kept["DBClusterArn"],
            Tags=[
                {"Key": KEEP_UNTIL_TAG, "Value": keep_until},
                {"Key": KEPT_BY_TAG, "Value": operation_id},
            ],
        )


def _report_swapped(ctx: PipelineContext, operation: Operation, plan: Plan) -> None:
    resources = operation.resources
    seconds = resources.get(UNAVAILABLE_SECONDS)
    outage = (
        f"`{plan.target_cluster}` did not answer for {seconds} s during the swap"
        if seconds is not None
        else f"`{plan.target_cluster}` did not exist before, so nothing was unavailable"
    )
    kept = (
        f"; the old cluster is kept, stopped, as `{plan.kept_cluster_id}` until "
        f"{resources.get('keep_until', '?')[:16].replace('T', ' ')} UTC: "
        f"`/restore rollback {operation.operation_id}` swaps it back until then"
        if "kept_cluster" in resources
        else ""
    )
    now = (
        f"`{plan.target_cluster}` is again the cluster `{plan.rollback_of}` kept, with its "
        "own instances"
        if plan.rollback
        else f"`{plan.target_cluster}` is now the restored cluster"
    )
    unfinished = (
        f". :warning: Not finished, left for you: {resources[INCOMPLETE]}"
        if INCOMPLETE in resources
        else ""
    )
    # Where to connect now: the target's names, no longer the staging ones the restore reported.
    target = rds.describe_cluster(ctx.clients.rds(), plan.target_cluster) or {}
    ctx.reporter.finished(
        operation.operation_id,
        Stage.SWAP,
        StageStatus.SUCCEEDED,
        f"{now}; {outage}{kept}{unfinished}",
        resources={
            "cluster": plan.target_cluster,
            "instances": ", ".join(plan.instance_ids),
            "endpoint": str(target.get("Endpoint") or resources.get("endpoint", "")),
        },
    )
