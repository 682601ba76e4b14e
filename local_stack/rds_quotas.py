"""RDS account quotas: DescribeAccountAttributes (moto lacks it) and the refusals at the quota.

The defaults are AWS's, per account and Region (Aurora user guide, "Quotas in Amazon Aurora",
CHAP_Limits.html: 40 DB clusters, 40 DB instances, 100 manual DB cluster snapshots); a real
DescribeAccountAttributes answers them as `DBClusters`, `DBInstances` and
`ManualClusterSnapshots` with `Used` and `Max`. Creating past a quota is refused with the
botocore model's DBClusterQuotaExceededFault (HTTP 403) or InstanceQuotaExceeded. A cluster or
instance still deleting counts, as it does on AWS until it is gone. A local stack that runs many
restores at once raises the quotas (`RdsRules.quotas`) as an account owner would. Only these three
of the quotas RDS reports are answered (not AllocatedStorage, DBSubnetGroups, ...).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult
from moto.rds.models import RDSBackend
from moto.rds.responses import RDSResponse

from local_stack.rds_snapshot_rules import MANUAL_CLUSTER_SNAPSHOT_QUOTA
from local_stack.rds_timeline import current, refuse

DB_CLUSTERS = "DBClusters"
DB_INSTANCES = "DBInstances"
MANUAL_CLUSTER_SNAPSHOTS = "ManualClusterSnapshots"
DEFAULT_QUOTAS = {
    DB_CLUSTERS: 40,
    DB_INSTANCES: 40,
    MANUAL_CLUSTER_SNAPSHOTS: MANUAL_CLUSTER_SNAPSHOT_QUOTA,
}

Patch = Callable[[type, str, Any], None]


def install(patch: Patch) -> None:
    patch(RDSResponse, "describe_account_attributes", _describe_account_attributes)
    patch(RDSBackend, "create_db_cluster", _within(DB_CLUSTERS)(RDSBackend.create_db_cluster))
    patch(RDSBackend, "create_db_instance", _within(DB_INSTANCES)(RDSBackend.create_db_instance))


def quota(name: str) -> int:
    return current().quotas.get(name, DEFAULT_QUOTAS[name])


def used(backend: RDSBackend, name: str) -> int:
    rules = current()
    if name == DB_CLUSTERS:
        return len(backend.clusters) + len(rules.deleting(backend, "cluster"))
    if name == DB_INSTANCES:
        return len(backend.databases) + len(rules.deleting(backend, "instance"))
    return sum(1 for s in backend.cluster_snapshots.values() if s.snapshot_type == "manual")


def _describe_account_attributes(self: RDSResponse) -> ActionResult:
    current().settle(self.backend)
    quotas = [
        {"AccountQuotaName": name, "Used": used(self.backend, name), "Max": quota(name)}
        for name in DEFAULT_QUOTAS
    ]
    return ActionResult({"AccountQuotas": quotas})


_REFUSALS = {
    DB_CLUSTERS: ("DBClusterQuotaExceededFault", "DB cluster quota exceeded"),
    DB_INSTANCES: ("InstanceQuotaExceeded", "DB instance quota exceeded"),
}


def _within(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def create(self: RDSBackend, *args: Any, **kwargs: Any) -> Any:
            current().settle(self)
            if used(self, name) >= quota(name):
                code, message = _REFUSALS[name]
                raise refuse(code, f"{message}: {quota(name)} allowed in this Region")
            return original(self, *args, **kwargs)

        return create

    return wrap
