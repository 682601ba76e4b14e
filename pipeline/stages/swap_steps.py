"""What the swap and its undo share: the names, a view of the three clusters, rename steps.

Renames use ApplyImmediately: without it RDS renames in the next maintenance window (botocore
ModifyDBCluster/ModifyDBInstance, NewDB...Identifier). A name in use is refused by RDS
(DBClusterAlreadyExistsFault, DBInstanceAlreadyExists): a fatal error, which undoes the swap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pipeline import rds
from pipeline.aws_errors import aws_call, error_code
from pipeline.context import PipelineContext
from pipeline.errors import FatalError
from pipeline.models import Operation, Plan
from pipeline.retention_terms import KEEP_UNTIL_FORMAT as KEEP_UNTIL_FORMAT  # re-exported
from pipeline.retention_terms import KEEP_UNTIL_TAG as KEEP_UNTIL_TAG  # re-exported
from pipeline.secret_versions import PENDING_SECRETS, version_token
from pipeline.swap_plan import SwapNames

KEPT_BY_TAG = "aurora-restore:kept-by"
# Operation resources the swap records as it goes (strings, like every resource).
SWAP_STARTED = "swap_started_at"
UNAVAILABLE_SECONDS = "target_unavailable_seconds"
SECRETS_PROMOTED = "secrets_promoted"
SWAP_UNDONE = "swap_undone"
COMMITTED = "swap_committed"  # the new cluster serves the target's name: nothing is undone
INCOMPLETE = "swap_incomplete"  # what a step after the commit point could not do
# At the commit point: the DbClusterResourceId of the cluster that took the target's name (a
# rollback checks that the target is still that cluster, pipeline.rollback).
SWAPPED_IN = "swapped_in_resource_id"
CLUSTER_EXISTS = "DBClusterAlreadyExistsFault"


def swap_names_of(plan: Plan) -> SwapNames:
    if plan.staging_cluster_id is None or plan.kept_cluster_id is None:
        raise FatalError("the plan does not replace its target through a swap")
    return SwapNames(
        target=plan.target_cluster,
        staging=plan.staging_cluster_id,
        kept=plan.kept_cluster_id,
        new_instances=list(plan.instance_ids),
        staging_instances=list(plan.staging_instance_ids),
        old_instances=list(plan.existing_instances),
        kept_instances=list(plan.kept_instance_ids),
    )


@dataclass(frozen=True)
class ClusterView:
    """The three clusters of a swap as RDS shows them now (None: no such cluster). The old
    target is known by its DbClusterResourceId, which a rename keeps ("an identifier for the
    DB cluster that is unique across all Regions and never changes", botocore DBCluster), not
    by its name, which any cluster could hold."""

    target: dict[str, Any] | None
    staging: dict[str, Any] | None
    kept: dict[str, Any] | None
    operation_id: str
    old_resource_id: str | None = None
    incoming_resource_id: str | None = None  # a rollback's: the kept cluster it brings back

    @classmethod
    def read(cls, client: Any, names: SwapNames, operation_id: str, plan: Plan) -> ClusterView:
        return cls(
            target=rds.describe_cluster(client, names.target),
            staging=rds.describe_cluster(client, names.staging),
            kept=rds.describe_cluster(client, names.kept),
            operation_id=operation_id,
            old_resource_id=plan.target_resource_id,
            incoming_resource_id=plan.incoming_resource_id,
        )

    @property
    def target_is_ours(self) -> bool:
        """The target's name is already on the incoming cluster: the one this operation
        restored (tagged with its id), or for a rollback the kept one (by its resource id)."""
        if self.target is None:
            return False
        if self.incoming_resource_id is not None:
            return self.target.get("DbClusterResourceId") == self.incoming_resource_id
        return rds.made_by(self.target, self.operation_id)

    @property
    def target_is_old(self) -> bool:
        """The target's name is on the cluster the plan replaces (a plan stored before resource
        ids were recorded: any cluster not restored by this operation)."""
        if self.target is None or self.target_is_ours:
            return False
        if self.old_resource_id is None:
            return True
        return self.target.get("DbClusterResourceId") == self.old_resource_id


def rename_cluster(client: Any, current: str, new: str, *, wait_if_taken: bool = False) -> bool:
    """Rename with ApplyImmediately; False (try again) when `wait_if_taken` and the new name is
    still held, as by a cluster whose own rename away from it is not yet effective."""
    with aws_call(f"rename cluster {current} to {new}"):
        try:
            client.modify_db_cluster(
                DBClusterIdentifier=current, NewDBClusterIdentifier=new, ApplyImmediately=True
            )
        except ClientError as exc:
            if wait_if_taken and error_code(exc) == CLUSTER_EXISTS:
                return False
            raise
    return True


def record(ctx: PipelineContext, operation_id: str, values: dict[str, str]) -> None:
    """Add to the operation's resources (what the swap has done so far)."""
    fresh = ctx.store.get(operation_id)
    ctx.store.update(operation_id, resources={**fresh.resources, **values})


def rename_instances(
    client: Any,
    current: list[str],
    new: list[str],
    *,
    cluster: str,
    owned_by: str | None = None,
) -> bool:
    """Rename each `current[i]` (a member of `cluster`) to `new[i]`, one step per call; True once
    every one that exists has its new name and is available. An instance that is gone is
    skipped, and so is one not tagged with `owned_by`'s operation, when given (it is not ours to
    rename). A new name held by an instance of another cluster stops the swap."""
    done = True
    for before, after in zip(current, new, strict=True):
        renamed = rds.describe_instance(client, after)
        if renamed is not None:
            if renamed.get("DBClusterIdentifier") not in (cluster, None):
                raise FatalError(
                    f"instance name `{after}` is taken by an instance of "
                    f"`{renamed.get('DBClusterIdentifier')}`; `{before}` cannot take it"
                )
            done = done and renamed.get("DBInstanceStatus") == rds.AVAILABLE
            continue
        instance = rds.describe_instance(client, before)
        if instance is None or (owned_by is not None and not rds.made_by(instance, owned_by)):
            continue
        done = False
        if instance.get("DBInstanceStatus") != rds.AVAILABLE:
            continue
        with aws_call(f"rename instance {before} to {after}"):
            client.modify_db_instance(
                DBInstanceIdentifier=before, NewDBInstanceIdentifier=after, ApplyImmediately=True
            )
    return done


def pending_secrets(operation: Operation) -> Iterator[tuple[str, str]]:
    """(secret name, the version to make current) of each secret the database stage wrote as
    pending for the target's name; for a rollback, the versions its replace made previous."""
    if operation.plan is not None and operation.plan.rollback:
        yield from operation.plan.rollback_secrets.items()
        return
    listed = operation.resources.get(PENDING_SECRETS, "")
    for name in filter(None, listed.split(",")):
        yield name, version_token(operation.operation_id, name)
