"""The plan of a rollback: a swap back to the cluster a replace kept.

A replace through a swap (pipeline.swap_plan) keeps the old target, stopped, as
`<target>-old-<hex>`, tagged kept-by the operation and keep-until a date. A rollback is a new
operation (approved like a restore) whose plan is that swap in reverse: the kept cluster,
started first (pipeline.stages.start_kept), is the incoming one and its instances take back
the names they had; the cluster the replace restored, the target now, is kept in turn under the
rollback's own kept name, so a rollback can itself be rolled back. `build_rollback_plan` is the
decision, a pure function of the operation rolled back and what RDS shows; each refusal says
what to do instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline import rds
from pipeline.aws_errors import aws_call
from pipeline.context import PipelineContext
from pipeline.errors import RollbackRefusedError
from pipeline.models import Operation, OperationStatus, Plan, RestoreRequest, utc_now
from pipeline.retention_terms import parse_keep_until
from pipeline.secret_versions import CURRENT, PREVIOUS
from pipeline.settings import PipelineSettings
from pipeline.stages.swap_steps import KEEP_UNTIL_TAG, KEPT_BY_TAG, SWAPPED_IN, pending_secrets
from pipeline.swap_plan import SwapNames, kept_cluster_id, numbered_members

# StartDBCluster takes a `stopped` cluster; one already `available` (started by hand, or by RDS
# after seven days stopped) is swapped back as it is.
ROLLBACK_STARTABLE = frozenset({"stopped", rds.AVAILABLE})


@dataclass(frozen=True)
class RollbackFacts:
    """What the rollback of `original` depends on, as read now (None: no such cluster)."""

    original: Operation
    kept: Mapping[str, Any] | None
    target: Mapping[str, Any] | None
    kept_instance_class: str | None = None


def read_rollback_facts(original: Operation, ctx: PipelineContext) -> RollbackFacts:
    client = ctx.clients.rds()
    plan = original.plan
    kept_id = plan.kept_cluster_id if plan is not None else None
    kept = rds.describe_cluster(client, kept_id) if kept_id else None
    members = rds.member_ids(kept) if kept else []
    first = rds.describe_instance(client, members[0]) if members else None
    return RollbackFacts(
        original=original,
        kept=kept,
        target=rds.describe_cluster(client, original.target_cluster),
        kept_instance_class=str(first["DBInstanceClass"]) if first else None,
    )


def resolve_rollback_plan(request: RestoreRequest, operation_id: str, ctx: PipelineContext) -> Plan:
    assert request.rollback_of is not None
    original = ctx.store.get(request.rollback_of)
    return build_rollback_plan(
        request, operation_id, read_rollback_facts(original, ctx), ctx.settings
    )


def recheck_rollback_plan(
    plan: Plan, request: RestoreRequest, operation_id: str, ctx: PipelineContext
) -> None:
    """The facts a stored rollback plan was built on must still hold (ValidateRequest, and the
    approval may have taken hours): refused as the plan would be now, or when the clusters are
    no longer the ones approved."""
    fresh = resolve_rollback_plan(request, operation_id, ctx)
    if (fresh.incoming_resource_id, fresh.target_resource_id) != (
        plan.incoming_resource_id,
        plan.target_resource_id,
    ):
        raise RollbackRefusedError(
            f"`{plan.staging_cluster_id}` or `{plan.target_cluster}` is not the cluster the "
            "rollback was approved for: ask for the rollback again"
        )


def build_rollback_plan(
    request: RestoreRequest,
    operation_id: str,
    facts: RollbackFacts,
    settings: PipelineSettings,
    now: datetime | None = None,
) -> Plan:
    """The plan that swaps `facts.original`'s kept cluster back in, or RollbackRefusedError."""
    original, plan = facts.original, facts.original.plan
    op = original.operation_id
    if original.status != OperationStatus.SUCCEEDED or plan is None:
        raise RollbackRefusedError(
            f"operation `{op}` is {original.status}: only a restore that succeeded can be "
            "rolled back"
        )
    if not plan.swap_target or plan.kept_cluster_id is None:
        raise RollbackRefusedError(
            f"operation `{op}` did not replace `{plan.target_cluster}` through a swap, so no "
            "cluster was kept to roll back to"
        )
    if request.target_cluster != plan.target_cluster:
        raise RollbackRefusedError(
            f"operation `{op}` replaced `{plan.target_cluster}`, not `{request.target_cluster}`"
        )
    target = _current_target(facts, plan.target_cluster, op)
    kept = _kept_cluster(facts, plan.kept_cluster_id, op, now or utc_now())
    rds.ensure_not_protected(target, settings.protected_clusters)
    names = _swap_back_names(plan, kept, target, operation_id)
    names.ensure_valid()
    return Plan(
        source_snapshot_id=plan.kept_cluster_id,
        source_snapshot_arn=str(kept["DBClusterArn"]),
        source_region=plan.target_region,
        snapshot_type="kept cluster",
        engine=str(kept.get("Engine", plan.engine)),
        engine_version=str(kept.get("EngineVersion", plan.engine_version)),
        encrypted=bool(kept.get("StorageEncrypted")),
        target_region=plan.target_region,
        restore_snapshot_id=plan.kept_cluster_id,
        target_cluster=plan.target_cluster,
        existing_instances=names.old_instances,
        instance_class=facts.kept_instance_class or plan.instance_class,
        instance_count=max(1, len(names.new_instances)),
        instance_ids=names.new_instances,
        swap_target=True,
        staging_cluster_id=names.staging,
        staging_instance_ids=names.staging_instances,
        kept_cluster_id=names.kept,
        kept_instance_ids=names.kept_instances,
        target_resource_id=str(target["DbClusterResourceId"]),
        rollback_of=op,
        incoming_resource_id=str(kept["DbClusterResourceId"]),
        # The replaced cluster is kept on the rollback's own terms (the policy's for the target
        # now, carried by the rollback's request), not those of the operation rolled back.
        retention=request.retention or settings.default_retention(),
    )


