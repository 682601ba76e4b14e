"""RDS rules moto does not keep: what RDS refuses, and statuses that take time.

moto makes every cluster, instance and snapshot available at once and accepts calls RDS refuses,
so a pipeline that does not wait, or calls RDS in the wrong order, passes here and fails on AWS.
Each rule below names its source: the RDS API reference (botocore's rds service-2.json carries
its text) or the Aurora user guide.

Statuses that take time last a typical AWS duration multiplied by `RdsRules.time_scale` (the
stack's `--time-scale`); the stack sets it once the seeded world exists, so the world is already
available when the first restore starts. With a scale of 0 a transition ends at the next RDS call.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto.rds.exceptions import RDSClientError
from moto.rds.models import DBCluster, RDSBackend

Patch = Callable[[type, str, Any], None]

# Typical AWS durations in seconds, not documented limits: a restore of a small Aurora cluster
# takes 10-30 minutes (longer than the state machine's ~15-minute Retry budget for a busy
# resource), an instance about 10, a cross-Region copy of a small snapshot about 15.
CLUSTER_CREATE_SECONDS = 1200
INSTANCE_CREATE_SECONDS = 600
INSTANCE_DELETE_SECONDS = 300
CLUSTER_DELETE_SECONDS = 300  # the final snapshot is `creating` as long
CLUSTER_SNAPSHOT_SECONDS = 300  # the cluster is `backing-up` as long
SNAPSHOT_COPY_SECONDS = 900
CLUSTER_MODIFY_SECONDS = 60

# "Manual DB cluster snapshots: 100 per Region" (adjustable), Aurora user guide, Quotas:
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/CHAP_Limits.html
MANUAL_CLUSTER_SNAPSHOT_QUOTA = 100
# "You can have up to five snapshot copy requests in progress to a single destination Region per
# account." https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_CopySnapshot.html
COPIES_IN_PROGRESS_LIMIT = 5

AVAILABLE = "available"
CLUSTER_STATE = "InvalidDBClusterStateFault"
INSTANCE_STATE = "InvalidDBInstanceState"
SNAPSHOT_STATE = "InvalidDBClusterSnapshotStateFault"
# botocore: SnapshotQuotaExceededFault's code, listed by CopyDBClusterSnapshot,
# CreateDBClusterSnapshot and DeleteDBCluster (the final snapshot counts against the quota).
SNAPSHOT_QUOTA = "SnapshotQuotaExceeded"


@dataclass
class _Transition:
    resource: Any
    status: str  # what the rule set: a later change (a fault, another call) wins over the rule
    started: float
    due: float
    then: str | None  # the status that follows; None: the resource is gone (it was deleting)


class RdsRules:
    """The rules' state for one running local stack (one per process, see moto_patches)."""

    def __init__(self, time_scale: float = 0.0) -> None:
        self.time_scale = time_scale
        self._lock = threading.RLock()
        self._pending: dict[tuple[int, str, str], _Transition] = {}
        # Deleted clusters and instances stay visible as `deleting` until their deletion ends.
        self._deleting: dict[tuple[int, str, str], Any] = {}

    def begin(
        self, backend: RDSBackend, kind: str, name: str, resource: Any, status: str, **how: Any
    ) -> None:
        """`resource` shows `status` for `seconds` (AWS time), then `then` (or goes away)."""
        now = time.monotonic()
        with self._lock:
            resource.status = status
            self._pending[(id(backend), kind, name)] = _Transition(
                resource, status, now, now + how["seconds"] * self.time_scale, how.get("then")
            )
            if how.get("then") is None:
                self._deleting[(id(backend), kind, name)] = resource

    def settle(self, backend: RDSBackend) -> None:
        """End every transition that is due, in every Region (called before each RDS call: a
        copy reads its source in another Region)."""
        now = time.monotonic()
        with self._lock:
            for key, step in list(self._pending.items()):
                if step.resource.status != step.status:  # changed since: the rule lets go
                    del self._pending[key]
                    continue
                if hasattr(step.resource, "percent_progress"):
                    span = max(step.due - step.started, 1e-9)
                    step.resource.percent_progress = min(
                        100, int(100 * (now - step.started) / span)
                    )
                if now < step.due:
                    continue
                del self._pending[key]
                if step.then is None:
                    self._deleting.pop(key, None)
                else:
                    step.resource.status = step.then

    def forget(self, resource: Any) -> None:
        """A status set from outside (a test, a fault) stays: no transition of the rules ends it."""
        with self._lock:
            for key, step in list(self._pending.items()):
                if step.resource is resource:
                    del self._pending[key]

    def deleting(self, backend: RDSBackend, kind: str, name: str | None = None) -> list[Any]:
        with self._lock:
            return [
                resource
                for (owner, found_kind, found_name), resource in self._deleting.items()
                if owner == id(backend) and found_kind == kind and name in (None, found_name)
            ]


_rules: list[RdsRules] = []
_ABSENT = object()  # an attribute the class inherited rather than defined


