"""What ValidateRequest proves before anyone is asked to approve: that AWS will accept the plan.

`check_plan` (pipeline.plan) checks the snapshot and the target; these checks cover the calls
made later, each refused now with what is wrong and how to fix it rather than hours later, after
an approval, half-way through a restore:
- the deployment's IAM grants the snapshot (rds.snapshot_patterns);
- RDS offers the instance class for the engine version (CreateDBInstance would refuse it);
- the account's RDS quotas leave room for the new cluster, its instances and snapshots;
- the configured cluster parameter group is of the engine version's family;
- the KMS key of an encrypted restore or copy exists and is enabled.
"""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

from botocore.exceptions import ClientError

from pipeline.aws_errors import ACCOUNT_QUOTA_ADVICE, SNAPSHOT_QUOTA_ADVICE, aws_call, error_code
from pipeline.context import PipelineContext
from pipeline.errors import (
    AccountQuotaError,
    ConfigurationError,
    FatalError,
    InstanceClassNotOrderableError,
    KmsKeyUnusableError,
    ParameterGroupMismatchError,
    SnapshotOutOfScopeError,
)
from pipeline.models import Plan

SUGGESTED_CLASSES = 6  # how many orderable classes a refusal lists
ENABLED = "Enabled"
_KEY_STATE_ADVICE = {
    "Disabled": "enable it (kms:EnableKey)",
    "PendingDeletion": "cancel its deletion (kms:CancelKeyDeletion) and enable it",
}


def prove_restorable(plan: Plan, ctx: PipelineContext) -> None:
    """Refuse the plan, saying what to change, if AWS would refuse one of its steps later."""
    settings = ctx.settings
    rds = ctx.clients.rds(plan.target_region)
    ensure_snapshot_in_scope(plan.source_snapshot_id, settings.snapshot_patterns)
    ensure_orderable(rds, plan)
    ensure_quota_headroom(rds, plan)
    if settings.db_cluster_parameter_group:
        ensure_parameter_group_family(rds, plan, settings.db_cluster_parameter_group)
    if plan.encrypted and plan.kms_key_id:
        region = plan.kms_key_id.split(":")[3] if plan.kms_key_id.startswith("arn:") else None
        ensure_key_enabled(ctx.clients.client("kms", region or plan.target_region), plan.kms_key_id)


def snapshot_name(snapshot_id: str) -> str:
    """The name IAM sees in the snapshot's ARN (a shared snapshot is known by its ARN)."""
    return snapshot_id.split(":cluster-snapshot:", 1)[-1]


def in_scope(snapshot_id: str, patterns: list[str]) -> bool:
    """Matched as IAM matches an ARN's resource name: `*` any run, `?` one character, case
    sensitive, nothing else special (so `[` is literal)."""
    name = snapshot_name(snapshot_id)
    return any(fnmatchcase(name, pattern.replace("[", "[[]")) for pattern in patterns)


def ensure_snapshot_in_scope(snapshot_id: str, patterns: list[str]) -> None:
    # The copy and restore roles are granted only these snapshots (infra/permissions.py
    # `_source_snapshots`): any other is AccessDenied at CopySnapshot or RestoreCluster.
    if patterns and not in_scope(snapshot_id, patterns):
        listed = ", ".join(f"`{pattern}`" for pattern in patterns)
        raise SnapshotOutOfScopeError(
            f"snapshot `{snapshot_name(snapshot_id)}` is outside the snapshots this deployment "
            f"may restore from ({listed}): the deployment's rds.snapshot_patterns must include "
            "it before it can be restored"
        )


def ensure_orderable(rds: Any, plan: Plan) -> None:
    """CreateDBInstance refuses a class the engine version does not offer in the Region."""
    asked = {"Engine": plan.engine, "EngineVersion": plan.engine_version}
    if _orderable(rds, plan, {**asked, "DBInstanceClass": plan.instance_class}):
        return
    offered = sorted({o["DBInstanceClass"] for o in _orderable(rds, plan, asked)})
    what = f"{plan.engine} {plan.engine_version} in {plan.target_region}"
    if not offered:
        raise InstanceClassNotOrderableError(
            f"RDS offers no instance class for {what}: is the engine version still available?"
        )
    # Classes of the size asked for first (db.r7g.large for db.r5.large), then the rest.
    size = plan.instance_class.rsplit(".", 1)[-1]
    offered.sort(key=lambda name: (not name.endswith(f".{size}"), name))
    shown = ", ".join(f"`{name}`" for name in offered[:SUGGESTED_CLASSES])
    more = len(offered) - SUGGESTED_CLASSES
    raise InstanceClassNotOrderableError(
        f"instance class `{plan.instance_class}` is not offered for {what}: ask with "
        f"--instance-class one of {shown}" + (f" (or {more} others)" if more > 0 else "")
    )


def _orderable(rds: Any, plan: Plan, filters: dict[str, str]) -> list[dict[str, Any]]:
    paginator = rds.get_paginator("describe_orderable_db_instance_options")
    with aws_call(f"list the instance classes of {plan.engine} {plan.engine_version}"):
        return [
            option
            for page in paginator.paginate(**filters)
            for option in page.get("OrderableDBInstanceOptions", [])
        ]


