"""The retention of a replace's kept cluster, through the local stack: the deployed sweep (as its
role, on moto as strict as RDS) announces the deletion in the restore's thread, then deletes the
kept cluster with a final snapshot once keep-until has passed; `/restore list --kept` shows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from local_stack.scenario import APPROVE, Driver, wait_for
from local_stack.stack import LocalStack
from pipeline.retention import ANNOUNCED_TAG, retention_snapshot_id
from pipeline.stages.swap_steps import KEEP_UNTIL_FORMAT, KEEP_UNTIL_TAG
from tests.e2e.flows import click, request_restore, thread_texts, wait_for_thread

MAX_RUNS = 5  # starting, then emptying and deleting: each run takes the next step


def tags_of(driver: Driver, cluster_id: str) -> dict[str, str]:
    cluster = driver.rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
    return {t["Key"]: t["Value"] for t in cluster.get("TagList", [])}


def cluster_names(driver: Driver) -> set[str]:
    return {c["DBClusterIdentifier"] for c in driver.rds.describe_db_clusters()["DBClusters"]}


def test_a_kept_cluster_is_announced_then_deleted_with_a_final_snapshot(
    driver: Driver, stack: LocalStack
) -> None:
    target = driver.info["seed"]["existing_target"]
    operation_id = request_restore(
        driver, f"{driver.info['seed']['snapshot']} {target} --replace --instances 2"
    )
    click(driver, operation_id, APPROVE, driver.info["users"]["approver"])
    assert driver.wait_for_execution_end(operation_id)["status"] == "SUCCEEDED"
    wait_for_thread(driver, operation_id, "Restore succeeded")
    kept = f"{target}-old-{operation_id.rsplit('-', 1)[-1]}"
    keep_until = datetime.strptime(tags_of(driver, kept)[KEEP_UNTIL_TAG], KEEP_UNTIL_FORMAT)
    keep_until = keep_until.replace(tzinfo=UTC)
    new = driver.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0]
    final = retention_snapshot_id(kept, operation_id)

    # A day before: nothing. An hour before: said in the thread, once; nothing deleted.
    assert stack.run_retention_sweep(keep_until - timedelta(hours=30))["announced"] == []
    assert stack.run_retention_sweep(keep_until - timedelta(hours=1))["announced"] == [kept]
    assert stack.run_retention_sweep(keep_until - timedelta(minutes=30))["announced"] == []
    notice = wait_for_thread(driver, operation_id, "will be deleted at")
    assert any(final in text and keep_until.strftime("%Y-%m-%d %H:%M") in text for text in notice)
    assert kept in cluster_names(driver) and ANNOUNCED_TAG in tags_of(driver, kept)
    listed = driver.request(driver.info["users"]["requester"], "list --kept")[1]
    answer = wait_for("the kept list", lambda: driver.responses(listed) or None, 20)
    assert kept in answer[0]["text"] and operation_id in answer[0]["text"]

    # A minute after: started (RDS deletes no stopped cluster), emptied, deleted.
    after = keep_until + timedelta(minutes=1)
    runs = [stack.run_retention_sweep(after) for _ in range(MAX_RUNS)]
    assert [kept] in [run["started"] for run in runs]
    assert [run["deleting"] for run in runs].count([kept]) == 1, runs
    wait_for_thread(driver, operation_id, "is being deleted")
    texts = thread_texts(driver, operation_id)
    assert sum("will be deleted at" in text for text in texts) == 1

    def final_available() -> bool | None:
        found = driver.rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=final)
        return found["DBClusterSnapshots"][0]["Status"] == "available" or None

    wait_for("the final snapshot", final_available, 30)
    wait_for("the kept cluster to go", lambda: kept not in cluster_names(driver) or None, 30)
    # The target, now the restored cluster, and its instances are untouched.
    now = driver.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0]
    assert now["DbClusterResourceId"] == new["DbClusterResourceId"]
    assert now["Status"] == "available"
    assert sorted(m["DBInstanceIdentifier"] for m in now["DBClusterMembers"]) == [
        f"{target}-1",
        f"{target}-2",
    ]
