"""Stage 1: resolving the snapshot reference and the target into a plan."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.context import PipelineContext
from pipeline.errors import (
    ConfigurationError,
    InvalidRequestError,
    ProtectedClusterError,
    SnapshotNotAvailableError,
    SnapshotNotFoundError,
    TargetExistsError,
)
from pipeline.models import RestoreRequest, Stage, StageStatus
from pipeline.plan import resolve_plan
from pipeline.stages.plan import validate_request
from tests.conftest import REGION
from tests.pipeline.conftest import (
    ENGINE,
    ENGINE_VERSION,
    SOURCE_REGION,
    WAIT_BUDGETS,
    Operations,
    RdsSeed,
)

OP = "ar-20260101120000-abcdef"


def request(snapshot: str, target: str = "staging-db", **extra: object) -> RestoreRequest:
    return RestoreRequest(snapshot=snapshot, target_cluster=target, requester="U1", **extra)


def at(day: int) -> datetime:
    return datetime(2026, 1, day, 3, 0, tzinfo=UTC)


def test_same_region_snapshot_is_restored_in_place(ctx: PipelineContext, seed: RdsSeed) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")

    plan = resolve_plan(request("prod-snap-1", instance_count=2), OP, ctx)

    assert plan.source_snapshot_id == "prod-snap-1"
    assert (plan.engine, plan.engine_version) == (ENGINE, ENGINE_VERSION)
    assert not plan.needs_copy and plan.copy_snapshot_id is None
    assert plan.restore_snapshot_id == "prod-snap-1"
    assert not plan.target_exists and not plan.delete_target and plan.final_snapshot_id is None
    assert plan.instance_ids == ["staging-db-1", "staging-db-2"]
    assert plan.instance_class == ctx.settings.default_instance_class


def test_latest_picks_the_newest_available_manual_or_automated_snapshot(
    ctx: PipelineContext, seed: RdsSeed
) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "manual-old", created=at(1))
    seed.automated_snapshot("source-db", "rds:source-db-2026-01-03", created=at(3))
    seed.snapshot("source-db", "manual-mid", created=at(2))
    seed.snapshot("source-db", "manual-newest-but-copying", created=at(4))
    seed.set_snapshot_status("manual-newest-but-copying", "creating")
    for snapshot_id in seed.snapshot_ids():  # the one moto takes when the cluster is created
        if snapshot_id.startswith("rds:source-db-") and snapshot_id != "rds:source-db-2026-01-03":
            seed.set_snapshot_created(snapshot_id, at(1))

    plan = resolve_plan(request("latest:source-db"), OP, ctx)

    assert plan.source_snapshot_id == "rds:source-db-2026-01-03"
    assert plan.snapshot_type == "automated"
    assert plan.snapshot_created_at == at(3)


def test_latest_of_a_cluster_without_snapshots(ctx: PipelineContext) -> None:
    with pytest.raises(SnapshotNotFoundError, match="ghost-db"):
        resolve_plan(request("latest:ghost-db"), OP, ctx)


def test_unknown_snapshot(ctx: PipelineContext) -> None:
    with pytest.raises(SnapshotNotFoundError, match="no-such-snap"):
        resolve_plan(request("no-such-snap"), OP, ctx)


def test_snapshot_that_is_not_available(ctx: PipelineContext, seed: RdsSeed) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    seed.set_snapshot_status("prod-snap-1", "creating")
    with pytest.raises(SnapshotNotAvailableError, match="creating"):
        resolve_plan(request("prod-snap-1"), OP, ctx)


def test_snapshot_arn_in_another_region_is_copied_with_the_target_key(
    ctx: PipelineContext, seed: RdsSeed
) -> None:
    seed.cluster("source-db", region=SOURCE_REGION, encrypted=True)
    arn = seed.snapshot("source-db", "prod-snap-1", region=SOURCE_REGION)["DBClusterSnapshotArn"]

    plan = resolve_plan(request(arn), OP, ctx)

    assert plan.source_region == SOURCE_REGION and plan.target_region == REGION
    assert plan.needs_copy and plan.encrypted
    assert plan.copy_snapshot_id == f"{OP}-copy" == plan.restore_snapshot_id
    assert plan.kms_key_id == ctx.settings.kms_key_id


def test_source_region_with_a_plain_name(ctx: PipelineContext, seed: RdsSeed) -> None:
    seed.cluster("source-db", region=SOURCE_REGION)
    seed.snapshot("source-db", "prod-snap-1", region=SOURCE_REGION)

    plan = resolve_plan(request("prod-snap-1", source_region=SOURCE_REGION), OP, ctx)

    assert plan.source_region == SOURCE_REGION and plan.needs_copy
    with pytest.raises(SnapshotNotFoundError, match=REGION):
        resolve_plan(request("prod-snap-1"), OP, ctx)  # not in the target region


def test_source_region_contradicting_the_arn(ctx: PipelineContext) -> None:
    arn = f"arn:aws:rds:{SOURCE_REGION}:123456789012:cluster-snapshot:prod-snap-1"
    with pytest.raises(InvalidRequestError, match="source_region"):
        resolve_plan(request(arn, source_region="ap-south-1"), OP, ctx)


def test_encrypted_copy_needs_a_target_kms_key(ctx: PipelineContext, seed: RdsSeed) -> None:
    seed.cluster("source-db", region=SOURCE_REGION, encrypted=True)
    seed.snapshot("source-db", "prod-snap-1", region=SOURCE_REGION)
    ctx.settings = ctx.settings.model_copy(update={"kms_key_id": None})
    with pytest.raises(ConfigurationError, match="KMS_KEY_ID"):
        resolve_plan(request("prod-snap-1", source_region=SOURCE_REGION), OP, ctx)


def test_existing_target_without_replace(ctx: PipelineContext, seed: RdsSeed) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    seed.cluster("staging-db")
    with pytest.raises(TargetExistsError, match="--replace"):
        resolve_plan(request("prod-snap-1"), OP, ctx)


def test_existing_target_with_replace(ctx: PipelineContext, seed: RdsSeed) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    seed.cluster("staging-db", instances=2)

    plan = resolve_plan(request("prod-snap-1", replace=True), OP, ctx)

    assert plan.target_exists and plan.swap_target and not plan.delete_target
    assert plan.existing_instances == ["staging-db-old-1", "staging-db-old-2"]
    suffix = OP.rsplit("-", 1)[-1]
    assert plan.kept_instance_ids == [f"staging-db-old-{suffix}-1", f"staging-db-old-{suffix}-2"]

    in_place = resolve_plan(request("prod-snap-1", replace=True, in_place=True), OP, ctx)
    assert in_place.delete_target and in_place.final_snapshot_id == f"staging-db-final-{OP}"


@pytest.mark.parametrize(
    ("target", "cluster_options", "reason"),
    [
        ("prod-orders", {}, "protected pattern `prod-\\*`"),
        ("staging-db", {"tags": {"aurora-restore:protected": "true"}}, "tagged"),
        ("staging-db", {"deletion_protection": True}, "deletion protection"),
    ],
)
def test_protected_targets_are_refused_at_plan_time(
    ctx: PipelineContext, seed: RdsSeed, target: str, cluster_options: dict, reason: str
) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    seed.cluster(target, **cluster_options)
    with pytest.raises(ProtectedClusterError, match=reason):
        resolve_plan(request("prod-snap-1", target=target, replace=True), OP, ctx)


def test_automated_snapshot_of_the_replaced_target_is_copied_first(
    ctx: PipelineContext, seed: RdsSeed
) -> None:
    seed.cluster("staging-db")
    seed.automated_snapshot("staging-db", "rds:staging-db-2026-01-02", created=at(2))

    plan = resolve_plan(request("rds:staging-db-2026-01-02", replace=True, in_place=True), OP, ctx)

    assert plan.needs_copy and plan.restore_snapshot_id == f"{OP}-copy"
    assert plan.source_region == plan.target_region


def test_validate_stores_the_plan_and_answers_the_state_machine(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    seed.cluster("staging-db")
    op_id = operations.create("prod-snap-1", "staging-db", approve=False, replace=True)

    result = validate_request(op_id, ctx)

    assert result == {
        "needs_copy": False,
        "delete_target": False,
        "swap_target": True,
        "target_exists": True,
        "rollback": False,
        "wait_budgets": WAIT_BUDGETS,
    }
    stored = ctx.store.get(op_id)
    suffix = op_id.rsplit("-", 1)[-1]
    assert stored.plan is not None and stored.plan.kept_cluster_id == f"staging-db-old-{suffix}"
    assert stored.stages[Stage.VALIDATE].status == StageStatus.SUCCEEDED
    assert "restore beside it as" in stored.stages[Stage.VALIDATE].detail
    assert operations.audit_actions(op_id) == ["validate.started", "validate.succeeded"]


def test_validate_again_keeps_the_plan_already_stored(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "snap-a", created=at(2))
    for snapshot_id in seed.snapshot_ids():
        if snapshot_id.startswith("rds:"):
            seed.set_snapshot_created(snapshot_id, at(1))
    op_id = operations.create("latest:source-db", "staging-db", approve=False)
    validate_request(op_id, ctx)
    seed.snapshot("source-db", "snap-b", created=at(5))  # newer, but not what approvers will see

    validate_request(op_id, ctx)

    plan = ctx.store.get(op_id).plan
    assert plan is not None and plan.source_snapshot_id == "snap-a"
    assert operations.audit_actions(op_id) == ["validate.started", "validate.succeeded"]


def test_validate_failure_is_recorded_and_raised(
    ctx: PipelineContext, operations: Operations
) -> None:
    op_id = operations.create("missing-snap", "staging-db", approve=False)
    with pytest.raises(SnapshotNotFoundError):
        validate_request(op_id, ctx)
    stored = ctx.store.get(op_id)
    assert stored.plan is None
    assert stored.stages[Stage.VALIDATE].status == StageStatus.FAILED
    assert "missing-snap" in stored.stages[Stage.VALIDATE].detail


def test_validate_checks_the_plan_the_bot_stored_instead_of_resolving_again(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "snap-a", created=at(2))
    for snapshot_id in seed.snapshot_ids():
        if snapshot_id.startswith("rds:"):
            seed.set_snapshot_created(snapshot_id, at(1))
    op_id = operations.create("latest:source-db", "staging-db", approve=False)
    shown = resolve_plan(ctx.store.get(op_id).request, op_id, ctx)  # what the card shows
    ctx.store.update(op_id, plan=shown)
    seed.snapshot("source-db", "snap-b", created=at(5))  # newer, but not what was approved

    validate_request(op_id, ctx)

    assert ctx.store.get(op_id).plan == shown
    assert operations.audit_actions(op_id) == ["validate.started", "validate.succeeded"]


def test_validate_refuses_a_stored_plan_whose_snapshot_is_gone(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    op_id = operations.create("prod-snap-1", "staging-db", approve=False)
    ctx.store.update(op_id, plan=resolve_plan(ctx.store.get(op_id).request, op_id, ctx))
    ctx.clients.rds().delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="prod-snap-1")

    with pytest.raises(SnapshotNotFoundError):
        validate_request(op_id, ctx)
    assert ctx.store.get(op_id).stages[Stage.VALIDATE].status == StageStatus.FAILED


def test_validate_refuses_a_stored_plan_whose_target_appeared(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    op_id = operations.create("prod-snap-1", "staging-db", approve=False, replace=True)
    ctx.store.update(op_id, plan=resolve_plan(ctx.store.get(op_id).request, op_id, ctx))
    seed.cluster("staging-db")  # created after the plan, which does not delete it

    with pytest.raises(TargetExistsError, match="after the plan was made"):
        validate_request(op_id, ctx)
