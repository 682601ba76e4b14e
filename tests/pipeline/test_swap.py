"""The swap of a replace, and its undo, on moto as strict as RDS (renames refuse a name in use,
keep a cluster's members, show `renaming`; local_stack.rds_rename_rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.context import PipelineContext
from pipeline.errors import FatalError, InvalidTransitionError, ProtectedClusterError
from pipeline.models import OperationStatus, Stage, StageStatus
from pipeline.retention_terms import RetentionTerms
from pipeline.stages.swap import swap_names
from pipeline.stages.swap_undo import swap_outcome, undo_swap
from tests.pipeline.conftest import Operations, RdsSeed
from tests.pipeline.swapping import (
    MAX_STEPS,
    SECRET,
    current_password,
    members,
    resource_id,
    restore_beside,
    run_until_ready,
)


@pytest.fixture
def restored(ctx: PipelineContext, seed: RdsSeed, operations: Operations) -> str:
    return restore_beside(ctx, seed, operations)


def test_the_restore_goes_beside_the_target_which_keeps_serving(
    ctx: PipelineContext, restored: str
) -> None:
    suffix = restored.rsplit("-", 1)[-1]
    assert members(ctx, "staging-db") == ["staging-db-old-1", "staging-db-old-2"]
    assert members(ctx, f"staging-db-new-{suffix}") == [
        f"staging-db-new-{suffix}-1",
        f"staging-db-new-{suffix}-2",
    ]
    versions = ctx.clients.secretsmanager.describe_secret(SecretId=SECRET)["VersionIdsToStages"]
    assert sorted(map(sorted, versions.values())) == [["AWSCURRENT"], ["AWSPENDING"]]


def test_the_swap_gives_the_target_name_to_the_new_cluster_and_keeps_the_old_one(
    ctx: PipelineContext, restored: str
) -> None:
    suffix = restored.rsplit("-", 1)[-1]
    old_id = resource_id(ctx, "staging-db")
    new_id = resource_id(ctx, f"staging-db-new-{suffix}")
    before = current_password(ctx)

    run_until_ready(swap_names, restored, ctx)

    assert resource_id(ctx, "staging-db") == new_id
    assert members(ctx, "staging-db") == ["staging-db-1", "staging-db-2"]
    kept = f"staging-db-old-{suffix}"
    assert resource_id(ctx, kept) == old_id
    assert members(ctx, kept) == [f"{kept}-1", f"{kept}-2"]
    described = ctx.clients.rds().describe_db_clusters(DBClusterIdentifier=kept)["DBClusters"][0]
    assert described["Status"] == "stopped"
    tags = {t["Key"]: t["Value"] for t in described["TagList"]}
    assert tags["aurora-restore:kept-by"] == restored
    assert tags["aurora-restore:keep-until"] > described["ClusterCreateTime"].isoformat()[:16]
    assert current_password(ctx) != before  # the new cluster's credentials are live
    stored = ctx.store.get(restored)
    assert stored.stages[Stage.SWAP].status == StageStatus.SUCCEEDED
    assert float(stored.resources["target_unavailable_seconds"]) >= 0
    assert "did not answer for" in stored.stages[Stage.SWAP].detail


@pytest.mark.parametrize("days", [1, 7])
def test_the_kept_cluster_is_tagged_with_the_plans_keep_until(
    ctx: PipelineContext, restored: str, days: int
) -> None:
    stored = ctx.store.get(restored)
    assert stored.plan is not None and stored.plan.retention == RetentionTerms()  # the defaults
    terms = RetentionTerms(kept_cluster_days=days, notice_hours=12)
    ctx.store.update(restored, plan=stored.plan.model_copy(update={"retention": terms}))
    before = datetime.now(UTC).replace(second=0, microsecond=0)

    run_until_ready(swap_names, restored, ctx)

    kept = f"staging-db-old-{restored.rsplit('-', 1)[-1]}"
    described = ctx.clients.rds().describe_db_clusters(DBClusterIdentifier=kept)["DBClusters"][0]
    tag = {t["Key"]: t["Value"] for t in described["TagList"]}["aurora-restore:keep-until"]
    keep_until = datetime.strptime(tag, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    assert before + timedelta(days=days) <= keep_until <= datetime.now(UTC) + timedelta(days=days)
    resources = ctx.store.get(restored).resources
    assert resources["keep_until"].startswith(keep_until.strftime("%Y-%m-%dT%H:%M"))


def test_a_swap_step_repeated_after_it_is_done_changes_nothing(
    ctx: PipelineContext, restored: str
) -> None:
    run_until_ready(swap_names, restored, ctx)
    password = current_password(ctx)
    assert swap_names(restored, 9, ctx) == {"ready": True, "attempt": 10}
    assert members(ctx, "staging-db") == ["staging-db-1", "staging-db-2"]
    assert current_password(ctx) == password


def test_a_target_protected_since_the_approval_is_not_renamed(
    ctx: PipelineContext, restored: str
) -> None:
    arn = ctx.clients.rds().describe_db_clusters(DBClusterIdentifier="staging-db")["DBClusters"][0][
        "DBClusterArn"
    ]
    ctx.clients.rds().add_tags_to_resource(
        ResourceName=arn, Tags=[{"Key": "aurora-restore:protected", "Value": "true"}]
    )
    with pytest.raises(ProtectedClusterError):
        swap_names(restored, 0, ctx)
    assert members(ctx, "staging-db") == ["staging-db-old-1", "staging-db-old-2"]


def test_a_name_the_swap_needs_taken_elsewhere_stops_it_before_anything_is_renamed(
    ctx: PipelineContext, seed: RdsSeed, restored: str
) -> None:
    old_id = resource_id(ctx, "staging-db")
    # Another cluster's instance holds the name the new writer would take.
    seed.cluster("other-db")
    ctx.clients.rds().create_db_instance(
        DBInstanceIdentifier="staging-db-2",
        DBClusterIdentifier="other-db",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
    )
    with pytest.raises(FatalError, match="`staging-db-2` is taken by an instance of `other-db`"):
        swap_names(restored, 0, ctx)
    assert resource_id(ctx, "staging-db") == old_id
    assert members(ctx, "staging-db") == ["staging-db-old-1", "staging-db-old-2"]
    assert run_until_ready(undo_swap, restored, ctx)["ready"]
    assert "`staging-db` was not touched" in swap_outcome(ctx.store.get(restored))


def test_a_swap_that_fails_between_the_renames_gives_the_name_back(
    ctx: PipelineContext, seed: RdsSeed, restored: str
) -> None:
    suffix = restored.rsplit("-", 1)[-1]
    old_id = resource_id(ctx, "staging-db")
    before = current_password(ctx)
    assert not swap_names(restored, 0, ctx)["ready"]  # the old cluster left the name
    assert f"staging-db-old-{suffix}" in seed.cluster_ids()
    # The restored cluster fails before it can take the name.
    seed.set_cluster_status(f"staging-db-new-{suffix}", "incompatible-parameters")
    with pytest.raises(FatalError, match="incompatible-parameters"):
        swap_names(restored, 1, ctx)

    run_until_ready(undo_swap, restored, ctx)

    assert resource_id(ctx, "staging-db") == old_id
    assert members(ctx, "staging-db") == ["staging-db-old-1", "staging-db-old-2"]
    assert f"staging-db-old-{suffix}" not in seed.cluster_ids()
    assert current_password(ctx) == before  # the applications' credentials never changed
    outcome = swap_outcome(ctx.store.get(restored))
    assert "The swap was undone" in outcome and f"`staging-db-new-{suffix}`" in outcome


def test_after_the_commit_point_a_failure_is_reported_not_undone(
    ctx: PipelineContext, seed: RdsSeed, restored: str
) -> None:
    suffix = restored.rsplit("-", 1)[-1]
    new_id = resource_id(ctx, f"staging-db-new-{suffix}")
    before = current_password(ctx)
    for attempt in range(MAX_STEPS):  # up to the commit point
        swap_names(restored, attempt, ctx)
        if ctx.store.get(restored).resources.get("swap_committed") == "true":
            break
    # Someone else's instance takes a name the new writer still needs.
    seed.cluster("other-db")
    ctx.clients.rds().create_db_instance(
        DBInstanceIdentifier="staging-db-2",
        DBClusterIdentifier="other-db",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
    )

    run_until_ready(swap_names, restored, ctx)
    assert run_until_ready(undo_swap, restored, ctx)["ready"]  # nothing to undo

    assert resource_id(ctx, "staging-db") == new_id
    assert current_password(ctx) != before
    stored = ctx.store.get(restored)
    assert stored.stages[Stage.SWAP].status == StageStatus.SUCCEEDED
    assert "Not finished, left for you" in stored.stages[Stage.SWAP].detail


def test_a_cancel_before_the_first_rename_renames_nothing(
    ctx: PipelineContext, restored: str
) -> None:
    old_id = resource_id(ctx, "staging-db")
    stored = ctx.store.get(restored)
    ctx.store.transition(restored, OperationStatus.CANCELLED, expected={OperationStatus.RUNNING})
    with pytest.raises(InvalidTransitionError):
        swap_names(restored, 0, ctx)
    assert resource_id(ctx, "staging-db") == old_id
    assert stored.status == OperationStatus.RUNNING
