"""Pipeline fixtures: a PipelineContext on moto, RDS seeding, operations and the progress probe."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID

from local_stack.rds_rules import MANUAL_CLUSTER_SNAPSHOT_QUOTA, RdsRules, enforced
from local_stack.secrets_rules import labels_enforced
from pipeline.aws import AwsClients
from pipeline.context import PipelineContext, set_default_context
from pipeline.models import (
    AuditEvent,
    OperationStatus,
    ProgressEvent,
    RestoreRequest,
    new_operation_id,
)
from pipeline.settings import PipelineSettings
from pipeline.store import OperationStore
from tests.conftest import AUDIT_TABLE, OPERATIONS_TABLE, REGION

SOURCE_REGION = "eu-west-1"
ENGINE = "aurora-postgresql"
ENGINE_VERSION = "15.4"
SUBNET_GROUP = "restore-subnets"
SECURITY_GROUP = "sg-0123456789abcdef0"
PARAMETER_GROUP = "restore-params"
PROTECTED_PATTERN = "prod-*"


class RdsSeed:
    """Arranges RDS state for a test: clusters, instances and snapshots in any region, and
    statuses or creation times set directly on moto's backend objects."""

    def __init__(self, clients: AwsClients, rules: RdsRules) -> None:
        self._clients = clients
        self._rules = rules  # a status set here stays until the test changes it

    def backend(self, region: str = REGION) -> Any:
        return get_backend("rds")[DEFAULT_ACCOUNT_ID][region]

    def cluster(
        self,
        cluster_id: str,
        *,
        region: str = REGION,
        instances: int = 0,
        encrypted: bool = False,
        deletion_protection: bool = False,
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        rds = self._clients.rds(region)
        cluster = rds.create_db_cluster(
            DBClusterIdentifier=cluster_id,
            Engine=ENGINE,
            EngineVersion=ENGINE_VERSION,
            MasterUsername="postgres",
            MasterUserPassword="not-a-real-password",
            StorageEncrypted=encrypted,
            DeletionProtection=deletion_protection,
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        )["DBCluster"]
        for number in range(1, instances + 1):
            rds.create_db_instance(
                DBInstanceIdentifier=f"{cluster_id}-old-{number}",
                DBClusterIdentifier=cluster_id,
                Engine=ENGINE,
                DBInstanceClass="db.r6g.large",
            )
        return dict(cluster)

    def snapshot(
        self,
        cluster_id: str,
        snapshot_id: str,
        *,
        region: str = REGION,
        created: datetime | None = None,
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        snapshot = self._clients.rds(region).create_db_cluster_snapshot(
            DBClusterIdentifier=cluster_id,
            DBClusterSnapshotIdentifier=snapshot_id,
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        )["DBClusterSnapshot"]
        if created is not None:
            self.set_snapshot_created(snapshot_id, created, region=region)
        return dict(snapshot)

    def automated_snapshot(
        self, cluster_id: str, snapshot_id: str, *, created: datetime, region: str = REGION
    ) -> str:
        self.backend(region).create_auto_cluster_snapshot(cluster_id, snapshot_id)
        self.set_snapshot_created(snapshot_id, created, region=region)
        return snapshot_id

    def set_snapshot_created(
        self, snapshot_id: str, created: datetime, *, region: str = REGION
    ) -> None:
        self.backend(region).cluster_snapshots[snapshot_id].created = created

    def set_cluster_status(self, cluster_id: str, status: str, *, region: str = REGION) -> None:
        self._set_status(self.backend(region).clusters[cluster_id], status)

    def set_instance_status(self, instance_id: str, status: str, *, region: str = REGION) -> None:
        self._set_status(self.backend(region).databases[instance_id], status)

    def set_snapshot_status(self, snapshot_id: str, status: str, *, region: str = REGION) -> None:
        self._set_status(self.backend(region).cluster_snapshots[snapshot_id], status)

    def _set_status(self, resource: Any, status: str) -> None:
        self._rules.forget(resource)
        resource.status = status

    def fill_snapshot_quota(self, cluster_id: str, *, region: str = REGION) -> None:
        """Manual snapshots of `cluster_id` until the Region holds RDS's quota of them."""
        manual = [
            s
            for s in self.backend(region).cluster_snapshots.values()
            if s.snapshot_type == "manual"
        ]
        for number in range(MANUAL_CLUSTER_SNAPSHOT_QUOTA - len(manual)):
            self.snapshot(cluster_id, f"{cluster_id}-keep-{number}", region=region)

    def drop_automated_snapshots(self, cluster_id: str, *, region: str = REGION) -> None:
        """AWS deletes a cluster's automated snapshots with the cluster; moto 5.2.5 keeps them, and
        then refuses a new cluster of the same name its first automated snapshot."""
        snapshots = self.backend(region).cluster_snapshots
        for snapshot_id in [s for s in snapshots if s.startswith(f"rds:{cluster_id}-")]:
            del snapshots[snapshot_id]

    def snapshot_ids(self, region: str = REGION) -> set[str]:
        return set(self.backend(region).cluster_snapshots)

    def cluster_ids(self, region: str = REGION) -> set[str]:
        return set(self.backend(region).clusters)

    def instance_ids(self, region: str = REGION) -> set[str]:
        return set(self.backend(region).databases)


@pytest.fixture(autouse=True)
def secrets_rules() -> Iterator[None]:
    """moto's Secrets Manager labels as AWS moves them (local_stack/secrets_rules.py)."""
    with labels_enforced():
        yield


@pytest.fixture(autouse=True)
def rds_rules() -> Iterator[RdsRules]:
    """moto as strict as RDS (local_stack/rds_rules.py); statuses end at the next call (scale 0)."""
    with enforced(RdsRules(time_scale=0)) as rules:
        yield rules


@pytest.fixture
def target_kms_key(aws: AwsClients) -> str:
    return str(aws.client("kms").create_key(Description="restore copies")["KeyMetadata"]["Arn"])


@pytest.fixture
def network(aws: AwsClients) -> None:
    """The subnet group and parameter group the settings name, as they exist on AWS."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{az}")[
            "Subnet"
        ]["SubnetId"]
        for n, az in enumerate("ab")
    ]
    rds = aws.rds()
    rds.create_db_subnet_group(
        DBSubnetGroupName=SUBNET_GROUP, DBSubnetGroupDescription="restores", SubnetIds=subnets
    )
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName=PARAMETER_GROUP,
        DBParameterGroupFamily="aurora-postgresql15",
        Description="restores",
    )


# Each wait loop's maximum checks in these tests: small and all different, so a test sees which
# budget a loop used (ValidateRequest hands them to the state machine as they are).
WAIT_BUDGETS = {
    "copy": 9,
    "safety": 8,
    "delete": 7,
    "cluster": 6,
    "instances": 5,
    "swap": 12,
    "undo": 11,
    "start": 10,
}


@pytest.fixture
def settings(topic_arn: str, target_kms_key: str, network: None) -> PipelineSettings:
    return PipelineSettings(
        operations_table=OPERATIONS_TABLE,
        audit_table=AUDIT_TABLE,
        progress_topic_arn=topic_arn,
        db_subnet_group=SUBNET_GROUP,
        vpc_security_group_ids=[SECURITY_GROUP],
        db_cluster_parameter_group=PARAMETER_GROUP,
        kms_key_id=target_kms_key,
        protected_clusters=[PROTECTED_PATTERN],
        copy_wait_base_seconds=60,  # 2 checks, plus 1 per 30 GiB
        copy_wait_seconds_per_gib=1,
        copy_stall_attempts=3,
        **{f"{loop}_wait_max_attempts": checks for loop, checks in WAIT_BUDGETS.items()},
    )


@pytest.fixture
def ctx(
    aws: AwsClients, store: OperationStore, settings: PipelineSettings
) -> Iterator[PipelineContext]:
    context = PipelineContext(settings, aws)
    set_default_context(context)  # the handlers under test use this one
    yield context
    set_default_context(None)


@pytest.fixture
def seed(aws: AwsClients, rds_rules: RdsRules) -> RdsSeed:
    return RdsSeed(aws, rds_rules)


@dataclass
class Operations:
    """Creates operations the way the bot does: stored, target locked, optionally approved."""

    ctx: PipelineContext

    def create(self, snapshot: str, target: str, *, approve: bool = True, **request: Any) -> str:
        operation_id = new_operation_id()
        req = RestoreRequest(snapshot=snapshot, target_cluster=target, requester="U_REQ", **request)
        self.ctx.store.create(operation_id, req)
        self.ctx.store.acquire_lock(target, operation_id, ttl_seconds=3600)
        if approve:
            self.ctx.store.add_approval(operation_id, "U_APPROVER")
            self.ctx.store.transition(
                operation_id,
                OperationStatus.APPROVED,
                expected={OperationStatus.PENDING_APPROVAL},
                decided_by="U_APPROVER",
            )
        return operation_id

    def audit_actions(self, operation_id: str) -> list[str]:
        return [event.action for event in self.audit(operation_id)]

    def audit(self, operation_id: str) -> list[AuditEvent]:
        return self.ctx.store.audit_events(operation_id)


@pytest.fixture
def operations(ctx: PipelineContext) -> Operations:
    return Operations(ctx)


@pytest.fixture
def progress(aws: AwsClients, sqs_progress: str) -> Callable[[], list[ProgressEvent]]:
    """Reads every progress event published so far (drains the probe queue, bounded)."""
    sqs = aws.client("sqs")
    seen: list[ProgressEvent] = []

    def read() -> list[ProgressEvent]:
        for _ in range(100):
            messages = sqs.receive_message(QueueUrl=sqs_progress, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                break
            for message in messages:
                seen.append(ProgressEvent.model_validate(json.loads(message["Body"])))
                sqs.delete_message(QueueUrl=sqs_progress, ReceiptHandle=message["ReceiptHandle"])
        return list(seen)

    return read