def ensure_quota_headroom(rds: Any, plan: Plan) -> None:
    """Room under the account's quotas for what the restore creates. A swap keeps the replaced
    target beside the new cluster (and it gets a final snapshot when its retention ends); an
    in-place replace deletes the target first, after its safety snapshot and with a final one."""
    snapshots = sum(
        [
            plan.needs_copy,  # the intermediate copy
            plan.safety_snapshot_id is not None,
            plan.final_snapshot_id is not None,
            plan.swap_target,  # the kept cluster's final snapshot, at the end of its retention
        ]
    )
    in_place = plan.delete_target
    clusters = 0 if in_place else 1
    instances = plan.instance_count - (len(plan.existing_instances) if in_place else 0)
    needs = [
        ("DBClusters", clusters, "DB cluster", ACCOUNT_QUOTA_ADVICE["DBClusterQuotaExceededFault"]),
        (
            "DBInstances",
            max(0, instances),
            "DB instance",
            ACCOUNT_QUOTA_ADVICE["InstanceQuotaExceeded"],
        ),
        ("ManualClusterSnapshots", snapshots, "manual cluster snapshot", SNAPSHOT_QUOTA_ADVICE),
    ]
    with aws_call("read the account's RDS quotas"):
        quotas = {
            str(quota["AccountQuotaName"]): quota
            for quota in rds.describe_account_attributes().get("AccountQuotas", [])
        }
    for name, need, noun, advice in needs:
        quota = quotas.get(name)
        if need == 0 or quota is None:
            continue
        used, maximum = int(quota.get("Used", 0)), int(quota.get("Max", 0))
        if used + need > maximum:
            raise AccountQuotaError(
                f"the restore needs {need} more {noun}{'s' if need > 1 else ''}, and the "
                f"account's `{name}` quota in {plan.target_region} has {used} of {maximum} in "
                f"use: {advice}"
            )


def ensure_parameter_group_family(rds: Any, plan: Plan, group: str) -> None:
    """RestoreDBClusterFromSnapshot refuses a parameter group of another engine family."""
    with aws_call(f"describe cluster parameter group {group}", fatal=_missing_group(group, plan)):
        described = rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName=group)
    group_family = str(described["DBClusterParameterGroups"][0]["DBParameterGroupFamily"])
    paginator = rds.get_paginator("describe_db_engine_versions")
    with aws_call(f"describe engine version {plan.engine} {plan.engine_version}"):
        families = {
            str(version["DBParameterGroupFamily"])
            for page in paginator.paginate(Engine=plan.engine, EngineVersion=plan.engine_version)
            for version in page.get("DBEngineVersions", [])
        }
    if families and group_family not in families:
        wanted = ", ".join(f"`{family}`" for family in sorted(families))
        raise ParameterGroupMismatchError(
            f"the cluster parameter group `{group}` (the deployment's "
            f"rds.db_cluster_parameter_group) is of family `{group_family}`, but the snapshot's "
            f"{plan.engine} {plan.engine_version} needs {wanted}: restore a snapshot of a "
            f"`{group_family}` engine, or configure a parameter group of family {wanted}"
        )


def _missing_group(group: str, plan: Plan) -> Callable[[ClientError], FatalError]:
    def fatal(exc: ClientError) -> FatalError:
        if error_code(exc) in ("DBParameterGroupNotFound", "DBParameterGroupNotFoundFault"):
            return ConfigurationError(
                f"the cluster parameter group `{group}` (AURORA_RESTORE_DB_CLUSTER_PARAMETER_GROUP)"
                f" does not exist in {plan.target_region}: create it or correct the deployment's "
                "rds.db_cluster_parameter_group"
            )
        return FatalError(f"describe cluster parameter group {group} failed: {exc}")

    return fatal


def ensure_key_enabled(kms: Any, key_id: str) -> None:
    """RDS cannot restore or copy with a key that is disabled, pending deletion or missing."""
    with aws_call(f"describe KMS key {key_id}", fatal=_unusable_key(key_id)):
        metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    state = str(metadata.get("KeyState", ""))
    if state != ENABLED:
        advice = _KEY_STATE_ADVICE.get(state, "wait until it is `Enabled` or use another key")
        raise KmsKeyUnusableError(
            f"KMS key `{key_id}`, which the restore needs to decrypt or encrypt the snapshot, is "
            f"`{state}`: {advice}, then request the restore again"
        )


def _unusable_key(key_id: str) -> Callable[[ClientError], FatalError]:
    def fatal(exc: ClientError) -> FatalError:
        code = error_code(exc)
        if code == "NotFoundException":
            reason = "does not exist"
        elif code in ("AccessDenied", "AccessDeniedException"):
            # The roles may use only the configured keys (infra/permissions.py `_kms`).
            reason = (
                "is not one this deployment may use: list it in the deployment's "
                "rds.kms_key_arn or rds.source_kms_key_arns (an AWS managed key such as "
                "aws/rds too), and let its key policy allow the account"
            )
        else:
            return FatalError(f"describe KMS key {key_id} failed: {exc}")
        return KmsKeyUnusableError(f"KMS key `{key_id}`, which the restore needs, {reason}")

    return fatal
