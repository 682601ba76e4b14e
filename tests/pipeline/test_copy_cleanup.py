"""The intermediate copy is deleted on the failure path too (RecordFailure, a wait that gave up),
only when it is this operation's, and the failure message says what became of it."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from pipeline.context import PipelineContext
from pipeline.copy_cleanup import discard_copy
from pipeline.models import OperationStatus, Stage
from pipeline.stages.copy_snapshot import copy_snapshot
from pipeline.stages.lifecycle import LifecycleAction, run_lifecycle
from pipeline.stages.plan import validate_request
from tests.pipeline.conftest import SOURCE_REGION, Operations, RdsSeed

STAGE_ERROR = {"Error": "ResourceFailedError", "Cause": "cluster `staging-db` is `failed`"}


def _copying(ctx: PipelineContext, seed: RdsSeed, operations: Operations) -> str:
    """An operation whose cross-region copy was started (and, at scale 0, is available)."""
    seed.cluster("prod-db", region=SOURCE_REGION)
    seed.snapshot("prod-db", "prod-snap-1", region=SOURCE_REGION)
    op_id = operations.create("prod-snap-1", "staging-db", source_region=SOURCE_REGION)
    validate_request(op_id, ctx)
    run_lifecycle(op_id, LifecycleAction.BEGIN, ctx)
    copy_snapshot(op_id, ctx)
    return op_id


def _outcome(ctx: PipelineContext, op_id: str) -> str:
    return ctx.store.get(op_id).stages[Stage.FINISH].detail


def test_a_failure_after_the_copy_deletes_it_and_keeps_the_error(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    op_id = _copying(ctx, seed, operations)
    source_snapshots = seed.snapshot_ids(SOURCE_REGION)

    run_lifecycle(op_id, LifecycleAction.FAIL, ctx, STAGE_ERROR)

    assert f"{op_id}-copy" not in seed.snapshot_ids()
    assert seed.snapshot_ids(SOURCE_REGION) == source_snapshots  # the source is never touched
    operation = ctx.store.get(op_id)
    assert operation.status == OperationStatus.FAILED
    assert operation.error == "ResourceFailedError: cluster `staging-db` is `failed`"
    outcome = _outcome(ctx, op_id)
    assert outcome.startswith("Restore of `staging-db` failed: ResourceFailedError: cluster")
    assert f"Deleted the intermediate copy `{op_id}-copy`" in outcome
    actions = [event.action for event in ctx.store.audit_events(op_id)]
    assert actions.index("copy.deleted") < actions.index("operation.failed")


def test_a_copy_still_in_progress_is_cancelled_by_its_deletion(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    op_id = _copying(ctx, seed, operations)
    seed.set_snapshot_status(f"{op_id}-copy", "copying")  # a wait that gave up on a slow copy
    seed.backend().cluster_snapshots[f"{op_id}-copy"].percent_progress = 42

    run_lifecycle(op_id, LifecycleAction.FAIL, ctx, {"Error": "WaitExhaustedError"})

    assert f"{op_id}-copy" not in seed.snapshot_ids()
    assert f"Cancelled the copy in progress at 42% and deleted `{op_id}-copy`" in _outcome(
        ctx, op_id
    )


@pytest.mark.parametrize("status", ["creating", "storage-full"])
def test_a_copy_rds_will_not_delete_is_left_and_named(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations, status: str
) -> None:
    op_id = _copying(ctx, seed, operations)
    seed.set_snapshot_status(f"{op_id}-copy", status)

    run_lifecycle(op_id, LifecycleAction.FAIL, ctx, STAGE_ERROR)

    assert f"{op_id}-copy" in seed.snapshot_ids()
    operation = ctx.store.get(op_id)
    assert operation.status == OperationStatus.FAILED
    assert operation.error == "ResourceFailedError: cluster `staging-db` is `failed`"
    outcome = _outcome(ctx, op_id)
    assert f"The intermediate copy `{op_id}-copy` is left: it is `{status}`" in outcome
    assert "available" in outcome  # what RDS needs before it deletes it


def test_a_copy_not_tagged_with_this_operation_is_never_deleted(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    op_id = _copying(ctx, seed, operations)
    rds = ctx.clients.rds()
    copy = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=f"{op_id}-copy")
    rds.remove_tags_from_resource(
        ResourceName=copy["DBClusterSnapshots"][0]["DBClusterSnapshotArn"],
        TagKeys=["aurora-restore:operation-id"],
    )

    run_lifecycle(op_id, LifecycleAction.FAIL, ctx, STAGE_ERROR)

    assert f"{op_id}-copy" in seed.snapshot_ids()
    assert f"Left `{op_id}-copy` in place: it is not tagged" in _outcome(ctx, op_id)


def test_a_retried_record_failure_deletes_nothing_more_and_says_the_copy_is_gone(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    op_id = _copying(ctx, seed, operations)
    run_lifecycle(op_id, LifecycleAction.FAIL, ctx, STAGE_ERROR)
    remaining = seed.snapshot_ids()

    fate = discard_copy(ctx, ctx.store.get(op_id))
    run_lifecycle(op_id, LifecycleAction.FAIL, ctx, STAGE_ERROR)

    assert fate is not None
    assert (fate.deleted, fate.left) == (False, False)
    assert "is gone" in fate.sentence
    assert seed.snapshot_ids() == remaining
    assert ctx.store.get(op_id).status == OperationStatus.FAILED


def test_a_failure_before_any_copy_says_nothing_of_one(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    seed.cluster("prod-db", region=SOURCE_REGION)
    seed.snapshot("prod-db", "prod-snap-1", region=SOURCE_REGION)
    op_id = operations.create("prod-snap-1", "staging-db", source_region=SOURCE_REGION)
    validate_request(op_id, ctx)

    run_lifecycle(op_id, LifecycleAction.FAIL, ctx, STAGE_ERROR)

    assert discard_copy(ctx, ctx.store.get(op_id)) is None
    assert "copy" not in _outcome(ctx, op_id)


def test_a_copy_started_after_the_restore_was_cancelled_is_deleted_by_its_starter(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    """StopExecution does not stop a CopySnapshot already running: it cleans up after itself."""
    seed.cluster("prod-db", region=SOURCE_REGION)
    seed.snapshot("prod-db", "prod-snap-1", region=SOURCE_REGION)
    op_id = operations.create("prod-snap-1", "staging-db", source_region=SOURCE_REGION)
    validate_request(op_id, ctx)
    run_lifecycle(op_id, LifecycleAction.BEGIN, ctx)
    store = ctx.store
    real_update = store.update

    def cancelled_meanwhile(operation_id: str, **fields: object) -> object:
        """The bot's cancel lands while the copy starts (its own cleanup found no copy)."""
        written = real_update(operation_id, **fields)
        if "resources" in fields:
            store.transition(
                operation_id, OperationStatus.CANCELLED, expected={OperationStatus.RUNNING}
            )
        return written

    store.update = cancelled_meanwhile  # type: ignore[method-assign]
    try:
        with pytest.raises(Exception, match="its stages do nothing more"):
            copy_snapshot(op_id, ctx)
    finally:
        store.update = real_update  # type: ignore[method-assign]

    assert f"{op_id}-copy" not in seed.snapshot_ids()


def test_a_deletion_rds_refuses_leaves_the_copy_named_and_the_error_first(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    op_id = _copying(ctx, seed, operations)

    def access_denied(**_: object) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not authorized to delete"}},
            "DeleteDBClusterSnapshot",
        )

    rds = ctx.clients.rds()  # the context's own client: AWS refuses its delete
    rds.meta.events.register("before-call.rds.DeleteDBClusterSnapshot", access_denied)
    try:
        run_lifecycle(op_id, LifecycleAction.FAIL, ctx, STAGE_ERROR)
    finally:
        rds.meta.events.unregister("before-call.rds.DeleteDBClusterSnapshot", access_denied)

    assert f"{op_id}-copy" in seed.snapshot_ids()
    operation = ctx.store.get(op_id)
    assert operation.status == OperationStatus.FAILED
    assert operation.error == "ResourceFailedError: cluster `staging-db` is `failed`"
    outcome = _outcome(ctx, op_id)
    assert outcome.startswith("Restore of `staging-db` failed: ResourceFailedError")
    assert f"The intermediate copy `{op_id}-copy` is left: deleting it failed (" in outcome
    assert "AccessDenied" in outcome
    assert ctx.store.lock_holder("staging-db") is None  # the ending completed all the same
