"""Stages 2 and 3: cross-region copy, reuse of this operation's copy, and the wait for it."""

from __future__ import annotations

import pytest

from pipeline.context import PipelineContext
from pipeline.errors import FatalError, ResourceFailedError, SnapshotQuotaError
from pipeline.models import Stage, StageStatus
from pipeline.rds import OPERATION_TAG, describe_cluster_snapshot, tags_of
from pipeline.stages.copy_snapshot import check_copy, copy_snapshot
from pipeline.stages.plan import validate_request
from pipeline.wait_budgets import CopyProgress
from tests.pipeline.conftest import SOURCE_REGION, Operations, RdsSeed


@pytest.fixture
def cross_region_op(ctx: PipelineContext, seed: RdsSeed, operations: Operations) -> str:
    """An approved operation restoring an encrypted snapshot that lives in another region."""
    seed.cluster("prod-db", region=SOURCE_REGION, encrypted=True)
    arn = seed.snapshot("prod-db", "prod-snap-1", region=SOURCE_REGION)["DBClusterSnapshotArn"]
    op_id = operations.create(arn, "staging-db")
    validate_request(op_id, ctx)
    return op_id


def test_copy_into_the_target_region_tagged_and_encrypted_with_the_target_key(
    ctx: PipelineContext, seed: RdsSeed, cross_region_op: str
) -> None:
    result = copy_snapshot(cross_region_op, ctx)

    copy_id = f"{cross_region_op}-copy"
    assert result == {"snapshot_id": copy_id}
    copy = describe_cluster_snapshot(ctx.clients.rds(), copy_id)
    assert copy is not None
    assert tags_of(copy)[OPERATION_TAG] == cross_region_op
    assert copy["KmsKeyId"] == ctx.settings.kms_key_id and copy["StorageEncrypted"]
    assert "prod-snap-1" in seed.snapshot_ids(SOURCE_REGION)  # the source is untouched
    stored = ctx.store.get(cross_region_op)
    assert stored.stages[Stage.COPY_SNAPSHOT].status == StageStatus.STARTED
    assert stored.stages[Stage.COPY_SNAPSHOT].detail == (
        f"Copying `prod-snap-1` from {SOURCE_REGION} as `{copy_id}`"
    )
    assert stored.resources["copy_snapshot"] == copy_id


def test_copy_again_reuses_this_operations_copy(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations, cross_region_op: str
) -> None:
    copy_snapshot(cross_region_op, ctx)
    before = seed.snapshot_ids()

    assert copy_snapshot(cross_region_op, ctx) == {"snapshot_id": f"{cross_region_op}-copy"}

    assert seed.snapshot_ids() == before
    assert operations.audit_actions(cross_region_op).count("copy_snapshot.started") == 1


def test_a_snapshot_under_the_copy_name_not_made_by_us_is_refused(
    ctx: PipelineContext, seed: RdsSeed, cross_region_op: str
) -> None:
    seed.cluster("other-db")
    seed.snapshot("other-db", f"{cross_region_op}-copy", tags={OPERATION_TAG: "someone-else"})

    with pytest.raises(FatalError, match="not made by operation"):
        copy_snapshot(cross_region_op, ctx)
    assert ctx.store.get(cross_region_op).stages[Stage.COPY_SNAPSHOT].status == StageStatus.FAILED


def test_check_copy_waits_then_reports_ready(
    ctx: PipelineContext, seed: RdsSeed, cross_region_op: str
) -> None:
    copy_snapshot(cross_region_op, ctx)
    seed.set_snapshot_status(f"{cross_region_op}-copy", "copying")

    first = check_copy(cross_region_op, 0, ctx)
    assert first == {"ready": False, "attempt": 1, "progress": 0, "progress_moved_at": 1}
    assert ctx.store.get(cross_region_op).stages[Stage.COPY_SNAPSHOT].status == StageStatus.STARTED

    seed.set_snapshot_status(f"{cross_region_op}-copy", "available")
    carried = CopyProgress(first["progress"], first["progress_moved_at"])
    assert check_copy(cross_region_op, 1, ctx, carried) == {
        "ready": True,
        "attempt": 2,
        "progress": 0,
        "progress_moved_at": 1,
    }
    record = ctx.store.get(cross_region_op).stages[Stage.COPY_SNAPSHOT]
    assert record.status == StageStatus.SUCCEEDED and record.duration_seconds is not None


def test_check_copy_raises_on_a_failed_copy(
    ctx: PipelineContext, seed: RdsSeed, cross_region_op: str
) -> None:
    copy_snapshot(cross_region_op, ctx)
    seed.set_snapshot_status(f"{cross_region_op}-copy", "failed")

    with pytest.raises(
        ResourceFailedError, match=f"`{cross_region_op}-copy` is in status `failed`"
    ):
        check_copy(cross_region_op, 3, ctx)
    assert ctx.store.get(cross_region_op).stages[Stage.COPY_SNAPSHOT].status == StageStatus.FAILED


def test_a_full_snapshot_quota_fails_the_copy_for_good_with_what_to_do(
    ctx: PipelineContext, seed: RdsSeed, cross_region_op: str
) -> None:
    seed.cluster("other-db")
    seed.fill_snapshot_quota("other-db")

    # Not "busy": retrying cannot help until someone deletes snapshots or raises the quota.
    with pytest.raises(SnapshotQuotaError) as refused:
        copy_snapshot(cross_region_op, ctx)

    assert "SnapshotQuotaExceeded" in refused.value.message
    assert "100 manual cluster snapshots per Region" in refused.value.message
    assert f"{cross_region_op}-copy" not in seed.snapshot_ids()
    record = ctx.store.get(cross_region_op).stages[Stage.COPY_SNAPSHOT]
    assert record.status == StageStatus.FAILED and "delete manual snapshots" in record.detail
