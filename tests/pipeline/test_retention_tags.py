"""Retention as the restore planned it, on the resources: the safety snapshot's keep-until tag,
a snapshot expiring at its own tag's time and not before, the plan's notice hours, and a kept
cluster's final snapshot that copied the cluster's tags getting its own keep-until."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pipeline.context import PipelineContext
from pipeline.models import ProgressEvent, Stage
from pipeline.rds import OPERATION_TAG
from pipeline.retention import ANNOUNCED_TAG, retention_snapshot_id, sweep
from pipeline.retention_terms import RetentionTerms
from pipeline.stages.delete_target import snapshot_target
from pipeline.stages.plan import validate_request
from pipeline.stages.swap_steps import KEEP_UNTIL_TAG, KEPT_BY_TAG
from tests.pipeline.conftest import Operations, RdsSeed

KEPT = "staging-db-old-a1b2c3"
KEEP_UNTIL = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def snapshot_tags(ctx: PipelineContext, snapshot_id: str) -> dict[str, str]:
    found = ctx.clients.rds().describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot_id)
    return {t["Key"]: t["Value"] for t in found["DBClusterSnapshots"][0].get("TagList", [])}


def details(read: Callable[[], list[ProgressEvent]]) -> list[str]:
    return [event.detail for event in read() if event.stage == Stage.RETENTION]


def test_the_safety_snapshot_is_tagged_with_the_plans_keep_until(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    seed.cluster("staging-db")
    terms = RetentionTerms(kept_cluster_days=2, notice_hours=6, final_snapshot_days=9)
    operation_id = operations.create(
        "prod-snap-1", "staging-db", replace=True, in_place=True, retention=terms
    )
    validate_request(operation_id, ctx)
    plan = ctx.store.get(operation_id).plan
    assert plan is not None and plan.retention == terms and plan.safety_snapshot_id
    before = datetime.now(UTC).replace(second=0, microsecond=0)

    snapshot_target(operation_id, ctx)

    tags = snapshot_tags(ctx, plan.safety_snapshot_id)
    assert tags[OPERATION_TAG] == operation_id
    keep_until = datetime.strptime(tags[KEEP_UNTIL_TAG], "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    assert before + timedelta(days=9) <= keep_until <= datetime.now(UTC) + timedelta(days=9)


def test_a_snapshot_expires_at_its_tags_time_and_not_before(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations, progress
) -> None:
    operation_id = operations.create("prod-snap-1", "staging-db", replace=True, in_place=True)
    seed.cluster("staging-db")
    safety = f"staging-db-before-{operation_id.rsplit('-', 1)[-1]}"
    expires = datetime(2026, 12, 20, 8, 0, tzinfo=UTC)
    # Made long ago: by the deployment's 30 days it would be gone; its tag says otherwise.
    seed.snapshot(
        "staging-db",
        safety,
        created=datetime(2026, 1, 1, tzinfo=UTC),
        tags={OPERATION_TAG: operation_id, KEEP_UNTIL_TAG: "2026-12-20T08:00Z"},
    )
    assert sweep(ctx, expires - timedelta(hours=25)).as_dict()["announced"] == []
    notice = sweep(ctx, expires - timedelta(minutes=1))
    assert notice.announced == [safety] and notice.deleted_snapshots == []
    assert safety in seed.snapshot_ids()
    assert sweep(ctx, expires).deleted_snapshots == [safety]
    assert safety not in seed.snapshot_ids()
    announced, deleted = details(progress)
    assert "will be deleted at 2026-12-20 08:00 UTC" in announced
    assert "expired at 2026-12-20 08:00 UTC" in deleted


def test_an_untagged_snapshot_of_an_earlier_version_gets_the_deployments_days(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    operation_id = operations.create("prod-snap-1", "staging-db", replace=True, in_place=True)
    seed.cluster("staging-db")
    final = f"staging-db-final-{operation_id}"
    made = datetime(2026, 11, 1, tzinfo=UTC)
    seed.snapshot("staging-db", final, created=made, tags={OPERATION_TAG: operation_id})
    assert sweep(ctx, made).deleted_snapshots == []
    days = ctx.settings.final_snapshot_days
    assert (
        snapshot_tags(ctx, final)[KEEP_UNTIL_TAG]
        == f"{made + timedelta(days=days):%Y-%m-%d}T00:00Z"
    )


def test_a_kept_cluster_is_announced_by_its_plans_notice_hours(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    terms = RetentionTerms(kept_cluster_days=1, notice_hours=2, final_snapshot_days=5)
    operation_id = operations.create("prod-snap-1", "staging-db", replace=True, retention=terms)
    ctx.store.release_lock("staging-db", operation_id)  # that replace has ended
    seed.cluster(KEPT, tags={KEPT_BY_TAG: operation_id, KEEP_UNTIL_TAG: "2026-12-05T10:00Z"})
    seed.set_cluster_status(KEPT, "stopped")
    # The deployment's 24 hours would announce it now; the plan says two hours.
    assert sweep(ctx, KEEP_UNTIL - timedelta(hours=3)).announced == []
    assert sweep(ctx, KEEP_UNTIL - timedelta(hours=1)).announced == [KEPT]


def test_a_final_snapshot_that_copied_its_clusters_tags_gets_its_own_keep_until(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations, progress
) -> None:
    """CopyTagsToSnapshot copies the kept cluster's keep-until and announcement onto its final
    snapshot; neither is the snapshot's, so it is kept the plan's days and announced itself."""
    terms = RetentionTerms(kept_cluster_days=3, notice_hours=12, final_snapshot_days=5)
    operation_id = operations.create("prod-snap-1", "staging-db", replace=True, retention=terms)
    ctx.store.release_lock("staging-db", operation_id)  # that replace has ended
    # On RDS's clock: the snapshot is made now, after the cluster's announcement.
    keep_until = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    earlier = "ar-20260101000000-abcdef"  # the restore that made the cluster now kept
    seed.cluster(
        KEPT,
        instances=1,
        tags={
            KEPT_BY_TAG: operation_id,
            KEEP_UNTIL_TAG: keep_until.strftime("%Y-%m-%dT%H:%MZ"),
            OPERATION_TAG: earlier,
        },
    )
    rds_client = ctx.clients.rds()
    rds_client.modify_db_cluster(
        DBClusterIdentifier=KEPT, CopyTagsToSnapshot=True, ApplyImmediately=True
    )
    after = keep_until + timedelta(minutes=1)
    assert sweep(ctx, keep_until - timedelta(hours=1)).announced == [KEPT]
    for _ in range(4):
        sweep(ctx, after)
    final = retention_snapshot_id(KEPT, operation_id)
    assert final in seed.snapshot_ids()
    described = rds_client.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=final)
    created = described["DBClusterSnapshots"][0]["SnapshotCreateTime"]
    tags = snapshot_tags(ctx, final)
    assert ANNOUNCED_TAG in tags  # copied from the cluster
    assert tags[OPERATION_TAG] == operation_id
    expires = (created + timedelta(days=5)).replace(second=0, microsecond=0)
    assert tags[KEEP_UNTIL_TAG] == expires.strftime("%Y-%m-%dT%H:%MZ")
    seed.set_snapshot_status(final, "available")
    assert sweep(ctx, expires - timedelta(hours=13)).announced == []
    assert sweep(ctx, expires - timedelta(hours=11)).announced == [final]
    assert sweep(ctx, expires - timedelta(minutes=1)).deleted_snapshots == []
    assert sweep(ctx, expires).deleted_snapshots == [final]
    assert any(final in text and "will be deleted at" in text for text in details(progress))
