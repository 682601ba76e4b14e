"""Renaming clusters and instances as RDS does (ModifyDBCluster NewDBClusterIdentifier,
ModifyDBInstance NewDBInstanceIdentifier): the swap of a replace is built on these.

moto renames onto a name in use (the other cluster or instance silently disappears), leaves a
renamed cluster with no members, renames at once whether or not ApplyImmediately is set, and gives
every cluster its own DNS identifier. RDS:
- refuses a name in use: DBClusterAlreadyExistsFault, DBInstanceAlreadyExists (botocore lists
  both for the two calls; RDS user guide, "Renaming a DB instance": "You cannot use an existing DB
  instance name"; the Multi-AZ cluster rename page says the same of clusters). A cluster or
  instance still `deleting` holds its name;
- keeps the instances in the renamed cluster (they belong to the cluster, not to its name);
- renames only with ApplyImmediately, otherwise in the next maintenance window (RDS API reference,
  ModifyDBCluster ApplyImmediately, in its earlier editions: "only affects the
  EnableIAMDatabaseAuthentication, MasterUserPassword, and NewDBClusterIdentifier values";
  botocore NewDBInstanceIdentifier). The local stack never reaches a maintenance window, so such
  a rename does not happen (nor does it show in PendingModifiedValues, which is not emulated);
- shows `renaming` for a while (Aurora user guide, DB cluster and DB instance statuses): the new
  DNS name "becomes effective in about two minutes" for a cluster, "about 10 minutes" for an
  instance (RDS user guide, the two rename pages);
- names endpoints `<name>.cluster-<customer DNS identifier>.<region>.rds.amazonaws.com`, that
  identifier being "a unique identifier associated with your AWS account in a particular AWS
  Region" (Aurora user guide, custom endpoints): a cluster renamed to the target's name answers
  on the target's old DNS name.
Not emulated, for want of a source saying what RDS does: renaming a member of a global cluster
(ModifyDBCluster lists InvalidGlobalClusterStateFault) or a cluster whose instances are busy.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from moto.rds.models import DBCluster, RDSBackend

from local_stack.rds_timeline import AVAILABLE, CLUSTER_MODIFY_SECONDS, current, refuse

CLUSTER_RENAME_SECONDS = 120
INSTANCE_RENAME_SECONDS = 600
CLUSTER_EXISTS = "DBClusterAlreadyExistsFault"
INSTANCE_EXISTS = "DBInstanceAlreadyExists"
INSTANCE_STATE = "InvalidDBInstanceState"

Patch = Callable[[type, str, Any], None]
# botocore NewDBClusterIdentifier / NewDBInstanceIdentifier: "1 to 63 letters, numbers, or
# hyphens. The first character must be a letter. Can't end with a hyphen or contain two
# consecutive hyphens." (moto words the refusal as RDS does for other identifiers.)
_IDENTIFIER = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


def _check_identifier(parameter: str, value: str) -> None:
    if len(value) > 63 or _IDENTIFIER.fullmatch(value) is None:
        raise refuse(
            "InvalidParameterValue",
            f"The parameter {parameter} is not a valid identifier. Identifiers must begin with a "
            "letter; must contain only ASCII letters, digits, and hyphens; and must not end with "
            "a hyphen or contain two consecutive hyphens.",
        )


def install(patch: Patch) -> None:
    patch(DBCluster, "url_identifier", property(_customer_dns_identifier, _ignore))
    patch(RDSBackend, "modify_db_instance", _modify_db_instance(RDSBackend.modify_db_instance))


def cluster_rename(backend: RDSBackend, kwargs: dict[str, Any]) -> str | None:
    """The name this ModifyDBCluster gives its cluster now, or None; refuses a name in use and
    drops a rename that would wait for the maintenance window."""
    name = str(kwargs["db_cluster_identifier"]).lower()
    new = str(kwargs.get("new_db_cluster_identifier") or "").lower()
    if not new or new == name:
        return None
    _check_identifier("NewDBClusterIdentifier", new)
    if new in backend.clusters or current().deleting(backend, "cluster", new):
        raise refuse(CLUSTER_EXISTS, f"DB Cluster {new} already exists")
    if not kwargs.get("apply_immediately"):
        del kwargs["new_db_cluster_identifier"]
        return None
    kwargs["new_db_cluster_identifier"] = new
    return new


def keep_members(backend: RDSBackend, old: str, new: str) -> None:
    """A renamed cluster keeps its instances (moto finds members by the cluster's name), those
    still deleting too."""
    for instance in [*backend.databases.values(), *current().deleting(backend, "instance")]:
        if getattr(instance, "db_cluster_identifier", None) == old:
            instance.db_cluster_identifier = new


def _modify_db_instance(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def modify_db_instance(
        self: RDSBackend, db_instance_identifier: str, db_kwargs: dict[str, Any]
    ) -> Any:
        rules = current()
        rules.settle(self)
        # RDS stores identifiers lowercase; moto looks them up as given.
        name = db_instance_identifier = db_instance_identifier.lower()
        db_kwargs["db_instance_identifier"] = name
        new = str(db_kwargs.get("new_db_instance_identifier") or "").lower()
        instance = self.databases.get(name)
        renaming = bool(new) and new != name
        if renaming:
            _check_identifier("NewDBInstanceIdentifier", new)
        if renaming and instance is not None and instance.status != AVAILABLE:
            # botocore ModifyDBInstance lists InvalidDBInstanceStateFault.
            raise refuse(INSTANCE_STATE, f"DB instance {name} is in {instance.status} state")
        if renaming and (new in self.databases or rules.deleting(self, "instance", new)):
            raise refuse(INSTANCE_EXISTS, "DB instance already exists")
        if renaming and not db_kwargs.get("apply_immediately"):
            renaming = False
        if not renaming:
            db_kwargs.pop("new_db_instance_identifier", None)
        else:
            db_kwargs["new_db_instance_identifier"] = new
        result = original(self, db_instance_identifier, db_kwargs)
        if renaming:
            rules.begin(
                self,
                "instance",
                new,
                result,
                "renaming",
                seconds=INSTANCE_RENAME_SECONDS,
                then=AVAILABLE,
            )
        return result

    return modify_db_instance


def _customer_dns_identifier(cluster: DBCluster) -> str:
    digest = hashlib.sha256(f"{cluster.account_id}:{cluster.region}".encode()).hexdigest()
    return digest[:12]


def _ignore(cluster: DBCluster, value: Any) -> None:
    """moto's constructor sets a random identifier per cluster; the account's one stands."""


def renamed_status(kwargs: Mapping[str, Any], renamed: bool) -> tuple[str, int]:
    """The status a ModifyDBCluster leaves, and for how long (AWS seconds): Aurora user guide, DB
    cluster status (`resetting-master-credentials` for a new master password)."""
    if renamed:
        return "renaming", CLUSTER_RENAME_SECONDS
    if kwargs.get("master_user_password"):
        return "resetting-master-credentials", CLUSTER_MODIFY_SECONDS
    return "modifying", CLUSTER_MODIFY_SECONDS
