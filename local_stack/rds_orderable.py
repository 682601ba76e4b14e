"""Which DB instance classes Aurora offers for an engine version, and the calls that depend on it.

moto 5.2.5 answers DescribeOrderableDBInstanceOptions from an old table (Aurora PostgreSQL 11.x
only, no DBInstanceClass filter, nothing for Aurora MySQL), lacks DescribeDBEngineVersions, and
creates an instance of any class. RDS refuses a class the engine version does not offer:
InvalidParameterCombination, "RDS does not support creating a DB instance with the following
combination: DBInstanceClass=..., Engine=..., EngineVersion=..., LicenseModel=.... For supported
combinations of instance class and database engine version, see the documentation." (HTTP 400;
the text as RDS answers it, quoted in e.g. cn-terraform/terraform-aws-sonarqube#88 and
aws-quickstart/quickstart-awx#47; botocore lists InvalidParameterCombination for CreateDBInstance).

The table is condensed from the Aurora user guide, "Supported DB engines for DB instance classes"
(Concepts.DBInstanceClass.SupportAurora): per class family, the first minor version of each
Aurora PostgreSQL major, and the first Aurora MySQL version, that offers it. Retired families
(db.r3, db.r4, db.t2) are absent. Only the engine versions listed in ENGINE_VERSIONS exist here;
other engines (neptune, ...) keep moto's answers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult
from moto.rds.models import RDSBackend
from moto.rds.responses import RDSResponse

from local_stack.rds_timeline import refuse

POSTGRESQL = "aurora-postgresql"
MYSQL = "aurora-mysql"
LICENSE = {POSTGRESQL: "postgresql-license", MYSQL: "general-public-license"}
# Real versions of each engine (release notes): enough to cover every family's first version,
# and moto's defaults for a cluster created without EngineVersion (12.7, 2.07.2).
ENGINE_VERSIONS: dict[str, tuple[str, ...]] = {
    POSTGRESQL: (
        *(
            "11.9",
            "11.21",
            "12.4",
            "12.7",
            "12.9",
            "12.22",
            "13.3",
            "13.8",
            "13.12",
            "13.16",
            "13.20",
        ),
        *("14.3", "14.6", "14.9", "14.13", "14.17", "15.2", "15.4", "15.8", "15.12"),
        *("16.1", "16.4", "16.8", "17.4", "17.5"),
    ),
    MYSQL: (
        "5.7.mysql_aurora.2.07.2",
        "5.7.mysql_aurora.2.11.2",
        "5.7.mysql_aurora.2.12.4",
        "8.0.mysql_aurora.3.04.3",
        "8.0.mysql_aurora.3.05.2",
        "8.0.mysql_aurora.3.08.2",
    ),
}
_SIZES = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")


@dataclass(frozen=True)
class Family:
    """A class family: its sizes, and the first version offering it (PostgreSQL: major ->
    first minor; MySQL: Aurora major -> first Aurora version)."""

    name: str
    sizes: tuple[str, ...]
    postgresql: dict[int, int]
    mysql: dict[int, tuple[int, ...]]

    def classes(self) -> list[str]:
        return [f"{self.name}.{size}" if size else self.name for size in self.sizes]


_PG_CURRENT = {13: 3, 14: 3, 15: 2, 16: 1, 17: 4}
FAMILIES = (
    Family("db.serverless", ("",), {13: 6, 14: 3, 15: 2, 16: 1, 17: 4}, {3: (3, 2, 0)}),
    Family(
        "db.r8g",
        (*_SIZES, "24xlarge", "48xlarge"),
        {13: 16, 14: 13, 15: 8, 16: 4, 17: 4},
        {3: (3, 8, 0)},
    ),
    Family("db.r7g", _SIZES, {13: 8, 14: 5, 15: 2, 16: 1, 17: 4}, {3: (3, 3, 1)}),
    Family(
        "db.r7i",
        (*_SIZES, "24xlarge", "48xlarge"),
        {13: 12, 14: 9, 15: 4, 16: 1, 17: 4},
        {3: (3, 5, 2)},
    ),
    Family("db.r6g", _SIZES, {11: 9, 12: 4, **_PG_CURRENT}, {2: (2, 9, 2), 3: (3, 1, 0)}),
    Family(
        "db.r6i",
        (*_SIZES, "24xlarge", "32xlarge"),
        {11: 17, 12: 12, 13: 8, 14: 5, 15: 2, 16: 1, 17: 4},
        {2: (2, 11, 1), 3: (3, 2, 0)},
    ),
    Family(
        "db.r5", (*_SIZES, "24xlarge"), {11: 4, 12: 4, **_PG_CURRENT}, {2: (2, 7, 0), 3: (3, 1, 0)}
    ),
    Family("db.x2g", _SIZES, {11: 9, 12: 8, **_PG_CURRENT}, {2: (2, 10, 0), 3: (3, 1, 0)}),
    Family(
        "db.t4g", ("medium", "large"), {11: 12, 12: 7, **_PG_CURRENT}, {2: (2, 10, 0), 3: (3, 1, 0)}
    ),
    Family(
        "db.t3", ("medium", "large"), {11: 4, 12: 4, **_PG_CURRENT}, {2: (2, 7, 0), 3: (3, 1, 0)}
    ),
)
Patch = Callable[[type, str, Any], None]
_DEFAULT_MAX_RECORDS = 100  # botocore DescribeOrderableDBInstanceOptions MaxRecords: default 100


def install(patch: Patch) -> None:
    original = RDSResponse.describe_orderable_db_instance_options
    patch(RDSResponse, "describe_orderable_db_instance_options", _describe_orderable(original))
    patch(RDSResponse, "describe_db_engine_versions", _describe_db_engine_versions)
    patch(RDSBackend, "create_db_instance", _orderable_only(RDSBackend.create_db_instance))


def offers(family: Family, engine: str, version: str) -> bool:
    if version not in ENGINE_VERSIONS.get(engine, ()):
        return False
    if engine == POSTGRESQL:
        major, minor = (int(part) for part in version.split(".")[:2])
        return major in family.postgresql and minor >= family.postgresql[major]
    aurora = tuple(int(part) for part in version.split(".")[-3:])  # 8.0.mysql_aurora.3.05.2
    first = family.mysql.get(aurora[0])
    return first is not None and aurora >= first


def orderable_classes(engine: str, version: str) -> list[str]:
    return [c for family in FAMILIES if offers(family, engine, version) for c in family.classes()]


def parameter_group_family(engine: str, version: str) -> str:
    """aurora-postgresql15 for 15.4; aurora-mysql8.0 for 8.0.mysql_aurora.3.05.2."""
    if engine == POSTGRESQL:
        return f"{engine}{version.split('.')[0]}"
    return f"{engine}{'.'.join(version.split('.')[:2])}"


def _option(engine: str, version: str, instance_class: str) -> dict[str, Any]:
    return {
        "Engine": engine,
        "EngineVersion": version,
        "DBInstanceClass": instance_class,
        "LicenseModel": LICENSE[engine],
        "Vpc": True,
        "SupportsStorageEncryption": True,
        "StorageType": "aurora",
        "SupportedEngineModes": ["provisioned"],  # Serverless v2 runs in provisioned clusters
        "SupportsClusters": True,
    }


def _describe_orderable(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def describe(self: RDSResponse) -> Any:
        engine = str(self.params.get("Engine") or "")
        if engine not in ENGINE_VERSIONS:
            return original(self)
        wanted_version = self.params.get("EngineVersion")
        wanted_class = self.params.get("DBInstanceClass")
        options = [
            _option(engine, version, instance_class)
            for version in ENGINE_VERSIONS[engine]
            if wanted_version in (None, version)
            for instance_class in orderable_classes(engine, version)
            if wanted_class in (None, instance_class)
        ]
        # Pages as RDS gives them: at most MaxRecords, then a Marker to resume from.
        start = int(self.params.get("Marker") or 0)
        size = int(self.params.get("MaxRecords") or _DEFAULT_MAX_RECORDS)
        result: dict[str, Any] = {"OrderableDBInstanceOptions": options[start : start + size]}
        if start + size < len(options):
            result["Marker"] = str(start + size)
        return ActionResult(result)

    return describe


def _describe_db_engine_versions(self: RDSResponse) -> ActionResult:
    engine = self.params.get("Engine")
    wanted = self.params.get("EngineVersion")
    family = self.params.get("DBParameterGroupFamily")
    versions = [
        {
            "Engine": name,
            "EngineVersion": version,
            "DBParameterGroupFamily": parameter_group_family(name, version),
            "Status": "available",
        }
        for name, known in ENGINE_VERSIONS.items()
        if engine in (None, name)
        for version in known
        if wanted in (None, version)
    ]
    versions = [v for v in versions if family in (None, v["DBParameterGroupFamily"])]
    return ActionResult({"DBEngineVersions": versions})


def _orderable_only(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create_db_instance(self: RDSBackend, db_kwargs: dict[str, Any]) -> Any:
        cluster = self.clusters.get(db_kwargs.get("db_cluster_identifier") or "")
        engine = str(cluster.engine if cluster is not None else db_kwargs.get("engine") or "")
        # An Aurora instance runs its cluster's engine version.
        version = str(
            cluster.engine_version if cluster is not None else db_kwargs.get("engine_version")
        )
        instance_class = str(db_kwargs.get("db_instance_class") or "")
        if engine in ENGINE_VERSIONS and instance_class not in orderable_classes(engine, version):
            raise refuse(
                "InvalidParameterCombination",
                "RDS does not support creating a DB instance with the following combination: "
                f"DBInstanceClass={instance_class}, Engine={engine}, EngineVersion={version}, "
                f"LicenseModel={LICENSE[engine]}. For supported combinations of instance class "
                "and database engine version, see the documentation.",
            )
        return original(self, db_kwargs)

    return create_db_instance
