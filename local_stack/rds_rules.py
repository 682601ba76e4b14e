"""RDS rules moto does not keep: what RDS refuses, and statuses that take time.

moto makes every cluster, instance and snapshot available at once and accepts calls RDS refuses,
so a pipeline that does not wait, or calls RDS in the wrong order, passes here and fails on AWS.
Each rule names its source: the RDS API reference (botocore's rds service-2.json carries its
text) or the Aurora user guide. Clusters and instances are here, snapshots in
rds_snapshot_rules.py, how long statuses last in rds_timeline.py.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.rds.exceptions import RDSClientError
from moto.rds.models import DBCluster, RDSBackend

from local_stack import rds_default_key, rds_orderable, rds_quotas, rds_rename_rules, rds_timeline
from local_stack.rds_snapshot_rules import (
    COPIES_IN_PROGRESS_LIMIT,
    MANUAL_CLUSTER_SNAPSHOT_QUOTA,
    SNAPSHOT_STATE,
    SNAPSHOT_WRAPPERS,
    snapshot_or_none,
)
from local_stack.rds_timeline import (
    AVAILABLE,
    CLUSTER_CREATE_SECONDS,
    CLUSTER_DELETE_SECONDS,
    INSTANCE_CREATE_SECONDS,
    INSTANCE_DELETE_SECONDS,
    RdsRules,
    current,
    refuse,
)

__all__ = [
    "CLUSTER_CREATE_SECONDS",
    "COPIES_IN_PROGRESS_LIMIT",
    "MANUAL_CLUSTER_SNAPSHOT_QUOTA",
    "RdsRules",
    "enforced",
    "install",
]

Patch = Callable[[type, str, Any], None]
CLUSTER_STATE = "InvalidDBClusterStateFault"
INSTANCE_STATE = "InvalidDBInstanceState"
_ABSENT = object()  # an attribute the class inherited rather than defined


def install(patch: Patch, rules: RdsRules) -> None:
    """Patch moto's RDS backend with the rules; `patch` records each change for uninstall."""
    rds_timeline.use(rules)
    # moto's cluster flips its own `creating` to `available` on the first read; the rules decide.
    patch(DBCluster, "status", property(_cluster_status, _set_cluster_status))
    for name, wrapper in {**_WRAPPERS, **SNAPSHOT_WRAPPERS}.items():
        patch(RDSBackend, name, wrapper(getattr(RDSBackend, name)))
    rds_rename_rules.install(patch)
    rds_quotas.install(patch)
    rds_orderable.install(patch)  # instance classes per engine version, engine versions
    rds_default_key.install(patch)  # an encrypted cluster without KmsKeyId: aws/rds


@contextmanager
def enforced(rules: RdsRules) -> Iterator[RdsRules]:
    """The rules on moto (in process, e.g. under `mock_aws`) for a block; moto as before after."""
    saved: list[tuple[type, str, Any]] = []

    def patch(owner: type, name: str, replacement: Any) -> None:
        saved.append((owner, name, owner.__dict__.get(name, _ABSENT)))
        setattr(owner, name, replacement)

    install(patch, rules)
    try:
        yield rules
    finally:
        for owner, name, original in reversed(saved):
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        rds_timeline.use(None)


def _cluster_status(cluster: DBCluster) -> str:
    return str(cluster._status)


def _set_cluster_status(cluster: DBCluster, value: str) -> None:
    cluster._status = value


