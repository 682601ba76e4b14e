"""RDS account quotas (local_stack/rds_quotas.py): reported as DescribeAccountAttributes
answers them, and creating past one is refused with the code RDS answers."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_stack.rds_rules import RdsRules
from tests.local_stack.rds_calls import create_cluster, create_instance


def _cluster(rds: Any, name: str) -> None:
    create_cluster(rds, name)
    rds.describe_db_clusters()  # settles (scale 0)


def _quotas(rds: Any) -> dict[str, tuple[int, int]]:
    answer = rds.describe_account_attributes()["AccountQuotas"]
    return {q["AccountQuotaName"]: (q["Used"], q["Max"]) for q in answer}


def test_the_account_attributes_report_use_against_aws_default_quotas(rds: Any) -> None:
    _cluster(rds, "staging-orders")
    create_instance(rds, "staging-orders-1", "staging-orders")
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="staging-orders", DBClusterSnapshotIdentifier="staging-orders-manual"
    )
    quotas = _quotas(rds)
    assert quotas["DBClusters"] == (1, 40)
    assert quotas["DBInstances"] == (1, 40)
    assert quotas["ManualClusterSnapshots"] == (1, 100)


def test_creating_past_a_quota_is_refused_and_a_deleting_cluster_still_counts(
    rds: Any, rules: RdsRules
) -> None:
    rules.quotas = {"DBClusters": 2, "DBInstances": 1}  # as if the account had these quotas
    _cluster(rds, "staging-a")
    _cluster(rds, "staging-b")
    with pytest.raises(ClientError) as refused:
        _cluster(rds, "staging-c")
    error = refused.value.response
    assert error["Error"]["Code"] == "DBClusterQuotaExceededFault"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403  # the botocore model's status

    create_instance(rds, "staging-a-1", "staging-a")
    with pytest.raises(ClientError) as refused:
        create_instance(rds, "staging-b-1", "staging-b")
    assert refused.value.response["Error"]["Code"] == "InstanceQuotaExceeded"

    rules.time_scale = 1.0  # a deletion lasts five (real) minutes
    rds.delete_db_cluster(DBClusterIdentifier="staging-b", SkipFinalSnapshot=True)
    assert _quotas(rds)["DBClusters"] == (2, 2)
    with pytest.raises(ClientError):
        _cluster(rds, "staging-c")
