"""build_plan and check_plan on plain data (RDS descriptions as dicts), no AWS."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.errors import (
    ConfigurationError,
    InvalidRequestError,
    ProtectedClusterError,
    SnapshotNotAvailableError,
    SnapshotNotFoundError,
    TargetExistsError,
)
from pipeline.models import RestoreRequest
from pipeline.plan import SnapshotFacts, build_plan, check_plan, describe_plan
from pipeline.settings import PipelineSettings

OP = "ar-20260101120000-abcdef"
HERE, ELSEWHERE = "us-east-1", "eu-west-1"
SETTINGS = PipelineSettings(
    region=HERE,
    operations_table="operations",
    audit_table="audit",
    progress_topic_arn="arn:aws:sns:us-east-1:123456789012:progress",
    protected_clusters=["prod-*"],
    kms_key_id="arn:aws:kms:us-east-1:123456789012:key/target",
)


def snapshot(region: str = HERE, **extra: Any) -> SnapshotFacts:
    described = {
        "DBClusterSnapshotIdentifier": "snap-1",
        "DBClusterSnapshotArn": f"arn:aws:rds:{region}:123456789012:cluster-snapshot:snap-1",
        "DBClusterIdentifier": "source-db",
        "Status": "available",
        "SnapshotType": "manual",
        "SnapshotCreateTime": datetime(2026, 1, 1, 3, tzinfo=UTC),
        "Engine": "aurora-postgresql",
        "EngineVersion": "16.4",
        **extra,
    }
    return SnapshotFacts(described, region)


def cluster(name: str = "staging-db", **extra: Any) -> dict[str, Any]:
    return {
        "DBClusterIdentifier": name,
        "DBClusterMembers": [{"DBInstanceIdentifier": f"{name}-1"}],
        **extra,
    }


def request(target: str = "staging-db", **extra: Any) -> RestoreRequest:
    return RestoreRequest(snapshot="snap-1", target_cluster=target, requester="U1", **extra)


def test_a_new_target_from_a_local_snapshot_is_restored_in_place() -> None:
    plan = build_plan(
        request(instance_count=2), OP, snapshot=snapshot(), target=None, settings=SETTINGS
    )
    assert (plan.needs_copy, plan.delete_target, plan.restore_snapshot_id) == (
        False,
        False,
        "snap-1",
    )
    assert plan.instance_ids == ["staging-db-1", "staging-db-2"]
    assert plan.instance_class == SETTINGS.default_instance_class


def test_replacing_an_existing_target_restores_beside_it_and_swaps_names() -> None:
    plan = build_plan(
        request(replace=True, instance_count=2),
        OP,
        snapshot=snapshot(),
        target=cluster(),
        settings=SETTINGS,
    )
    suffix = OP.rsplit("-", 1)[-1]
    assert plan.swap_target and not plan.delete_target
    assert plan.final_snapshot_id is None and plan.safety_snapshot_id is None  # nothing deleted
    assert plan.restore_cluster == f"staging-db-new-{suffix}"
    assert plan.restore_instance_ids == [f"staging-db-new-{suffix}-1", f"staging-db-new-{suffix}-2"]
    assert plan.instance_ids == ["staging-db-1", "staging-db-2"]  # the names they end with
    assert plan.kept_cluster_id == f"staging-db-old-{suffix}"
    assert plan.existing_instances == ["staging-db-1"]
    assert plan.kept_instance_ids == [f"staging-db-old-{suffix}-1"]
    assert "kept, stopped" in describe_plan(plan)


def test_an_in_place_replace_snapshots_the_target_then_keeps_a_final_snapshot() -> None:
    plan = build_plan(
        request(replace=True, in_place=True),
        OP,
        snapshot=snapshot(),
        target=cluster(),
        settings=SETTINGS,
    )
    assert plan.delete_target and not plan.swap_target
    assert plan.safety_snapshot_id == f"staging-db-before-{OP.rsplit('-', 1)[-1]}"
    assert plan.final_snapshot_id == f"staging-db-final-{OP}"
    assert plan.restore_cluster == "staging-db"
    assert plan.existing_instances == ["staging-db-1"]


def test_a_target_too_long_for_the_names_of_its_replace_is_refused_before_approval() -> None:
    long_target = "s" * 52  # 52 + len("-old-abcdef-1") and 52 + len("-before-abcdef") > 63
    for in_place in (False, True):
        with pytest.raises(InvalidRequestError, match="restore into a shorter target name"):
            build_plan(
                request(long_target, replace=True, in_place=in_place),
                OP,
                snapshot=snapshot(),
                target=cluster(long_target),
                settings=SETTINGS,
            )
    fits = "s" * 49
    assert build_plan(
        request(fits, replace=True, in_place=True),
        OP,
        snapshot=snapshot(),
        target=cluster(fits),
        settings=SETTINGS,
    ).delete_target
    assert build_plan(
        request(fits, replace=True),
        OP,
        snapshot=snapshot(),
        target=cluster(fits),
        settings=SETTINGS,
    ).swap_target


def test_a_snapshot_in_another_region_is_copied_with_the_target_key() -> None:
    plan = build_plan(
        request(),
        OP,
        snapshot=snapshot(ELSEWHERE, StorageEncrypted=True),
        target=None,
        settings=SETTINGS,
    )
    assert plan.needs_copy and plan.copy_snapshot_id == f"{OP}-copy"
    assert plan.kms_key_id == SETTINGS.kms_key_id


def test_an_automated_snapshot_of_the_doomed_target_is_copied_first() -> None:
    facts = snapshot(SnapshotType="automated", DBClusterIdentifier="staging-db")
    plan = build_plan(
        request(replace=True, in_place=True),
        OP,
        snapshot=facts,
        target=cluster(),
        settings=SETTINGS,
    )
    assert plan.needs_copy
    # A swap keeps the old cluster, and its automated snapshots with it, until it is restored.
    swapped = build_plan(
        request(replace=True), OP, snapshot=facts, target=cluster(), settings=SETTINGS
    )
    assert not swapped.needs_copy


@pytest.mark.parametrize(
    ("req", "facts", "target", "settings", "error"),
    [
        (request(), snapshot(Status="creating"), None, SETTINGS, SnapshotNotAvailableError),
        (request(), snapshot(), cluster(), SETTINGS, TargetExistsError),
        (
            request("prod-db", replace=True),
            snapshot(),
            cluster("prod-db"),
            SETTINGS,
            ProtectedClusterError,
        ),
        (
            request(replace=True),
            snapshot(),
            cluster(DeletionProtection=True),
            SETTINGS,
            ProtectedClusterError,
        ),
        (
            request(),
            snapshot(ELSEWHERE, StorageEncrypted=True),
            None,
            SETTINGS.model_copy(update={"kms_key_id": None}),
            ConfigurationError,
        ),
        (request("x" * 62), snapshot(), None, SETTINGS, InvalidRequestError),
    ],
)
def test_a_plan_that_cannot_be_carried_out_is_refused(
    req: RestoreRequest,
    facts: SnapshotFacts,
    target: dict[str, Any] | None,
    settings: PipelineSettings,
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        build_plan(req, OP, snapshot=facts, target=target, settings=settings)


def test_check_plan_refuses_a_stored_plan_the_world_no_longer_allows() -> None:
    new = build_plan(request(), OP, snapshot=snapshot(), target=None, settings=SETTINGS)
    replacing = build_plan(
        request(replace=True), OP, snapshot=snapshot(), target=cluster(), settings=SETTINGS
    )
    same = snapshot().description

    check_plan(new, request(), snapshot=same, target=None, settings=SETTINGS)
    check_plan(replacing, request(replace=True), snapshot=same, target=None, settings=SETTINGS)
    with pytest.raises(SnapshotNotFoundError):
        check_plan(new, request(), snapshot=None, target=None, settings=SETTINGS)
    with pytest.raises(SnapshotNotAvailableError):
        check_plan(
            new, request(), snapshot={**same, "Status": "deleting"}, target=None, settings=SETTINGS
        )
    with pytest.raises(TargetExistsError):
        check_plan(new, request(), snapshot=same, target=cluster(), settings=SETTINGS)
    with pytest.raises(ProtectedClusterError):
        check_plan(
            replacing,
            request(replace=True),
            snapshot=same,
            target=cluster(TagList=[{"Key": "aurora-restore:protected", "Value": "true"}]),
            settings=SETTINGS,
        )


def test_a_target_with_custom_endpoints_is_not_swapped_since_they_would_stay_behind() -> None:
    with_endpoints = cluster(
        CustomEndpoints=["reports.cluster-custom-x.us-east-1.rds.amazonaws.com"]
    )
    with pytest.raises(InvalidRequestError, match=r"custom endpoints .*--in-place"):
        build_plan(
            request(replace=True), OP, snapshot=snapshot(), target=with_endpoints, settings=SETTINGS
        )
    in_place = build_plan(
        request(replace=True, in_place=True),
        OP,
        snapshot=snapshot(),
        target=with_endpoints,
        settings=SETTINGS,
    )
    assert in_place.delete_target