def _settled(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def call(self: RDSBackend, *args: Any, **kwargs: Any) -> Any:
        current().settle(self)
        return original(self, *args, **kwargs)

    return call


def _create_db_cluster(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
        current().settle(self)
        cluster = original(self, kwargs)
        name = cluster.db_cluster_identifier
        current().begin(
            self,
            "cluster",
            name,
            cluster,
            "creating",
            seconds=CLUSTER_CREATE_SECONDS,
            then=AVAILABLE,
        )
        return cluster

    return create_db_cluster


def _restore_db_cluster_from_snapshot(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def restore(self: RDSBackend, from_snapshot_id: str, overrides: dict[str, Any]) -> DBCluster:
        rules = current()
        rules.settle(self)
        name = str(overrides.get("db_cluster_identifier") or "")
        if rules.deleting(self, "cluster", name):
            # A cluster being deleted still holds its identifier (DBClusterAlreadyExistsFault).
            raise refuse("DBClusterAlreadyExistsFault", f"DB Cluster {name} already exists")
        snapshot = snapshot_or_none(self, from_snapshot_id)
        if snapshot is not None and snapshot.status != AVAILABLE:
            # botocore RestoreDBClusterFromSnapshot: InvalidDBClusterSnapshotStateFault, "the
            # supplied value isn't a valid DB cluster snapshot state".
            raise refuse(SNAPSHOT_STATE, f"Snapshot {from_snapshot_id} is {snapshot.status}")
        return original(self, from_snapshot_id, overrides)  # `creating`: create_db_cluster

    return restore


def _create_db_instance(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create_db_instance(self: RDSBackend, db_kwargs: dict[str, Any]) -> Any:
        rules = current()
        rules.settle(self)
        name = str(db_kwargs["db_instance_identifier"])
        if rules.deleting(self, "instance", name):
            raise refuse("DBInstanceAlreadyExists", "DB instance already exists")
        cluster = self.clusters.get(db_kwargs.get("db_cluster_identifier") or "")
        if cluster is not None and cluster.status != AVAILABLE:
            # RestoreDBClusterFromSnapshot (botocore): "You can create DB instances only after
            # the RestoreDBClusterFromSnapshot operation has completed and the DB cluster is
            # available." CreateDBInstance lists InvalidDBClusterStateFault.
            raise refuse(
                CLUSTER_STATE,
                f"DB cluster {cluster.db_cluster_identifier} is in {cluster.status} state, "
                "expected available",
            )
        instance = original(self, db_kwargs)
        rules.begin(
            self,
            "instance",
            name,
            instance,
            "creating",
            seconds=INSTANCE_CREATE_SECONDS,
            then=AVAILABLE,
        )
        return instance

    return create_db_instance


def _delete_db_instance(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def delete_db_instance(
        self: RDSBackend, db_instance_identifier: str, *args: Any, **kwargs: Any
    ) -> Any:
        rules = current()
        rules.settle(self)
        if rules.deleting(self, "instance", db_instance_identifier):
            # botocore DeleteDBInstance: InvalidDBInstanceStateFault for an instance mid-deletion.
            raise refuse(INSTANCE_STATE, f"Instance {db_instance_identifier} is already deleting")
        instance = original(self, db_instance_identifier, *args, **kwargs)
        # Deleting takes time; the instance leaves the cluster's members at once (moto) and
        # DeleteDBCluster accepts members in `deleting` state, as RDS does.
        rules.begin(
            self,
            "instance",
            db_instance_identifier,
            instance,
            "deleting",
            seconds=INSTANCE_DELETE_SECONDS,
        )
        return instance

    return delete_db_instance


def _delete_db_cluster(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def delete_db_cluster(
        self: RDSBackend, cluster_identifier: str, snapshot_name: str | None = None
    ) -> DBCluster:
        rules = current()
        rules.settle(self)
        if rules.deleting(self, "cluster", cluster_identifier):
            raise refuse(CLUSTER_STATE, f"DB cluster {cluster_identifier} is already deleting")
        known = self.clusters.get(cluster_identifier)
        if known is not None and known.status in ("stopped", "stopping", "starting"):
            # "You can't delete a cluster if it's in the `stopped` state. In this case, start
            # the cluster before deleting it." (Aurora user guide, Deleting Aurora DB clusters
            # and DB instances, Deleting a stopped Aurora cluster.)
            raise refuse(
                CLUSTER_STATE,
                f"DbCluster {cluster_identifier} is in {known.status} state; start it first",
            )
        # moto already refuses, as RDS does: a cluster under deletion protection (botocore
        # DBCluster.DeletionProtection: "The database can't be deleted when deletion protection
        # is enabled"; RDS answers InvalidParameterCombination "Cannot delete protected Cluster,
        # please disable deletion protection and try again.", the same text as moto's), and
        # members not `deleting` (InvalidDBClusterStateFault, re:Post
        # knowledge-center/rds-error-delete-aurora-cluster). The final snapshot counts against
        # the manual snapshot quota (rds_snapshot_rules).
        cluster = original(self, cluster_identifier, snapshot_name)
        rules.begin(
            self, "cluster", cluster_identifier, cluster, "deleting", seconds=CLUSTER_DELETE_SECONDS
        )
        final = self.cluster_snapshots.get(snapshot_name or "")
        if final is not None:
            rules.begin(
                self,
                "snapshot",
                final.db_cluster_snapshot_identifier,
                final,
                "creating",
                seconds=CLUSTER_DELETE_SECONDS,
                then=AVAILABLE,
            )
        return cluster

    return delete_db_cluster


def _describe_with_deleting(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Describe calls show clusters and instances that are still deleting."""

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)

        @functools.wraps(original)
        def describe(self: RDSBackend, *args: Any, **kwargs: Any) -> Any:
            rules = current()
            rules.settle(self)
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            _, identifier, filters = bound.arguments.values()
            try:
                found = list(original(self, *args, **kwargs))
            except RDSClientError:
                gone = rules.deleting(self, kind, identifier) if identifier else []
                if not gone:
                    raise
                return gone
            if identifier is None and not filters:
                found.extend(rules.deleting(self, kind))
            return found

        return describe

    return wrap


def _modify_db_cluster(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def modify_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> Any:
        rules = current()
        rules.settle(self)
        # RDS stores identifiers lowercase; moto looks them up as given.
        name = kwargs["db_cluster_identifier"] = str(kwargs["db_cluster_identifier"]).lower()
        cluster = self.clusters.get(name)
        if cluster is None:
            # botocore ModifyDBCluster lists DBClusterNotFoundFault (moto raises a KeyError).
            raise refuse("DBClusterNotFoundFault", f"DBCluster {name} not found.")
        if cluster.status != AVAILABLE:
            # botocore ModifyDBCluster lists InvalidDBClusterStateFault: RDS modifies an
            # available cluster only.
            raise refuse(CLUSTER_STATE, f"DB cluster {name} is in {cluster.status} state")
        renamed = rds_rename_rules.cluster_rename(self, kwargs)  # moto consumes kwargs
        status, seconds = rds_rename_rules.renamed_status(kwargs, renamed is not None)
        result = original(self, kwargs)
        if renamed is not None:
            rds_rename_rules.keep_members(self, name, renamed)
        rules.begin(
            self,
            "cluster",
            cluster.db_cluster_identifier,
            cluster,
            status,
            seconds=seconds,
            then=AVAILABLE,
        )
        return result

    return modify_db_cluster


_WRAPPERS: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "create_db_cluster": _create_db_cluster,
    "restore_db_cluster_from_snapshot": _restore_db_cluster_from_snapshot,
    "create_db_instance": _create_db_instance,
    "delete_db_instance": _delete_db_instance,
    "delete_db_cluster": _delete_db_cluster,
    "describe_db_clusters": _describe_with_deleting("cluster"),
    "describe_db_instances": _describe_with_deleting("instance"),
    "describe_db_cluster_snapshots": _settled,
    "modify_db_cluster": _modify_db_cluster,
}
