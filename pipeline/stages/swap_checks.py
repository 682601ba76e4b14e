"""What a swap proves before it renames anything: every name it will give is free (or held by
the instance that will leave it), and every cluster and instance it renames is available.
A refusal here leaves everything as it was, so the undo has nothing to put back."""

from __future__ import annotations

from typing import Any

from pipeline import rds
from pipeline.errors import FatalError
from pipeline.stages.swap_steps import ClusterView
from pipeline.swap_plan import SwapNames


def ensure_switchable(client: Any, names: SwapNames, view: ClusterView) -> None:
    """Raise FatalError naming what would make a later rename fail (nothing renamed yet)."""
    assert view.target is not None
    if view.kept is not None:
        raise FatalError(f"the kept name `{names.kept}` is taken by another cluster")
    members = set(rds.member_ids(view.target))
    joined = members - set(names.old_instances)
    if joined:
        raise FatalError(
            f"instance(s) {', '.join(f'`{i}`' for i in sorted(joined))} joined "
            f"`{names.target}` after the plan was approved; nothing was renamed"
        )
    for name in [*names.kept_instances, *names.new_instances]:
        holder = rds.describe_instance(client, name)
        if holder is None or (name in members and name in names.old_instances):
            continue  # free, or an old instance that takes its kept name first
        raise FatalError(
            f"instance name `{name}` is taken by an instance of "
            f"`{holder.get('DBClusterIdentifier')}`; nothing was renamed"
        )
    staging = set(rds.member_ids(view.staging or {}))
    missing = set(names.staging_instances) - staging
    if view.staging is None or missing:
        raise FatalError(
            f"the restored cluster `{names.staging}` or its instances "
            f"({', '.join(sorted(missing)) or 'all'}) are gone; nothing was renamed"
        )


def switch_ready(client: Any, names: SwapNames, view: ClusterView) -> bool:
    """Both clusters and the new instances are available (a cluster that is modifying, backing
    up or renaming refuses a rename: InvalidDBClusterStateFault)."""
    for cluster in (view.target, view.staging):
        if cluster is None or cluster.get("Status") != rds.AVAILABLE:
            return False
    for name in names.staging_instances:
        instance = rds.describe_instance(client, name)
        if instance is None or instance.get("DBInstanceStatus") != rds.AVAILABLE:
            return False
    return True