def _swap_back_names(
    plan: Plan, kept: Mapping[str, Any], target: Mapping[str, Any], operation_id: str
) -> SwapNames:
    """The kept cluster's instances go back to the names the replace found them with (one the
    replace could not rename keeps its name); the target's take the rollback's kept names."""
    original_name = dict(zip(plan.kept_instance_ids, plan.existing_instances, strict=False))
    incoming = sorted(rds.member_ids(kept))
    serving = sorted(rds.member_ids(target))
    kept_now = kept_cluster_id(plan.target_cluster, operation_id)
    return SwapNames(
        target=plan.target_cluster,
        staging=str(plan.kept_cluster_id),
        kept=kept_now,
        new_instances=[original_name.get(name, name) for name in incoming],
        staging_instances=incoming,
        old_instances=serving,
        kept_instances=numbered_members(kept_now, len(serving)),
    )


def _kept_cluster(facts: RollbackFacts, kept_id: str, op: str, now: datetime) -> Mapping[str, Any]:
    kept = facts.kept
    if kept is None:
        raise RollbackRefusedError(
            f"the kept cluster `{kept_id}` of `{op}` is gone (deleted, or removed once its "
            "keep-until date passed): there is nothing to roll back to"
        )
    tags = rds.tags_of(kept)
    if tags.get(KEPT_BY_TAG) != op:
        raise RollbackRefusedError(
            f"`{kept_id}` is not tagged {KEPT_BY_TAG}={op} (it is "
            f"`{tags.get(KEPT_BY_TAG, 'untagged')}`): it is not the cluster `{op}` kept"
        )
    until = parse_keep_until(tags.get(KEEP_UNTIL_TAG, ""))
    if until is None or until <= now:
        raise RollbackRefusedError(
            f"`{kept_id}` was kept for rollback until {tags.get(KEEP_UNTIL_TAG, '?')}, which "
            f"has passed: restore a snapshot into `{facts.original.target_cluster}` instead"
        )
    status = str(kept.get("Status", ""))
    if status not in ROLLBACK_STARTABLE:
        raise RollbackRefusedError(
            f"`{kept_id}` is `{status}`; a rollback can start only once it is stopped or "
            "available: try again in a few minutes"
        )
    return kept


def _current_target(facts: RollbackFacts, target_id: str, op: str) -> Mapping[str, Any]:
    target = facts.target
    if target is None:
        raise RollbackRefusedError(
            f"`{target_id}` does not exist any more: there is no name to give back"
        )
    swapped_in = facts.original.resources.get(SWAPPED_IN)
    ours = (
        target.get("DbClusterResourceId") == swapped_in if swapped_in else rds.made_by(target, op)
    )
    if not ours:
        raise RollbackRefusedError(
            f"`{target_id}` is not the cluster `{op}` swapped in (another restore or rollback "
            "replaced it since): roll back the latest operation on it instead"
        )
    return target


def previous_versions(original: Operation, secretsmanager: Any) -> dict[str, str]:
    """Each credential secret `original` made current, mapped to the version that was current
    before (AWSPREVIOUS), while `original`'s own is still AWSCURRENT. A secret `original`
    created has no previous version, and one changed since is not `original`'s to undo: both
    are left as they are. Read when the rollback begins (pipeline.stages.start_kept), before
    any label moves; the bot, which plans, may not describe the database secrets."""
    versions = {}
    for name, own in pending_secrets(original):
        with aws_call(f"read secret {name}"):
            labels = secretsmanager.describe_secret(SecretId=name).get("VersionIdsToStages", {})
        previous = next((v for v, stages in labels.items() if PREVIOUS in stages), None)
        if CURRENT in labels.get(own, []) and previous is not None:
            versions[name] = previous
    return versions
