"""The swap of a replace: the proven new cluster takes the target's name, the old one is kept.

Each invocation looks at what RDS shows and takes the next step, so the state machine's loop
(SwapNames, then wait, then SwapNames again) converges whatever was interrupted, and a retried
invocation repeats nothing. Forward:
1. the old target's instances take kept names (`<target>-old-<id>-N`), one by one, while the
   old cluster still answers on the target's cluster endpoint;
2. the old cluster is renamed to the kept name and, in the same invocation, the new cluster to
   the target's: from the first rename until the new cluster is available under the target's
   name, the target's endpoint does not answer (measured, and said in the thread);
3. the credentials written as pending by the database stage become current;
4. the new instances take the target's instance names (`<target>-N`);
5. the kept cluster is tagged with its operation and keep-until date, then stopped.
RDS renames with ModifyDBCluster/ModifyDBInstance and ApplyImmediately; an instance or cluster
being renamed shows `renaming` (local_stack.rds_rename_rules cites the sources).

A fatal error anywhere sends the state machine to `undo_swap` (pipeline.stages.swap_undo), which
puts every name back, so a failed swap leaves the target as it was.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pipeline import rds
from pipeline.aws_errors import aws_call
from pipeline.context import PipelineContext
from pipeline.errors import FatalError
from pipeline.models import Operation, Plan, Stage, StageStatus, utc_now
from pipeline.secret_versions import promote
from pipeline.stages.common import CheckResult, failing_stage, load_plan, ready, still_waiting
from pipeline.stages.swap_steps import (
    KEEP_UNTIL_FORMAT,
    KEEP_UNTIL_TAG,
    KEPT_BY_TAG,
    SECRETS_PROMOTED,
    SWAP_STARTED,
    UNAVAILABLE_SECONDS,
    ClusterView,
    pending_secrets,
    rename_cluster,
    rename_instances,
    swap_names_of,
)
from pipeline.wait_budgets import WaitLoop

KEPT_STOPPED = frozenset({"stopping", "stopped"})


def swap_names(operation_id: str, attempt: int, ctx: PipelineContext) -> CheckResult:
    """One step of the forward swap; ready once the kept cluster is stopping."""
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
        done = _advance(operation, plan, ctx)
    if done:
        return ready(attempt)
    what = f"the swap of `{plan.target_cluster}` and `{plan.restore_cluster}`"
    return still_waiting(
        attempt, ctx, operation_id, WaitLoop.SWAP, what, "renaming or not yet available"
    )


def _advance(operation: Operation, plan: Plan, ctx: PipelineContext) -> bool:
    client = ctx.clients.rds()
    names = swap_names_of(plan)
    view = ClusterView.read(client, names, operation.operation_id)
    if view.target_is_old:
        assert view.target is not None
        rds.ensure_not_protected(view.target, ctx.settings.protected_clusters)
        joined = set(rds.member_ids(view.target)) - {*names.old_instances, *names.kept_instances}
        if joined:
            raise FatalError(
                f"instance(s) {', '.join(f'`{i}`' for i in sorted(joined))} joined "
                f"`{names.target}` after the plan was approved; nothing more is renamed"
            )
        if not rename_instances(
            client, names.old_instances, names.kept_instances, cluster=names.target
        ):
            return False
        if view.target.get("Status") != rds.AVAILABLE:
            return False
        _record(ctx, operation, {SWAP_STARTED: utc_now().isoformat()})
        rename_cluster(client, names.target, names.kept)
        view = ClusterView.read(client, names, operation.operation_id)
    if view.target is None:
        if view.staging is None:
            raise FatalError(
                f"the restored cluster `{names.staging}` is gone: nothing can take "
                f"`{names.target}`'s name"
            )
        rename_cluster(client, names.staging, names.target)
        return False
    if not view.target_is_ours or view.target.get("Status") != rds.AVAILABLE:
        return False
    operation = ctx.store.get(operation.operation_id)
    _note_available(ctx, operation)
    _promote_secrets(ctx, operation)
    if not rename_instances(
        client, names.staging_instances, names.new_instances, cluster=names.target
    ):
        return False
    return _keep_old(client, ctx, operation, plan, view.kept)


def _note_available(ctx: PipelineContext, operation: Operation) -> None:
    started = operation.resources.get(SWAP_STARTED)
    if started is None or UNAVAILABLE_SECONDS in operation.resources:
        return
    seconds = (utc_now() - datetime.fromisoformat(started)).total_seconds()
    _record(ctx, operation, {UNAVAILABLE_SECONDS: f"{seconds:.1f}"})


def _promote_secrets(ctx: PipelineContext, operation: Operation) -> None:
    operation = ctx.store.get(operation.operation_id)
    if operation.resources.get(SECRETS_PROMOTED) == "true":
        return
    for name, version in pending_secrets(operation):
        try:
            promote(ctx.clients.secretsmanager, name, version)
        except KeyError as exc:
            raise FatalError(f"cannot make the new credentials current: {exc}") from exc
    _record(ctx, operation, {SECRETS_PROMOTED: "true"})


def _keep_old(
    client: Any,
    ctx: PipelineContext,
    operation: Operation,
    plan: Plan,
    kept: dict[str, Any] | None,
) -> bool:
    """Tag and stop the kept cluster, then report the swap; True once it is stopping."""
    if kept is not None:
        status = str(kept.get("Status", ""))
        if status not in KEPT_STOPPED:
            if status != rds.AVAILABLE:
                return False
            keep_until = utc_now() + timedelta(days=ctx.settings.kept_cluster_days)
            _tag_kept(client, kept, operation.operation_id, keep_until.strftime(KEEP_UNTIL_FORMAT))
            with aws_call(f"stop cluster {plan.kept_cluster_id}"):
                client.stop_db_cluster(DBClusterIdentifier=plan.kept_cluster_id)
            _record(
                ctx,
                operation,
                {"kept_cluster": str(plan.kept_cluster_id), "keep_until": keep_until.isoformat()},
            )
    _report_swapped(ctx, ctx.store.get(operation.operation_id), plan)
    return True


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
    seconds = operation.resources.get(UNAVAILABLE_SECONDS)
    outage = (
        f"`{plan.target_cluster}` did not answer for {seconds} s during the swap"
        if seconds is not None
        else f"`{plan.target_cluster}` did not exist before, so nothing was unavailable"
    )
    kept = (
        f"; the old cluster is kept, stopped, as `{plan.kept_cluster_id}` until "
        f"{operation.resources.get('keep_until', '?')[:16].replace('T', ' ')} UTC"
        if "kept_cluster" in operation.resources
        else ""
    )
    ctx.reporter.finished(
        operation.operation_id,
        Stage.SWAP,
        StageStatus.SUCCEEDED,
        f"`{plan.target_cluster}` is now the restored cluster; {outage}{kept}",
        resources={"cluster": plan.target_cluster},
    )


def _record(ctx: PipelineContext, operation: Operation, values: dict[str, str]) -> None:
    fresh = ctx.store.get(operation.operation_id)
    ctx.store.update(operation.operation_id, resources={**fresh.resources, **values})
