"""The emulated RDS refuses what RDS refuses and its statuses take (scaled) time
(local_stack/rds_rules.py), driven through boto3 as the pipeline drives it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from local_stack.rds_rules import (
    CLUSTER_CREATE_SECONDS,
    COPIES_IN_PROGRESS_LIMIT,
    MANUAL_CLUSTER_SNAPSHOT_QUOTA,
    RdsRules,
)
from local_stack.rds_timeline import INSTANCE_DELETE_SECONDS
from tests.local_stack.rds_calls import ENGINE, create_cluster, refusal_code

# Scaled so the longest status (a restore, 20 AWS minutes) lasts 0.6 s here.
QUICK = 0.6 / CLUSTER_CREATE_SECONDS
# Scaled so a deletion (5 AWS minutes) lasts 2 s: long enough to be seen `deleting` on a loaded
# machine, short enough to wait out.
DELETION_SCALE = 2.0 / INSTANCE_DELETE_SECONDS


def _cluster_status(rds: Any, name: str) -> str:
    return str(rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]["Status"])


def _snapshot_status(rds: Any, name: str) -> str:
    found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=name)
    return str(found["DBClusterSnapshots"][0]["Status"])


def _eventually(probe: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, "the status never changed"
        time.sleep(0.05)


@pytest.fixture
def snapshot(rds: Any) -> str:
    """An available manual snapshot of an available cluster (made while statuses take no time)."""
    create_cluster(rds, "source-db")
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="source-db", DBClusterSnapshotIdentifier="source-snap"
    )
    assert _snapshot_status(rds, "source-snap") == "available"
    return "source-snap"


def test_instances_only_in_an_available_restored_cluster(
    rds: Any, rules: RdsRules, snapshot: str
) -> None:
    rules.time_scale = QUICK
    restored = rds.restore_db_cluster_from_snapshot(
        DBClusterIdentifier="restored-db", SnapshotIdentifier=snapshot, Engine=ENGINE
    )["DBCluster"]
    assert restored["Status"] == "creating"

    def create() -> Any:
        return rds.create_db_instance(
            DBInstanceIdentifier="restored-db-1",
            DBClusterIdentifier="restored-db",
            Engine=ENGINE,
            DBInstanceClass="db.r6g.large",
        )

    assert refusal_code(create) == "InvalidDBClusterStateFault"
    _eventually(lambda: _cluster_status(rds, "restored-db") == "available")
    assert create()["DBInstance"]["DBInstanceStatus"] == "creating"
    _eventually(
        lambda: (
            rds.describe_db_instances(DBInstanceIdentifier="restored-db-1")["DBInstances"][0][
                "DBInstanceStatus"
            ]
            == "available"
        )
    )


def test_a_cluster_under_deletion_protection_is_never_deleted(rds: Any, rules: RdsRules) -> None:
    create_cluster(rds, "locked-db", DeletionProtection=True)

    code = refusal_code(
        lambda: rds.delete_db_cluster(DBClusterIdentifier="locked-db", SkipFinalSnapshot=True)
    )

    assert code == "InvalidParameterCombination"
    assert _cluster_status(rds, "locked-db") == "available"
    rds.modify_db_cluster(DBClusterIdentifier="locked-db", DeletionProtection=False)
    _cluster_status(rds, "locked-db")  # the modification ends (scale 0)
    rds.delete_db_cluster(DBClusterIdentifier="locked-db", SkipFinalSnapshot=True)


def test_a_stopped_cluster_is_deleted_only_once_started(rds: Any, rules: RdsRules) -> None:
    create_cluster(rds, "kept-db")
    _cluster_status(rds, "kept-db")  # created (scale 0)
    rds.stop_db_cluster(DBClusterIdentifier="kept-db")

    code = refusal_code(
        lambda: rds.delete_db_cluster(DBClusterIdentifier="kept-db", SkipFinalSnapshot=True)
    )

    assert code == "InvalidDBClusterStateFault"
    assert _cluster_status(rds, "kept-db") == "stopped"
    rds.start_db_cluster(DBClusterIdentifier="kept-db")
    _cluster_status(rds, "kept-db")
    rds.delete_db_cluster(DBClusterIdentifier="kept-db", SkipFinalSnapshot=True)


def test_deleted_clusters_and_instances_stay_deleting_for_a_while(
    rds: Any, rules: RdsRules
) -> None:
    create_cluster(rds, "old-db")
    rds.create_db_instance(
        DBInstanceIdentifier="old-db-1",
        DBClusterIdentifier="old-db",
        Engine=ENGINE,
        DBInstanceClass="db.r6g.large",
    )
    rds.describe_db_instances(DBInstanceIdentifier="old-db-1")  # created (scale 0)
    rules.time_scale = DELETION_SCALE

    def members_in_use() -> str:
        return refusal_code(
            lambda: rds.delete_db_cluster(
                DBClusterIdentifier="old-db", FinalDBSnapshotIdentifier="old-final"
            )
        )

    assert members_in_use() == "InvalidDBClusterStateFault"  # its instance is not deleting
    rds.delete_db_instance(DBInstanceIdentifier="old-db-1")
    instance = rds.describe_db_instances(DBInstanceIdentifier="old-db-1")["DBInstances"][0]
    assert instance["DBInstanceStatus"] == "deleting"
    assert refusal_code(lambda: rds.delete_db_instance(DBInstanceIdentifier="old-db-1")) == (
        "InvalidDBInstanceState"
    )
    rds.delete_db_cluster(DBClusterIdentifier="old-db", FinalDBSnapshotIdentifier="old-final")
    assert _cluster_status(rds, "old-db") == "deleting"
    assert _snapshot_status(rds, "old-final") == "creating"

    _eventually(lambda: _snapshot_status(rds, "old-final") == "available")
    assert refusal_code(lambda: rds.describe_db_clusters(DBClusterIdentifier="old-db")) == (
        "DBClusterNotFoundFault"
    )
    assert refusal_code(lambda: rds.describe_db_instances(DBInstanceIdentifier="old-db-1")) == (
        "DBInstanceNotFound"
    )


def test_snapshots_count_against_the_quota_of_100_manual_snapshots(rds: Any, snapshot: str) -> None:
    for number in range(MANUAL_CLUSTER_SNAPSHOT_QUOTA - 1):  # `snapshot` is the first
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="source-db", DBClusterSnapshotIdentifier=f"keep-{number}"
        )

    def snap() -> Any:
        return rds.create_db_cluster_snapshot(
            DBClusterIdentifier="source-db", DBClusterSnapshotIdentifier="one-too-many"
        )

    def copy() -> Any:
        return rds.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier=snapshot, TargetDBClusterSnapshotIdentifier="a-copy"
        )

    def final() -> Any:
        return rds.delete_db_cluster(
            DBClusterIdentifier="source-db", FinalDBSnapshotIdentifier="source-final"
        )

    assert {refusal_code(snap), refusal_code(copy), refusal_code(final)} == {
        "SnapshotQuotaExceeded"
    }
    assert _cluster_status(rds, "source-db") == "available"  # the refused delete kept it
    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="keep-0")
    assert copy()["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"] == "a-copy"


def test_at_most_five_copies_in_progress_into_a_region(
    rds: Any, rules: RdsRules, snapshot: str
) -> None:
    rules.time_scale = 1.0  # copies last their AWS time: all still in progress

    def copy(target: str) -> Any:
        return rds.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier=snapshot, TargetDBClusterSnapshotIdentifier=target
        )["DBClusterSnapshot"]

    for number in range(COPIES_IN_PROGRESS_LIMIT):
        started = copy(f"copy-{number}")
        assert (started["Status"], started["PercentProgress"]) == ("copying", 0)

    assert refusal_code(lambda: copy("one-more")) == "SnapshotQuotaExceeded"
    # Deleting a copy in progress cancels it (CopyDBClusterSnapshot), which frees a place.
    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="copy-0")
    assert copy("one-more")["Status"] == "copying"


def test_snapshots_are_used_only_when_available(rds: Any, rules: RdsRules, snapshot: str) -> None:
    rules.time_scale = 1.0
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="source-db", DBClusterSnapshotIdentifier="in-progress"
    )
    assert _cluster_status(rds, "source-db") == "backing-up"
    assert _snapshot_status(rds, "in-progress") == "creating"

    refusals = {
        refusal_code(
            lambda: rds.restore_db_cluster_from_snapshot(
                DBClusterIdentifier="early-db", SnapshotIdentifier="in-progress", Engine=ENGINE
            )
        ),
        refusal_code(
            lambda: rds.copy_db_cluster_snapshot(
                SourceDBClusterSnapshotIdentifier="in-progress",
                TargetDBClusterSnapshotIdentifier="early-copy",
            )
        ),
        refusal_code(
            lambda: rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="in-progress")
        ),
    }

    assert refusals == {"InvalidDBClusterSnapshotStateFault"}


def test_a_cluster_is_modified_only_when_available_and_resets_its_password_for_a_while(
    rds: Any, rules: RdsRules, snapshot: str
) -> None:
    rules.time_scale = 0.01  # a minute of AWS time lasts 0.6 s

    def reset() -> Any:
        return rds.modify_db_cluster(
            DBClusterIdentifier="source-db",
            MasterUserPassword="another-password",
            ApplyImmediately=True,
        )

    reset()
    assert _cluster_status(rds, "source-db") == "resetting-master-credentials"
    assert refusal_code(reset) == "InvalidDBClusterStateFault"
    _eventually(lambda: _cluster_status(rds, "source-db") == "available")
    rds.modify_db_cluster(DBClusterIdentifier="source-db", DeletionProtection=True)
    assert _cluster_status(rds, "source-db") == "modifying"


def test_at_scale_zero_a_status_ends_at_the_next_call(rds: Any, snapshot: str) -> None:
    restored = rds.restore_db_cluster_from_snapshot(
        DBClusterIdentifier="quick-db", SnapshotIdentifier=snapshot, Engine=ENGINE
    )["DBCluster"]

    assert restored["Status"] == "creating"
    assert _cluster_status(rds, "quick-db") == "available"


def test_a_final_snapshot_of_a_busy_cluster_is_refused_and_nothing_is_deleted(
    rds: Any, rules: RdsRules, snapshot: str
) -> None:
    rules.time_scale = 1.0  # the next snapshot keeps the cluster backing-up for five minutes
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="source-db", DBClusterSnapshotIdentifier="source-snap-2"
    )
    assert _cluster_status(rds, "source-db") == "backing-up"

    code = refusal_code(
        lambda: rds.delete_db_cluster(
            DBClusterIdentifier="source-db", FinalDBSnapshotIdentifier="source-db-final"
        )
    )

    assert code == "InvalidDBClusterStateFault"
    assert _cluster_status(rds, "source-db") == "backing-up"
    found = rds.describe_db_cluster_snapshots(DBClusterIdentifier="source-db")
    assert "source-db-final" not in {
        s["DBClusterSnapshotIdentifier"] for s in found["DBClusterSnapshots"]
    }
