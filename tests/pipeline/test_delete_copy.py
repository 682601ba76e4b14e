"""Stage 9: only this operation's intermediate copy is deleted."""

from __future__ import annotations

from pipeline.context import PipelineContext
from pipeline.models import Stage, StageStatus
from pipeline.stages.copy_snapshot import copy_snapshot
from pipeline.stages.delete_copy import delete_copy
from pipeline.stages.plan import validate_request
from tests.pipeline.conftest import SOURCE_REGION, Operations, RdsSeed


def _copied_operation(ctx: PipelineContext, seed: RdsSeed, operations: Operations) -> str:
    seed.cluster("prod-db", region=SOURCE_REGION)
    seed.snapshot("prod-db", "prod-snap-1", region=SOURCE_REGION)
    op_id = operations.create("prod-snap-1", "staging-db", source_region=SOURCE_REGION)
    validate_request(op_id, ctx)
    copy_snapshot(op_id, ctx)
    return op_id


def test_delete_copy_deletes_the_copy_and_keeps_the_source(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    op_id = _copied_operation(ctx, seed, operations)
    source_snapshots = seed.snapshot_ids(SOURCE_REGION)

    assert delete_copy(op_id, ctx) == {"deleted": [f"{op_id}-copy"]}

    assert f"{op_id}-copy" not in seed.snapshot_ids()
    assert seed.snapshot_ids(SOURCE_REGION) == source_snapshots
    assert ctx.store.get(op_id).stages[Stage.DELETE_COPY].status == StageStatus.SUCCEEDED


def test_delete_copy_again_deletes_nothing_more(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    op_id = _copied_operation(ctx, seed, operations)
    delete_copy(op_id, ctx)
    remaining = seed.snapshot_ids()

    assert delete_copy(op_id, ctx) == {"deleted": []}
    assert seed.snapshot_ids() == remaining


def test_delete_copy_leaves_a_copy_not_tagged_with_this_operation(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    op_id = _copied_operation(ctx, seed, operations)
    rds = ctx.clients.rds()
    copy = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=f"{op_id}-copy")
    rds.remove_tags_from_resource(
        ResourceName=copy["DBClusterSnapshots"][0]["DBClusterSnapshotArn"],
        TagKeys=["aurora-restore:operation-id"],
    )

    assert delete_copy(op_id, ctx) == {"deleted": []}

    assert f"{op_id}-copy" in seed.snapshot_ids()
    assert "not tagged" in ctx.store.get(op_id).stages[Stage.DELETE_COPY].detail


def test_delete_copy_without_a_copy_touches_nothing(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    op_id = operations.create("prod-snap-1", "staging-db")
    validate_request(op_id, ctx)
    before = seed.snapshot_ids()

    assert delete_copy(op_id, ctx) == {"deleted": []}

    assert seed.snapshot_ids() == before
    assert ctx.store.get(op_id).stages[Stage.DELETE_COPY].status == StageStatus.SKIPPED
