"""Orderable instance classes and engine versions (local_stack/rds_orderable.py): answered per
engine version as RDS answers them, and an instance of a class the version lacks refused."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.local_stack.rds_calls import ENGINE, create_cluster, refusal_code

MYSQL_3 = "8.0.mysql_aurora.3.05.2"


def _classes(rds: Any, page_size: int = 100, **filters: str) -> list[str]:
    paginator = rds.get_paginator("describe_orderable_db_instance_options")
    pages = paginator.paginate(**filters, PaginationConfig={"PageSize": page_size})
    return [o["DBInstanceClass"] for page in pages for o in page["OrderableDBInstanceOptions"]]


def test_the_classes_of_an_engine_version_include_serverless_v2_and_graviton(rds: Any) -> None:
    classes = _classes(rds, Engine=ENGINE, EngineVersion="15.4")

    assert {"db.serverless", "db.r6g.large", "db.r7g.16xlarge", "db.t4g.medium"} <= set(classes)
    assert "db.r8g.large" not in classes  # Aurora PostgreSQL 15 offers db.r8g from 15.8
    assert "db.t3.micro" not in classes  # Aurora has no micro classes
    assert "db.r8g.large" in _classes(rds, Engine=ENGINE, EngineVersion="15.8")


def test_one_class_is_asked_for_and_answered_alone_or_not_at_all(rds: Any) -> None:
    asked = {"Engine": ENGINE, "EngineVersion": "15.4"}
    assert _classes(rds, **asked, DBInstanceClass="db.r6g.xlarge") == ["db.r6g.xlarge"]
    assert _classes(rds, **asked, DBInstanceClass="db.r8g.xlarge") == []
    assert _classes(rds, Engine=ENGINE, EngineVersion="15.99") == []  # no such version


def test_the_answer_comes_in_pages_of_max_records_that_add_up(rds: Any) -> None:
    whole = _classes(rds, Engine=ENGINE)
    first = rds.describe_orderable_db_instance_options(Engine=ENGINE, MaxRecords=20)

    assert len(first["OrderableDBInstanceOptions"]) == 20 and first["Marker"]
    assert _classes(rds, page_size=20, Engine=ENGINE) == whole
    assert len(whole) > 100  # more than one default page


def test_aurora_mysql_classes_follow_its_own_versions(rds: Any) -> None:
    classes = _classes(rds, Engine="aurora-mysql", EngineVersion=MYSQL_3)
    assert {"db.serverless", "db.r6g.large", "db.r7g.large"} <= set(classes)
    old = _classes(rds, Engine="aurora-mysql", EngineVersion="5.7.mysql_aurora.2.07.2")
    assert "db.r5.large" in old and "db.r6g.large" not in old and "db.serverless" not in old


def test_engine_versions_name_their_parameter_group_family(rds: Any) -> None:
    def family(engine: str, version: str) -> list[str]:
        answer = rds.describe_db_engine_versions(Engine=engine, EngineVersion=version)
        return [v["DBParameterGroupFamily"] for v in answer["DBEngineVersions"]]

    assert family(ENGINE, "15.4") == ["aurora-postgresql15"]
    assert family("aurora-mysql", MYSQL_3) == ["aurora-mysql8.0"]
    assert family(ENGINE, "15.99") == []


def test_an_instance_of_a_class_its_engine_version_lacks_is_refused(rds: Any) -> None:
    create_cluster(rds, "staging-orders", EngineVersion="15.4")
    rds.describe_db_clusters()  # settles (scale 0)

    def create(instance_class: str) -> Any:
        return rds.create_db_instance(
            DBInstanceIdentifier=f"staging-orders-{instance_class.split('.')[1]}",
            DBClusterIdentifier="staging-orders",
            Engine=ENGINE,
            DBInstanceClass=instance_class,
        )

    with pytest.raises(ClientError) as refused:
        create("db.r8g.large")
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameterCombination"
    assert error["Message"] == (
        "RDS does not support creating a DB instance with the following combination: "
        "DBInstanceClass=db.r8g.large, Engine=aurora-postgresql, EngineVersion=15.4, "
        "LicenseModel=postgresql-license. For supported combinations of instance class and "
        "database engine version, see the documentation."
    )
    assert refusal_code(lambda: create("db.m5.large")) == "InvalidParameterCombination"
    assert rds.describe_db_instances()["DBInstances"] == []
    assert create("db.serverless")["DBInstance"]["DBInstanceClass"] == "db.serverless"


def test_engine_versions_filter_by_family_and_other_engines_keep_motos_answers(rds: Any) -> None:
    answer = rds.describe_db_engine_versions(DBParameterGroupFamily="aurora-postgresql16")
    assert {v["EngineVersion"] for v in answer["DBEngineVersions"]} == {"16.1", "16.4", "16.8"}
    # Neptune is not Aurora: moto's own table answers it, as before.
    assert _classes(rds, Engine="neptune")
