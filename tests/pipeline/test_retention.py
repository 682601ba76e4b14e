"""The retention sweep's decisions on moto as strict as RDS (local_stack.rds_rules): announce once,
start a stopped kept cluster, delete its instances then the cluster with a final snapshot, leave
protected and untagged clusters alone, expire only the tool's own snapshots."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.context import PipelineContext
from pipeline.models import ProgressEvent, Stage, StageStatus
from pipeline.rds import OPERATION_TAG, PROTECTED_TAG
from pipeline.retention import ANNOUNCED_TAG, retention_snapshot_id, sweep
from pipeline.stages.swap_steps import KEEP_UNTIL_TAG, KEPT_BY_TAG
from tests.pipeline.conftest import Operations, RdsSeed

KEEP_UNTIL = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
KEPT = "staging-db-old-a1b2c3"


@pytest.fixture
def kept(ctx: PipelineContext, seed: RdsSeed, operations: Operations) -> str:
    """A kept cluster as the swap leaves it: two instances, tagged, stopped."""
    seed.cluster("staging-db")
    operation_id = operations.create("prod-snap-1", "staging-db", replace=True)
    ctx.store.release_lock("staging-db", operation_id)  # that replace has ended
    seed.cluster(
        KEPT,
        instances=2,
        tags={KEPT_BY_TAG: operation_id, KEEP_UNTIL_TAG: KEEP_UNTIL.strftime("%Y-%m-%dT%H:%MZ")},
    )
    seed.set_cluster_status(KEPT, "stopped")
    return operation_id


def retention_events(read: Callable[[], list[ProgressEvent]]) -> list[ProgressEvent]:
    return [event for event in read() if event.stage == Stage.RETENTION]


def tags(ctx: PipelineContext, cluster_id: str) -> dict[str, str]:
    cluster = ctx.clients.rds().describe_db_clusters(DBClusterIdentifier=cluster_id)
    return {t["Key"]: t["Value"] for t in cluster["DBClusters"][0].get("TagList", [])}


def test_nothing_happens_before_the_notice(ctx, seed, kept, progress):
    report = sweep(ctx, KEEP_UNTIL - timedelta(hours=25))
    assert report.as_dict() == sweep(ctx, KEEP_UNTIL - timedelta(hours=30)).as_dict()
    assert not report.announced and not report.deleting
    assert retention_events(progress) == []
    assert ANNOUNCED_TAG not in tags(ctx, KEPT)


def test_the_deletion_is_announced_once_in_the_kept_by_thread(ctx, seed, kept, progress):
    assert sweep(ctx, KEEP_UNTIL - timedelta(hours=23)).announced == [KEPT]
    assert sweep(ctx, KEEP_UNTIL - timedelta(hours=1)).announced == []
    (event,) = retention_events(progress)
    assert event.operation_id == kept
    assert event.status == StageStatus.STARTED
    assert "2026-12-05 10:00 UTC" in event.detail
    assert retention_snapshot_id(KEPT, kept) in event.detail
    assert ANNOUNCED_TAG in tags(ctx, KEPT)
    assert KEPT in seed.cluster_ids()


def test_an_expired_kept_cluster_is_started_then_deleted_with_a_final_snapshot(
    ctx, seed, kept, progress, operations
):
    after = KEEP_UNTIL + timedelta(minutes=1)
    first = sweep(ctx, after)
    # No run saw it within the notice: announced first, and nothing more in that run.
    assert first.announced == [KEPT] and first.started == [] and first.deleting == []
    (notice,) = retention_events(progress)
    assert "by the next retention run, within the hour" in notice.detail
    started = sweep(ctx, after)  # started before any deletion
    assert started.started == [KEPT] and started.announced == [] and started.deleting == []
    assert {f"{KEPT}-old-1", f"{KEPT}-old-2"} <= seed.instance_ids()
    second = sweep(ctx, after)
    assert second.deleting == [KEPT] and second.announced == []
    final = retention_snapshot_id(KEPT, kept)
    snapshot = ctx.clients.rds().describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=final)
    (described,) = snapshot["DBClusterSnapshots"]
    assert {t["Key"]: t["Value"] for t in described["TagList"]}[OPERATION_TAG] == kept
    assert f"{KEPT}-old-1" not in seed.instance_ids()
    assert "staging-db" in seed.cluster_ids()
    deleted = [e for e in retention_events(progress) if e.status == StageStatus.SUCCEEDED]
    assert [e.resources for e in deleted] == [{"final_snapshot": final}]
    assert "retention.cluster_deleted" in operations.audit_actions(kept)
    # A re-run once it is gone does nothing more.
    assert sweep(ctx, after).as_dict() == {
        "announced": [],
        "started": [],
        "deleting": [],
        "deleted_snapshots": [],
        "refused": [],
        "busy": [],
    }


@pytest.mark.parametrize(
    "protection",
    [
        {"tags": {PROTECTED_TAG: "true"}},
        {"deletion_protection": True},
        {"name": "prod-db-old-a1b2c3"},
    ],
)
def test_a_protected_kept_cluster_is_never_touched(ctx, seed, operations, progress, protection):
    operation_id = operations.create("prod-snap-1", "staging-db", replace=True)
    name = protection.get("name", KEPT)
    seed.cluster(
        name,
        instances=1,
        deletion_protection=protection.get("deletion_protection", False),
        tags={
            KEPT_BY_TAG: operation_id,
            KEEP_UNTIL_TAG: "2026-12-05T10:00Z",
            **protection.get("tags", {}),
        },
    )
    for _ in range(2):
        assert sweep(ctx, KEEP_UNTIL + timedelta(days=1)).refused == [name]
    assert name in seed.cluster_ids() and f"{name}-old-1" in seed.instance_ids()
    assert retention_events(progress) == []


def test_an_untagged_or_misnamed_cluster_is_never_touched(ctx, seed, operations, progress):
    operation_id = operations.create("prod-snap-1", "staging-db", replace=True)
    seed.cluster("staging-db-old-a1b2c3", instances=1)  # no kept-by tag
    seed.cluster("other", tags={KEPT_BY_TAG: operation_id, KEEP_UNTIL_TAG: "2026-12-05T10:00Z"})
    report = sweep(ctx, KEEP_UNTIL + timedelta(days=30))
    assert report.as_dict()["deleting"] == [] and report.refused == []
    assert {"staging-db-old-a1b2c3", "other"} <= seed.cluster_ids()
    assert retention_events(progress) == []


def test_only_the_tools_old_snapshots_expire(ctx, seed, operations, progress):
    operation_id = operations.create("prod-snap-1", "staging-db", replace=True)
    other = operations.create("prod-snap-1", "other-db")
    seed.cluster("staging-db")
    made = datetime(2026, 11, 1, tzinfo=UTC)
    mine = f"staging-db-final-{operation_id}"
    seed.snapshot("staging-db", mine, created=made, tags={OPERATION_TAG: operation_id})
    # Named like the tool's, but tagged with another operation (or not at all): not the tool's.
    decoy = f"staging-db-before-{other.rsplit('-', 1)[-1]}"  # another's suffix, our tag
    seed.snapshot("staging-db", decoy, created=made, tags={OPERATION_TAG: operation_id})
    seed.snapshot("staging-db", f"staging-db-final-{other}", created=made)
    seed.snapshot("staging-db", "staging-db-manual", created=made, tags={OPERATION_TAG: other})
    young = f"staging-db-before-{operation_id.rsplit('-', 1)[-1]}"
    seed.snapshot(
        "staging-db", young, created=made + timedelta(days=20), tags={OPERATION_TAG: operation_id}
    )
    # Within the notice: announced once in its operation's thread, not deleted.
    notice = sweep(ctx, made + timedelta(days=30) - timedelta(hours=1))
    assert notice.announced == [mine] and notice.deleted_snapshots == []
    assert sweep(ctx, made + timedelta(days=30) - timedelta(minutes=30)).announced == []
    assert mine in seed.snapshot_ids()
    report = sweep(ctx, made + timedelta(days=30, minutes=1))
    assert report.deleted_snapshots == [mine] and report.announced == []
    assert mine not in seed.snapshot_ids()
    assert {young, decoy, f"staging-db-final-{other}", "staging-db-manual"} <= seed.snapshot_ids()
    announced, deleted = retention_events(progress)
    assert {announced.operation_id, deleted.operation_id} == {operation_id}
    assert "will be deleted at 2026-12-01 00:00 UTC" in announced.detail
    assert mine in deleted.detail and deleted.status == StageStatus.SUCCEEDED
    assert "retention.snapshot_deleted" in operations.audit_actions(operation_id)
    assert sweep(ctx, made + timedelta(days=30, minutes=2)).deleted_snapshots == []


def test_an_in_place_final_snapshot_is_known_by_its_operations_plan(
    ctx, seed, operations, progress
):
    from pipeline.stages.plan import validate_request

    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    seed.cluster("staging-db")
    operation_id = operations.create("prod-snap-1", "staging-db", replace=True, in_place=True)
    validate_request(operation_id, ctx)
    final = f"staging-db-final-{operation_id}"
    made = datetime(2026, 11, 1, tzinfo=UTC)
    seed.snapshot("staging-db", final, created=made)  # untagged, as DeleteDBCluster makes it
    announced = sweep(ctx, made + timedelta(days=31))  # never announced and deleted at once
    assert (announced.announced, announced.deleted_snapshots) == ([final], [])
    assert sweep(ctx, made + timedelta(days=31)).deleted_snapshots == [final]


def test_a_kept_cluster_of_an_unknown_operation_is_never_touched(ctx, seed, progress):
    seed.cluster(
        KEPT,
        instances=1,
        tags={KEPT_BY_TAG: "ar-20260101000000-abcdef", KEEP_UNTIL_TAG: "2026-12-05T10:00Z"},
    )
    assert sweep(ctx, KEEP_UNTIL + timedelta(days=1)).refused == [KEPT]
    assert KEPT in seed.cluster_ids() and retention_events(progress) == []


def test_a_run_that_stopped_after_the_deletion_is_continued_by_the_next(ctx, seed, kept, progress):
    """DeleteDBCluster went out but the run ended before it tagged the final snapshot: the next
    run tags it, so it expires like the tool's other snapshots."""
    final = retention_snapshot_id(KEPT, kept)
    rds_client = ctx.clients.rds()
    seed.set_cluster_status(KEPT, "available")
    for instance in (f"{KEPT}-old-1", f"{KEPT}-old-2"):
        rds_client.delete_db_instance(DBInstanceIdentifier=instance)
    rds_client.delete_db_cluster(DBClusterIdentifier=KEPT, FinalDBSnapshotIdentifier=final)
    seed.set_snapshot_status(final, "available")

    report = sweep(ctx, KEEP_UNTIL + timedelta(minutes=1))

    assert report.deleting == [] and report.started == []
    described = rds_client.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=final)
    tags_found = {t["Key"]: t["Value"] for t in described["DBClusterSnapshots"][0]["TagList"]}
    assert tags_found[OPERATION_TAG] == kept
    made = described["DBClusterSnapshots"][0]["SnapshotCreateTime"]
    assert sweep(ctx, made + timedelta(days=30, minutes=1)).announced == [final]
    assert sweep(ctx, made + timedelta(days=30, minutes=2)).deleted_snapshots == [final]


def test_a_kept_cluster_whose_target_is_locked_waits_for_the_next_run(ctx, seed, kept, progress):
    """A rollback (or any restore) of the target holds its lock: the sweep must not start or
    delete the cluster it may be swapping back in, and acts once the lock is released."""
    after = KEEP_UNTIL + timedelta(minutes=1)
    ctx.store.acquire_lock("staging-db", "ar-20261205095900-0a0b0c", ttl_seconds=3600)
    for _ in range(2):
        report = sweep(ctx, after)
        assert report.busy == [KEPT]
        assert not (report.announced or report.started or report.deleting)
    described = ctx.clients.rds().describe_db_clusters(DBClusterIdentifier=KEPT)["DBClusters"]
    assert described[0]["Status"] == "stopped"
    assert retention_events(progress) == []
    assert ctx.store.release_lock("staging-db", "ar-20261205095900-0a0b0c")
    assert sweep(ctx, after).announced == [KEPT]
    assert sweep(ctx, after).started == [KEPT]
