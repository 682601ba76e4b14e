"""A rollback: the cluster a replace kept, stopped, is started and swapped back in, on moto as
strict as RDS (local_stack.rds_rules); and the rollbacks that are refused, each saying why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.context import PipelineContext
from pipeline.errors import FatalError, RollbackRefusedError
from pipeline.models import OperationStatus, Stage, StageStatus
from pipeline.retention_terms import RetentionTerms, parse_keep_until
from pipeline.stages.finish import record_success
from pipeline.stages.lifecycle import begin
from pipeline.stages.plan import validate_request
from pipeline.stages.start_kept import check_kept, start_kept
from pipeline.stages.swap import swap_names
from pipeline.stages.swap_undo import swap_outcome, undo_swap
from tests.pipeline.conftest import Operations, RdsSeed
from tests.pipeline.swapping import (
    current_password,
    members,
    resource_id,
    restore_beside,
    run_until_ready,
)

ORIGINAL_INSTANCES = ["staging-db-old-1", "staging-db-old-2"]  # as seeded


def suffix(operation_id: str) -> str:
    return operation_id.rsplit("-", 1)[-1]


def describe(ctx: PipelineContext, cluster_id: str) -> dict:
    return dict(
        ctx.clients.rds().describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
    )


def tag(ctx: PipelineContext, cluster_id: str, key: str, value: str) -> None:
    ctx.clients.rds().add_tags_to_resource(
        ResourceName=describe(ctx, cluster_id)["DBClusterArn"], Tags=[{"Key": key, "Value": value}]
    )


class Before:
    """What `staging-db` was before the replace."""

    def __init__(self, ctx: PipelineContext) -> None:
        self.resource_id = resource_id(ctx, "staging-db")
        self.password = current_password(ctx)


@pytest.fixture
def replaced(ctx: PipelineContext, seed: RdsSeed, operations: Operations) -> tuple[str, Before]:
    """A replace of `staging-db` that swapped and succeeded; what the target was before it."""
    op = restore_beside(ctx, seed, operations)
    before = Before(ctx)
    run_until_ready(swap_names, op, ctx)
    record_success(op, ctx)
    assert ctx.store.get(op).status == OperationStatus.SUCCEEDED
    return op, before


def ask_rollback(
    ctx: PipelineContext, operations: Operations, original: str, **request: object
) -> str:
    kept = f"staging-db-old-{suffix(original)}"
    op = operations.create(kept, "staging-db", rollback_of=original, **request)
    validate_request(op, ctx)
    return op


def roll_back(
    ctx: PipelineContext, operations: Operations, original: str, **request: object
) -> str:
    op = ask_rollback(ctx, operations, original, **request)
    begin(op, ctx)
    start_kept(op, ctx)
    run_until_ready(check_kept, op, ctx)
    run_until_ready(swap_names, op, ctx)
    record_success(op, ctx)
    return op


def test_a_rollback_swaps_the_kept_cluster_back_and_keeps_the_restored_one(
    ctx: PipelineContext, operations: Operations, replaced: tuple[str, Before]
) -> None:
    original, before = replaced
    restored_id = resource_id(ctx, "staging-db")
    assert describe(ctx, f"staging-db-old-{suffix(original)}")["Status"] == "stopped"

    rollback = roll_back(ctx, operations, original)

    assert resource_id(ctx, "staging-db") == before.resource_id
    assert members(ctx, "staging-db") == ORIGINAL_INSTANCES
    tags = {t["Key"]: t["Value"] for t in describe(ctx, "staging-db")["TagList"]}
    assert "aurora-restore:kept-by" not in tags  # the live target is kept for nothing
    kept = f"staging-db-old-{suffix(rollback)}"
    assert resource_id(ctx, kept) == restored_id
    assert members(ctx, kept) == [f"{kept}-1", f"{kept}-2"]
    described = describe(ctx, kept)
    assert described["Status"] == "stopped"
    kept_tags = {t["Key"]: t["Value"] for t in described["TagList"]}
    assert kept_tags["aurora-restore:kept-by"] == rollback
    assert current_password(ctx) == before.password  # the applications' credentials again
    stored = ctx.store.get(rollback)
    assert stored.status == OperationStatus.SUCCEEDED
    assert stored.stages[Stage.START_KEPT].status == StageStatus.SUCCEEDED
    assert Stage.RESTORE_CLUSTER not in stored.stages and Stage.COPY_SNAPSHOT not in stored.stages


def test_a_rollback_keeps_the_replaced_cluster_on_its_own_requests_terms(
    ctx: PipelineContext, operations: Operations, replaced: tuple[str, Before]
) -> None:
    original, _ = replaced
    original_until = ctx.store.get(original).resources["keep_until"]
    terms = RetentionTerms(kept_cluster_days=6, notice_hours=12)
    before = datetime.now(UTC).replace(second=0, microsecond=0)

    rollback = roll_back(ctx, operations, original, retention=terms)

    stored = ctx.store.get(rollback)
    assert stored.plan is not None and stored.plan.retention == terms
    kept = f"staging-db-old-{suffix(rollback)}"
    tags = {t["Key"]: t["Value"] for t in describe(ctx, kept)["TagList"]}
    until = parse_keep_until(tags["aurora-restore:keep-until"])
    assert until is not None
    assert before + timedelta(days=6) <= until <= datetime.now(UTC) + timedelta(days=6)
    # Not the original's terms (the defaults: 3 days), which the first kept cluster had.
    assert datetime.fromisoformat(original_until) < until - timedelta(days=2)
    assert stored.resources["keep_until"].startswith(until.strftime("%Y-%m-%dT%H:%M"))


def test_a_rollback_can_itself_be_rolled_back(
    ctx: PipelineContext, operations: Operations, replaced: tuple[str, Before]
) -> None:
    original, before = replaced
    restored_id = resource_id(ctx, "staging-db")
    restored_password = current_password(ctx)
    rollback = roll_back(ctx, operations, original)

    again = roll_back(ctx, operations, rollback)

    assert resource_id(ctx, "staging-db") == restored_id
    assert members(ctx, "staging-db") == ["staging-db-1", "staging-db-2"]
    assert resource_id(ctx, f"staging-db-old-{suffix(again)}") == before.resource_id
    assert current_password(ctx) == restored_password != before.password


def test_a_failed_rollback_swap_is_undone(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations, replaced: tuple[str, Before]
) -> None:
    original, _ = replaced
    restored_id = resource_id(ctx, "staging-db")
    password = current_password(ctx)
    op = ask_rollback(ctx, operations, original)
    taken = f"staging-db-old-{suffix(op)}-2"  # the name the restored writer would be kept as
    seed.cluster("other-db")
    ctx.clients.rds().create_db_instance(
        DBInstanceIdentifier=taken,
        DBClusterIdentifier="other-db",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
    )
    begin(op, ctx)
    start_kept(op, ctx)
    run_until_ready(check_kept, op, ctx)
    with pytest.raises(FatalError, match=f"`{taken}` is taken by an instance of `other-db`"):
        run_until_ready(swap_names, op, ctx)

    run_until_ready(undo_swap, op, ctx)

    assert resource_id(ctx, "staging-db") == restored_id
    assert members(ctx, "staging-db") == ["staging-db-1", "staging-db-2"]
    assert current_password(ctx) == password


def test_a_replace_that_did_not_swap_cannot_be_rolled_back(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    fresh = operations.create("prod-snap-1", "fresh-db")
    validate_request(fresh, ctx)
    begin(fresh, ctx)
    record_success(fresh, ctx)  # as if restored: a new cluster, nothing replaced nor kept
    rollback = operations.create("fresh-db-old-x", "fresh-db", rollback_of=fresh)
    with pytest.raises(RollbackRefusedError, match="did not replace `fresh-db` through a swap"):
        validate_request(rollback, ctx)


def test_refused_when_the_kept_cluster_is_gone(
    ctx: PipelineContext, operations: Operations, replaced: tuple[str, Before]
) -> None:
    original, _ = replaced
    kept = f"staging-db-old-{suffix(original)}"
    client = ctx.clients.rds()
    client.start_db_cluster(DBClusterIdentifier=kept)
    for instance in members(ctx, kept):
        client.delete_db_instance(DBInstanceIdentifier=instance)
    client.delete_db_cluster(DBClusterIdentifier=kept, SkipFinalSnapshot=True)
    with pytest.raises(RollbackRefusedError, match=rf"the kept cluster `{kept}` .* is gone"):
        ask_rollback(ctx, operations, original)


def test_refused_once_keep_until_has_passed(
    ctx: PipelineContext, operations: Operations, replaced: tuple[str, Before]
) -> None:
    original, _ = replaced
    kept = f"staging-db-old-{suffix(original)}"
    past = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%MZ")
    tag(ctx, kept, "aurora-restore:keep-until", past)
    with pytest.raises(RollbackRefusedError, match=f"kept for rollback until {past}"):
        ask_rollback(ctx, operations, original)


def test_refused_when_the_target_is_no_longer_the_restored_cluster(
    ctx: PipelineContext, operations: Operations, replaced: tuple[str, Before]
) -> None:
    original, _ = replaced
    roll_back(ctx, operations, original)  # the target is the original cluster again
    with pytest.raises(RollbackRefusedError, match=r"is not the cluster .* swapped in"):
        ask_rollback(ctx, operations, original)


def test_a_rollback_refused_before_any_rename_stops_the_kept_cluster_again(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations, replaced: tuple[str, Before]
) -> None:
    original, _ = replaced
    restored_id = resource_id(ctx, "staging-db")
    kept = f"staging-db-old-{suffix(original)}"
    op = ask_rollback(ctx, operations, original)
    seed.cluster(f"staging-db-old-{suffix(op)}")  # the name the rollback would keep the target as
    begin(op, ctx)
    start_kept(op, ctx)
    run_until_ready(check_kept, op, ctx)
    assert describe(ctx, kept)["Status"] == "available"
    with pytest.raises(FatalError, match=r"kept name .* is taken by another cluster"):
        run_until_ready(swap_names, op, ctx)

    run_until_ready(undo_swap, op, ctx)

    assert resource_id(ctx, "staging-db") == restored_id  # nothing was renamed
    assert describe(ctx, kept)["Status"] in ("stopping", "stopped")
    outcome = swap_outcome(ctx.store.get(op))
    assert "`staging-db` is as it was before the rollback" in outcome
    assert f"`{kept}` is still kept by `{original}`" in outcome
