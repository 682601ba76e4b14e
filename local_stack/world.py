"""The seeded world of the local stack: clusters, snapshots and network a restore needs."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from pipeline.aws import AwsClients

ENGINE = "aurora-postgresql"
ENGINE_VERSION = "15.4"
MASTER_USER = "app_master"
PROTECTED_TAG = "aurora-restore:protected"


@dataclass(frozen=True)
class SeededWorld:
    """What the stack file's `seed` key lists, plus the network the restores use."""

    snapshot: str
    source_cluster: str
    existing_target: str
    protected_cluster: str
    cross_region_snapshot_arn: str
    source_region: str
    subnet_group: str
    security_group_id: str

    def stack_file_seed(self) -> dict[str, str]:
        seed = asdict(self)
        del seed["subnet_group"], seed["security_group_id"]
        return seed


def seed_world(
    clients: AwsClients, *, source_region: str, master_password: str, kms_key_id: str | None = None
) -> SeededWorld:
    """Create the clusters and snapshots the demo and the end-to-end tests start from; those of
    this region are encrypted with `kms_key_id` (None: the Region's default aws/rds key)."""
    rds = clients.rds()
    subnet_group, security_group = _network(clients)
    common: dict[str, Any] = {
        "Engine": ENGINE,
        "EngineVersion": ENGINE_VERSION,
        "MasterUsername": MASTER_USER,
        "MasterUserPassword": master_password,
        "DBSubnetGroupName": subnet_group,
        "VpcSecurityGroupIds": [security_group],
        "StorageEncrypted": True,
    }
    local = {**common, **({"KmsKeyId": kms_key_id} if kms_key_id else {})}
    _cluster(rds, "prod-orders", local, instances=2)
    _cluster(rds, "staging-orders", local, instances=1)
    _cluster(
        rds,
        "prod-billing",
        {**local, "DeletionProtection": True},
        instances=1,
        tags=[{"Key": PROTECTED_TAG, "Value": "true"}],
    )
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="prod-orders", DBClusterSnapshotIdentifier="prod-orders-2026-11-01"
    )
    time.sleep(0.01)  # distinct creation times, so `latest:` has a newest to find
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="prod-orders", DBClusterSnapshotIdentifier="prod-orders-nightly"
    )
    remote = clients.rds(source_region)
    _cluster(
        remote,
        "dr-orders",
        {k: v for k, v in common.items() if "Subnet" not in k and "Vpc" not in k},
        instances=1,
    )
    arn = remote.create_db_cluster_snapshot(
        DBClusterIdentifier="dr-orders", DBClusterSnapshotIdentifier="dr-orders-weekly"
    )["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    return SeededWorld(
        snapshot="prod-orders-nightly",
        source_cluster="prod-orders",
        existing_target="staging-orders",
        protected_cluster="prod-billing",
        cross_region_snapshot_arn=str(arn),
        source_region=source_region,
        subnet_group=subnet_group,
        security_group_id=security_group,
    )


def _network(clients: AwsClients) -> tuple[str, str]:
    ec2 = clients.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{index}.0/24", AvailabilityZone=zone)[
            "Subnet"
        ]["SubnetId"]
        for index, zone in enumerate([f"{clients.region}a", f"{clients.region}b"])
    ]
    clients.rds().create_db_subnet_group(
        DBSubnetGroupName="aurora-restore-local",
        DBSubnetGroupDescription="restored clusters",
        SubnetIds=subnets,
    )
    group = ec2.create_security_group(
        GroupName="aurora-restore-db", Description="restored clusters", VpcId=vpc
    )["GroupId"]
    return "aurora-restore-local", str(group)


def _cluster(
    rds: Any,
    identifier: str,
    settings: dict[str, Any],
    *,
    instances: int,
    tags: list[dict[str, str]] | None = None,
) -> None:
    rds.create_db_cluster(DBClusterIdentifier=identifier, Tags=tags or [], **settings)
    for index in range(1, instances + 1):
        rds.create_db_instance(
            DBInstanceIdentifier=f"{identifier}-{index}",
            DBClusterIdentifier=identifier,
            Engine=settings["Engine"],
            DBInstanceClass="db.r6g.large",
        )
