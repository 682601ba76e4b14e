"""An encrypted cluster created without KmsKeyId uses the Region's AWS managed `aws/rds` key
(local_stack/rds_default_key.py), a key KMS describes, and its snapshots inherit it."""

from __future__ import annotations

from typing import Any

from pipeline.aws import AwsClients
from tests.local_stack.rds_calls import create_cluster


def test_the_default_key_is_the_regions_aws_managed_rds_key(aws: AwsClients, rds: Any) -> None:
    create_cluster(rds, "staging-orders", StorageEncrypted=True)
    cluster = rds.describe_db_clusters(DBClusterIdentifier="staging-orders")["DBClusters"][0]
    snapshot = rds.create_db_cluster_snapshot(
        DBClusterIdentifier="staging-orders", DBClusterSnapshotIdentifier="staging-orders-1"
    )["DBClusterSnapshot"]

    metadata = aws.client("kms").describe_key(KeyId=cluster["KmsKeyId"])["KeyMetadata"]
    assert (metadata["KeyState"], metadata["KeyManager"]) == ("Enabled", "AWS")
    assert (
        aws.client("kms").describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["Arn"]
        == (cluster["KmsKeyId"])
    )
    assert snapshot["KmsKeyId"] == cluster["KmsKeyId"]
    other = aws.client("kms", "eu-west-1").describe_key(KeyId="alias/aws/rds")["KeyMetadata"]
    assert other["Arn"] != cluster["KmsKeyId"]  # one default key per Region


def test_a_key_named_by_the_caller_is_kept(aws: AwsClients, rds: Any) -> None:
    key = aws.client("kms").create_key(Description="orders")["KeyMetadata"]["Arn"]
    create_cluster(rds, "staging-orders", StorageEncrypted=True, KmsKeyId=key)
    assert rds.describe_db_clusters()["DBClusters"][0]["KmsKeyId"] == key
