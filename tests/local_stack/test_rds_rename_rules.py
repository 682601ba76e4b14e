"""Renames as RDS carries them out (local_stack/rds_rename_rules.py): the swap of a replace
relies on each of these, and moto alone gets every one wrong."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.rds_rules import RdsRules
from tests.local_stack.rds_calls import create_cluster, create_instance, refusal_code


def _cluster(rds: Any, name: str, instances: int = 0) -> dict[str, Any]:
    create_cluster(rds, name)
    rds.describe_db_clusters()  # time scale 0: settles at the next call
    for n in range(1, instances + 1):
        create_instance(rds, f"{name}-{n}", name)
    rds.describe_db_instances()
    return _described(rds, name)


def _rename(rds: Any, name: str, new: str) -> Any:
    return rds.modify_db_cluster(
        DBClusterIdentifier=name, NewDBClusterIdentifier=new, ApplyImmediately=True
    )


def _rename_instance(rds: Any, name: str, new: str) -> Any:
    return rds.modify_db_instance(
        DBInstanceIdentifier=name, NewDBInstanceIdentifier=new, ApplyImmediately=True
    )


def _described(rds: Any, name: str) -> dict[str, Any]:
    return dict(rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0])


def _members(cluster: dict[str, Any]) -> list[str]:
    return sorted(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"])


def test_a_rename_onto_a_name_in_use_is_refused_and_both_clusters_stay(rds: Any) -> None:
    _cluster(rds, "staging-orders", instances=1)
    _cluster(rds, "staging-orders-next", instances=1)
    code = refusal_code(lambda: _rename(rds, "staging-orders-next", "staging-orders"))
    assert code == "DBClusterAlreadyExistsFault"
    assert _members(_described(rds, "staging-orders")) == ["staging-orders-1"]
    assert _members(_described(rds, "staging-orders-next")) == ["staging-orders-next-1"]


def test_a_renamed_cluster_keeps_its_instances_resource_id_and_the_accounts_dns_identifier(
    rds: Any, rules: RdsRules
) -> None:
    before = _cluster(rds, "staging-orders", instances=2)
    other = _cluster(rds, "staging-orders-next")
    rules.time_scale = 1.0  # the rename lasts two (real) minutes

    rds.modify_db_cluster(
        DBClusterIdentifier="staging-orders",
        NewDBClusterIdentifier="Staging-Orders-Old-ab12cd",  # stored lowercase
        ApplyImmediately=True,
    )
    renamed = _described(rds, "staging-orders-old-ab12cd")
    assert renamed["Status"] == "renaming"
    assert _members(renamed) == ["staging-orders-1", "staging-orders-2"]
    assert renamed["DbClusterResourceId"] == before["DbClusterResourceId"]
    assert refusal_code(lambda: _described(rds, "staging-orders")) == "DBClusterNotFoundFault"
    # One DNS identifier per account and Region: the name alone tells endpoints apart, so the
    # cluster that takes the target's name answers on the target's old endpoint.
    assert renamed["Endpoint"] == before["Endpoint"].replace(
        "staging-orders.", "staging-orders-old-ab12cd.", 1
    )
    assert other["Endpoint"] == before["Endpoint"].replace(
        "staging-orders.", "staging-orders-next.", 1
    )


def test_without_apply_immediately_a_rename_waits_for_the_maintenance_window(rds: Any) -> None:
    _cluster(rds, "staging-orders", instances=1)
    rds.modify_db_cluster(
        DBClusterIdentifier="staging-orders", NewDBClusterIdentifier="staging-orders-old"
    )
    assert _members(_described(rds, "staging-orders")) == ["staging-orders-1"]
    assert refusal_code(lambda: _described(rds, "staging-orders-old")) == "DBClusterNotFoundFault"
    rds.modify_db_instance(
        DBInstanceIdentifier="staging-orders-1", NewDBInstanceIdentifier="staging-orders-old-1"
    )
    names = [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]]
    assert names == ["staging-orders-1"]


def test_modifying_a_cluster_that_does_not_exist_or_is_busy_is_refused(
    rds: Any, rules: RdsRules
) -> None:
    assert (
        refusal_code(
            lambda: rds.modify_db_cluster(DBClusterIdentifier="nope", ApplyImmediately=True)
        )
        == "DBClusterNotFoundFault"
    )
    _cluster(rds, "staging-orders")
    _rename(rds, "staging-orders", "staging-orders-old")
    rules.time_scale = 1.0  # a rename now lasts two (real) minutes
    _rename(rds, "staging-orders-old", "staging-orders-older")
    busy = refusal_code(lambda: _rename(rds, "staging-orders-older", "staging-orders"))
    assert busy == "InvalidDBClusterStateFault"


def test_instance_renames_refuse_names_in_use_and_busy_instances(rds: Any, rules: RdsRules) -> None:
    _cluster(rds, "staging-orders", instances=2)
    assert (
        refusal_code(lambda: _rename_instance(rds, "staging-orders-2", "staging-orders-1"))
        == "DBInstanceAlreadyExists"
    )
    rules.time_scale = 1.0  # a rename now lasts ten (real) minutes
    _rename_instance(rds, "staging-orders-1", "staging-orders-old-1")
    [renamed] = rds.describe_db_instances(DBInstanceIdentifier="staging-orders-old-1")[
        "DBInstances"
    ]
    assert renamed["DBInstanceStatus"] == "renaming"
    assert renamed["Endpoint"]["Address"].startswith("staging-orders-old-1.")
    busy = refusal_code(lambda: _rename_instance(rds, "staging-orders-old-1", "staging-orders-1"))
    assert busy == "InvalidDBInstanceState"
    assert _members(_described(rds, "staging-orders")) == [
        "staging-orders-2",
        "staging-orders-old-1",
    ]


@pytest.mark.parametrize("new", ["1abc", "a--b", "ends-", "x" * 64, "under_score"])
def test_a_rename_to_an_invalid_identifier_is_refused(rds: Any, new: str) -> None:
    _cluster(rds, "staging-orders", instances=1)
    assert refusal_code(lambda: _rename(rds, "staging-orders", new)) == "InvalidParameterValue"
    assert (
        refusal_code(lambda: _rename_instance(rds, "staging-orders-1", new))
        == "InvalidParameterValue"
    )
    assert _members(_described(rds, "staging-orders")) == ["staging-orders-1"]


def test_identifiers_are_matched_lowercase_as_rds_stores_them(rds: Any) -> None:
    _cluster(rds, "staging-orders", instances=1)
    _rename(rds, "Staging-Orders", "staging-orders-old")
    _rename_instance(rds, "Staging-Orders-1", "staging-orders-old-1")
    assert _members(_described(rds, "staging-orders-old")) == ["staging-orders-old-1"]
