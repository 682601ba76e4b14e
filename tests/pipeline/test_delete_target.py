"""Stages 4 and 5 of an in-place replace: a safety snapshot first, then the deletion, which
keeps a final snapshot and never touches a protected cluster."""

from __future__ import annotations

import pytest

from pipeline.context import PipelineContext
from pipeline.errors import (
    FatalError,
    ProtectedClusterError,
    ResourceFailedError,
    SnapshotQuotaError,
)
from pipeline.models import Stage, StageStatus
from pipeline.rds import describe_cluster_snapshot
from pipeline.stages.delete_target import (
    _delete_cluster,
    check_delete,
    check_safety_snapshot,
    delete_target,
    snapshot_target,
)
from pipeline.stages.plan import validate_request
from tests.pipeline.conftest import Operations, RdsSeed


@pytest.fixture
def replace_op(ctx: PipelineContext, seed: RdsSeed, operations: Operations) -> str:
    """An approved operation replacing `staging-db` in place (two instances), whose safety
    snapshot is taken."""
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    seed.cluster("staging-db", instances=2)
    op_id = operations.create("prod-snap-1", "staging-db", replace=True, in_place=True)
    validate_request(op_id, ctx)
    snapshot_target(op_id, ctx)
    assert check_safety_snapshot(op_id, 0, ctx)["ready"]
    return op_id


def test_the_safety_snapshot_is_the_target_whole_and_tagged_with_the_operation(
    ctx: PipelineContext, seed: RdsSeed, replace_op: str
) -> None:
    safety = describe_cluster_snapshot(
        ctx.clients.rds(), f"staging-db-before-{replace_op.rsplit('-', 1)[-1]}"
    )
    assert safety is not None and safety["DBClusterIdentifier"] == "staging-db"
    tags = {t["Key"]: t["Value"] for t in safety.get("TagList", [])}
    assert tags["aurora-restore:operation-id"] == replace_op
    assert {"staging-db-old-1", "staging-db-old-2"} <= seed.instance_ids()  # nothing touched yet


def test_nothing_is_deleted_while_the_safety_snapshot_is_not_available(
    ctx: PipelineContext, seed: RdsSeed, replace_op: str
) -> None:
    seed.set_snapshot_status(f"staging-db-before-{replace_op.rsplit('-', 1)[-1]}", "creating")
    assert check_safety_snapshot(replace_op, 0, ctx) == {"ready": False, "attempt": 1}
    with pytest.raises(FatalError, match=r"safety snapshot .* is not available"):
        delete_target(replace_op, ctx)
    assert "staging-db" in seed.cluster_ids()
    assert {"staging-db-old-1", "staging-db-old-2"} <= seed.instance_ids()


def test_delete_removes_instances_then_cluster_and_keeps_a_final_snapshot(
    ctx: PipelineContext, seed: RdsSeed, replace_op: str
) -> None:
    final_id = f"staging-db-final-{replace_op}"

    assert delete_target(replace_op, ctx) == {"final_snapshot_id": final_id}

    assert "staging-db" not in seed.cluster_ids()
    assert not {"staging-db-old-1", "staging-db-old-2"} & seed.instance_ids()
    final = describe_cluster_snapshot(ctx.clients.rds(), final_id)
    assert final is not None and final["DBClusterIdentifier"] == "staging-db"
    assert "prod-snap-1" in seed.snapshot_ids()


def test_check_delete_is_ready_once_gone_and_final_snapshot_available(
    ctx: PipelineContext, replace_op: str
) -> None:
    delete_target(replace_op, ctx)

    assert check_delete(replace_op, 0, ctx) == {"ready": True, "attempt": 1}
    stored = ctx.store.get(replace_op)
    assert stored.stages[Stage.DELETE_TARGET].status == StageStatus.SUCCEEDED
    assert stored.resources["final_snapshot"] == f"staging-db-final-{replace_op}"


def test_check_delete_waits_while_the_cluster_is_deleting(
    ctx: PipelineContext, seed: RdsSeed, replace_op: str
) -> None:
    seed.set_cluster_status("staging-db", "deleting")
    assert check_delete(replace_op, 2, ctx) == {"ready": False, "attempt": 3}