def install(patch: Patch, rules: RdsRules) -> None:
    """Patch moto's RDS backend with the rules; `patch` records each change for uninstall."""
    _rules[:] = [rules]
    # moto's cluster flips its own `creating` to `available` on the first read; the rules decide.
    patch(DBCluster, "status", property(_cluster_status, _set_cluster_status))
    for name, wrapper in _WRAPPERS.items():
        patch(RDSBackend, name, wrapper(getattr(RDSBackend, name)))


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
        _rules.clear()


def _cluster_status(cluster: DBCluster) -> str:
    return str(cluster._status)


def _set_cluster_status(cluster: DBCluster, value: str) -> None:
    cluster._status = value


def _the() -> RdsRules:
    return _rules[0]


def _refuse(code: str, message: str) -> RDSClientError:
    return RDSClientError(code, message)


def _manual_snapshots(backend: RDSBackend) -> int:
    return sum(1 for s in backend.cluster_snapshots.values() if s.snapshot_type == "manual")


def _check_quota(backend: RDSBackend) -> None:
    if _manual_snapshots(backend) >= MANUAL_CLUSTER_SNAPSHOT_QUOTA:
        # The code and text RDS answers (pbudzon/aws-maintenance#12, CopyDBClusterSnapshot).
        raise _refuse(
            SNAPSHOT_QUOTA,
            f"Cannot create more than {MANUAL_CLUSTER_SNAPSHOT_QUOTA} manual snapshots",
        )


def _settled(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def call(self: RDSBackend, *args: Any, **kwargs: Any) -> Any:
        _the().settle(self)
        return original(self, *args, **kwargs)

    return call


def _create_db_cluster(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
        _the().settle(self)
        cluster = original(self, kwargs)
        name = cluster.db_cluster_identifier
        _the().begin(
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
        rules = _the()
        rules.settle(self)
        name = str(overrides.get("db_cluster_identifier") or "")
        if rules.deleting(self, "cluster", name):
            # A cluster being deleted still holds its identifier (DBClusterAlreadyExistsFault).
            raise _refuse("DBClusterAlreadyExistsFault", f"DB Cluster {name} already exists")
        snapshot = _snapshot_or_none(self, from_snapshot_id)
        if snapshot is not None and snapshot.status != AVAILABLE:
            # botocore RestoreDBClusterFromSnapshot: InvalidDBClusterSnapshotStateFault, "the
            # supplied value isn't a valid DB cluster snapshot state".
            raise _refuse(SNAPSHOT_STATE, f"Snapshot {from_snapshot_id} is {snapshot.status}")
        cluster = original(self, from_snapshot_id, overrides)  # created `creating` (above)
        return cluster

    return restore


def _create_db_instance(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create_db_instance(self: RDSBackend, db_kwargs: dict[str, Any]) -> Any:
        rules = _the()
        rules.settle(self)
        name = str(db_kwargs["db_instance_identifier"])
        if rules.deleting(self, "instance", name):
            raise _refuse("DBInstanceAlreadyExists", "DB instance already exists")
        cluster = self.clusters.get(db_kwargs.get("db_cluster_identifier") or "")
        if cluster is not None and cluster.status != AVAILABLE:
            # RestoreDBClusterFromSnapshot (botocore): "You can create DB instances only after
            # the RestoreDBClusterFromSnapshot operation has completed and the DB cluster is
            # available." CreateDBInstance lists InvalidDBClusterStateFault.
            raise _refuse(
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
        rules = _the()
        rules.settle(self)
        if rules.deleting(self, "instance", db_instance_identifier):
            # botocore DeleteDBInstance: InvalidDBInstanceStateFault for an instance mid-deletion.
            raise _refuse(INSTANCE_STATE, f"Instance {db_instance_identifier} is already deleting")
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
        rules = _the()
        rules.settle(self)
        if rules.deleting(self, "cluster", cluster_identifier):
            raise _refuse(CLUSTER_STATE, f"DB cluster {cluster_identifier} is already deleting")
        # moto keeps: DeletionProtection refused with InvalidParameterCombination ("Cannot delete
        # protected Cluster, please disable deletion protection and try again.", RDS's text,
        # https://repost.aws/knowledge-center/rds-error-delete-aurora-cluster); members not
        # `deleting` refused with InvalidDBClusterStateFault. The final snapshot counts against
        # the manual snapshot quota (create_db_cluster_snapshot below).
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
            rules = _the()
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


def _create_db_cluster_snapshot(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create_db_cluster_snapshot(
        self: RDSBackend,
        db_cluster_identifier: str,
        db_cluster_snapshot_identifier: str,
        snapshot_type: str = "manual",
        tags: list[dict[str, str]] | None = None,
    ) -> Any:
        rules = _the()
        rules.settle(self)
        manual = snapshot_type == "manual"
        if manual:
            _check_quota(self)
        snapshot = original(
            self, db_cluster_identifier, db_cluster_snapshot_identifier, snapshot_type, tags
        )
        if manual:
            # The cluster is `backing-up` while its snapshot is `creating` (Aurora user guide,
            # DB cluster status: accessing-monitoring.html#Aurora.Status).
            cluster = self.clusters[db_cluster_identifier]
            rules.begin(
                self,
                "cluster",
                db_cluster_identifier,
                cluster,
                "backing-up",
                seconds=CLUSTER_SNAPSHOT_SECONDS,
                then=AVAILABLE,
            )
            rules.begin(
                self,
                "snapshot",
                db_cluster_snapshot_identifier,
                snapshot,
                "creating",
                seconds=CLUSTER_SNAPSHOT_SECONDS,
                then=AVAILABLE,
            )
        return snapshot

    return create_db_cluster_snapshot


def _copy_db_cluster_snapshot(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def copy_db_cluster_snapshot(
        self: RDSBackend,
        source_db_cluster_snapshot_identifier: str,
        target_db_cluster_snapshot_identifier: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        source = source_db_cluster_snapshot_identifier
        target = target_db_cluster_snapshot_identifier
        rules = _the()
        rules.settle(self)
        if target not in self.cluster_snapshots:  # moto answers AlreadyExists first, as RDS
            _check_quota(self)
            copying = sum(1 for s in self.cluster_snapshots.values() if s.status == "copying")
            if copying >= COPIES_IN_PROGRESS_LIMIT:
                # The limit: module constant's source. The code: RDS's quota fault, the one it
                # answers for CopyDBSnapshot's copy limit (pbudzon/aws-maintenance#19).
                raise _refuse(
                    SNAPSHOT_QUOTA,
                    f"Cannot have more than {COPIES_IN_PROGRESS_LIMIT} snapshot copies in "
                    "progress to this Region",
                )
            found = _snapshot_or_none(self, source)
            if found is not None and found.status != AVAILABLE:
                # botocore CopyDBClusterSnapshot, SourceDBClusterSnapshotIdentifier: "Must
                # specify a valid system snapshot in the available state."
                raise _refuse(SNAPSHOT_STATE, f"Snapshot {source} is {found.status}")
        copy = original(self, source, target, *args, **kwargs)
        rules.begin(
            self, "snapshot", target, copy, "copying", seconds=SNAPSHOT_COPY_SECONDS, then=AVAILABLE
        )
        copy.percent_progress = 0
        return copy

    return copy_db_cluster_snapshot


def _delete_db_cluster_snapshot(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def delete_db_cluster_snapshot(self: RDSBackend, db_snapshot_identifier: str) -> Any:
        _the().settle(self)
        snapshot = self.cluster_snapshots.get(db_snapshot_identifier)
        # botocore DeleteDBClusterSnapshot: "The DB cluster snapshot must be in the available
        # state to be deleted." Deleting a copy in `copying` status cancels the copy
        # (CopyDBClusterSnapshot), so that one is allowed too.
        if snapshot is not None and snapshot.status not in (AVAILABLE, "copying"):
            raise _refuse(SNAPSHOT_STATE, f"Snapshot {db_snapshot_identifier} is {snapshot.status}")
        return original(self, db_snapshot_identifier)

    return delete_db_cluster_snapshot


def _modify_db_cluster(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def modify_db_cluster(self: RDSBackend, kwargs: Mapping[str, Any]) -> Any:
        rules = _the()
        rules.settle(self)
        name = str(kwargs["db_cluster_identifier"])
        renamed = str(kwargs.get("new_db_cluster_identifier") or name)  # moto consumes kwargs
        resetting = bool(kwargs.get("master_user_password"))
        cluster = self.clusters.get(name)
        if cluster is not None and cluster.status != AVAILABLE:
            # botocore ModifyDBCluster lists InvalidDBClusterStateFault: RDS modifies an
            # available cluster only.
            raise _refuse(CLUSTER_STATE, f"DB cluster {name} is in {cluster.status} state")
        result = original(self, kwargs)
        if cluster is not None:
            # Aurora user guide, DB cluster status: `resetting-master-credentials` for a new
            # master password, `modifying` for other changes.
            status = "resetting-master-credentials" if resetting else "modifying"
            current = self.clusters.get(renamed, cluster)
            rules.begin(
                self,
                "cluster",
                current.db_cluster_identifier,
                current,
                status,
                seconds=CLUSTER_MODIFY_SECONDS,
                then=AVAILABLE,
            )
        return result

    return modify_db_cluster


def _snapshot_or_none(backend: RDSBackend, identifier: str) -> Any:
    try:
        return backend.get_db_cluster_snapshot(identifier)
    except RDSClientError:
        return None  # moto answers the not-found error itself


_WRAPPERS: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "create_db_cluster": _create_db_cluster,
    "restore_db_cluster_from_snapshot": _restore_db_cluster_from_snapshot,
    "create_db_instance": _create_db_instance,
    "delete_db_instance": _delete_db_instance,
    "delete_db_cluster": _delete_db_cluster,
    "describe_db_clusters": _describe_with_deleting("cluster"),
    "describe_db_instances": _describe_with_deleting("instance"),
    "describe_db_cluster_snapshots": _settled,
    "create_db_cluster_snapshot": _create_db_cluster_snapshot,
    "copy_db_cluster_snapshot": _copy_db_cluster_snapshot,
    "delete_db_cluster_snapshot": _delete_db_cluster_snapshot,
    "modify_db_cluster": _modify_db_cluster,
}