def test_check_delete_waits_for_the_final_snapshot(
    ctx: PipelineContext, seed: RdsSeed, replace_op: str
) -> None:
    delete_target(replace_op, ctx)
    seed.set_snapshot_status(f"staging-db-final-{replace_op}", "creating")
    assert check_delete(replace_op, 0, ctx) == {"ready": False, "attempt": 1}


def test_check_delete_raises_on_a_failed_final_snapshot(
    ctx: PipelineContext, seed: RdsSeed, replace_op: str
) -> None:
    delete_target(replace_op, ctx)
    seed.set_snapshot_status(f"staging-db-final-{replace_op}", "failed")
    with pytest.raises(ResourceFailedError, match="final snapshot"):
        check_delete(replace_op, 0, ctx)
    assert ctx.store.get(replace_op).stages[Stage.DELETE_TARGET].status == StageStatus.FAILED


def test_delete_again_does_not_act_twice(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations, replace_op: str
) -> None:
    delete_target(replace_op, ctx)
    snapshots = seed.snapshot_ids()

    assert delete_target(replace_op, ctx) == {"final_snapshot_id": f"staging-db-final-{replace_op}"}

    assert seed.snapshot_ids() == snapshots
    assert operations.audit_actions(replace_op).count("delete_target.started") == 1


@pytest.mark.parametrize(
    ("protect", "reason"),
    [
        ("tag", "tagged `aurora-restore:protected=true`"),
        ("deletion_protection", "deletion protection"),
        ("pattern", "protected pattern"),
    ],
)
def test_protection_added_after_approval_is_refused_with_nothing_touched(
    ctx: PipelineContext, seed: RdsSeed, replace_op: str, protect: str, reason: str
) -> None:
    rds = ctx.clients.rds()
    if protect == "tag":
        arn = rds.describe_db_clusters(DBClusterIdentifier="staging-db")["DBClusters"][0]
        rds.add_tags_to_resource(
            ResourceName=arn["DBClusterArn"],
            Tags=[{"Key": "aurora-restore:protected", "Value": "true"}],
        )
    elif protect == "deletion_protection":
        rds.modify_db_cluster(DBClusterIdentifier="staging-db", DeletionProtection=True)
    else:
        ctx.settings = ctx.settings.model_copy(update={"protected_clusters": ["staging-*"]})
    snapshots = seed.snapshot_ids()

    with pytest.raises(ProtectedClusterError, match=reason):
        delete_target(replace_op, ctx)

    assert "staging-db" in seed.cluster_ids()
    assert {"staging-db-old-1", "staging-db-old-2"} <= seed.instance_ids()
    assert seed.snapshot_ids() == snapshots
    assert ctx.store.get(replace_op).stages[Stage.DELETE_TARGET].status == StageStatus.FAILED


def test_a_full_snapshot_quota_refuses_the_final_snapshot_and_keeps_the_cluster(
    ctx: PipelineContext, seed: RdsSeed, replace_op: str
) -> None:
    seed.fill_snapshot_quota("source-db")

    with pytest.raises(SnapshotQuotaError) as refused:
        delete_target(replace_op, ctx)

    assert "100 manual cluster snapshots per Region" in refused.value.message
    assert "`staging-db` is kept" in refused.value.message
    assert "staging-db" in seed.cluster_ids()
    assert f"staging-db-final-{replace_op}" not in seed.snapshot_ids()
    record = ctx.store.get(replace_op).stages[Stage.DELETE_TARGET]
    assert record.status == StageStatus.FAILED


def test_deletion_protection_turned_on_late_is_named_when_rds_refuses_the_delete(
    ctx: PipelineContext, seed: RdsSeed
) -> None:
    seed.cluster("late-lock-db", deletion_protection=True)

    with pytest.raises(ProtectedClusterError, match="deletion protection was turned on") as refused:
        _delete_cluster(ctx.clients.rds(), "late-lock-db", "late-lock-db-final")

    assert (refused.value.aws_error or "").startswith("InvalidParameterCombination")
    assert "late-lock-db" in seed.cluster_ids()
    assert "late-lock-db-final" not in seed.snapshot_ids()
