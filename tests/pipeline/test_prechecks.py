"""ValidateRequest refuses, before approval, what AWS would refuse later (pipeline/prechecks.py):
against moto with the local stack's RDS rules (orderable classes, quotas, engine versions)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_stack.rds_rules import RdsRules
from pipeline.context import PipelineContext
from pipeline.errors import (
    AccountQuotaError,
    ConfigurationError,
    InstanceClassNotOrderableError,
    KmsKeyUnusableError,
    ParameterGroupMismatchError,
    SnapshotOutOfScopeError,
)
from pipeline.models import Stage, StageStatus
from pipeline.plan import resolve_plan
from pipeline.prechecks import in_scope
from pipeline.stages.plan import validate_request
from tests.pipeline.conftest import SOURCE_REGION, Operations, RdsSeed

PATTERNS = ["prod-*", "rds:prod-*"]


class Validate:
    """Creates an operation and validates it, its plan resolved by the stage or, first, by the
    bot: both paths of ValidateRequest run the checks."""

    def __init__(self, ctx: PipelineContext, operations: Operations, stored: bool) -> None:
        self.ctx, self.operations, self.stored = ctx, operations, stored
        self.last = ""

    def __call__(self, snapshot: str, target: str = "staging-db", **asked: Any) -> str:
        self.last = op_id = self.operations.create(snapshot, target, approve=False, **asked)
        if self.stored:
            request = self.ctx.store.get(op_id).request
            self.ctx.store.update(op_id, plan=resolve_plan(request, op_id, self.ctx))
        validate_request(op_id, self.ctx)
        return op_id

    def failure(self) -> str:
        """The failed stage's detail, what the Slack thread shows."""
        record = self.ctx.store.get(self.last).stages[Stage.VALIDATE]
        assert record.status == StageStatus.FAILED
        return record.detail


@pytest.fixture(params=["resolved here", "stored by the bot"])
def validate(
    request: pytest.FixtureRequest, ctx: PipelineContext, operations: Operations
) -> Validate:
    return Validate(ctx, operations, stored=request.param == "stored by the bot")


@pytest.fixture
def snapshot(seed: RdsSeed) -> str:
    seed.cluster("prod-db")
    seed.snapshot("prod-db", "prod-snap-1")
    return "prod-snap-1"


def test_a_restore_that_aws_accepts_is_validated(
    validate: Validate, ctx: PipelineContext, snapshot: str
) -> None:
    op_id = validate(snapshot, instance_class="db.serverless", instance_count=2)
    assert ctx.store.get(op_id).stages[Stage.VALIDATE].status == StageStatus.SUCCEEDED


def test_an_instance_class_the_engine_version_lacks_is_refused_with_classes_it_has(
    validate: Validate, snapshot: str
) -> None:
    with pytest.raises(InstanceClassNotOrderableError) as refused:
        validate(snapshot, instance_class="db.r8g.large")  # Aurora PostgreSQL 15 from 15.8

    message = refused.value.message
    assert "`db.r8g.large` is not offered for aurora-postgresql 15.4 in us-east-1" in message
    assert "--instance-class one of `db.r5.large`, `db.r6g.large`" in message
    assert message in validate.failure()


def test_the_cluster_quota_counts_the_new_cluster_even_when_replacing(
    validate: Validate, seed: RdsSeed, rds_rules: RdsRules, snapshot: str
) -> None:
    seed.cluster("staging-db")
    rds_rules.quotas = {"DBClusters": len(seed.cluster_ids())}  # at the quota, target included

    with pytest.raises(AccountQuotaError) as refused:
        validate(snapshot, replace=True)

    assert "needs 1 more DB cluster, and the account's `DBClusters` quota in us-east-1 has 2 " in (
        refused.value.message
    )
    assert "2 of 2 in use: the account has as many DB clusters" in refused.value.message


@pytest.mark.parametrize(("room", "refused"), [(1, True), (2, False)])
def test_every_instance_asked_for_needs_room_under_the_instance_quota(
    validate: Validate, seed: RdsSeed, rds_rules: RdsRules, snapshot: str, room: int, refused: bool
) -> None:
    rds_rules.quotas = {"DBInstances": len(seed.instance_ids()) + room}
    if not refused:
        validate(snapshot, instance_count=2)
        return
    with pytest.raises(AccountQuotaError, match=r"needs 2 more DB instances.*ask for fewer"):
        validate(snapshot, instance_count=2)


@pytest.mark.parametrize(("room", "refused"), [(1, True), (2, False)])
def test_a_copy_and_a_final_snapshot_need_room_for_two_manual_snapshots(
    validate: Validate,
    seed: RdsSeed,
    rds_rules: RdsRules,
    target_kms_key: str,
    room: int,
    refused: bool,
) -> None:
    seed.cluster("prod-db", region=SOURCE_REGION)
    seed.snapshot("prod-db", "prod-snap-1", region=SOURCE_REGION)
    seed.cluster("staging-db")
    manual = [s for s in seed.backend().cluster_snapshots.values() if s.snapshot_type == "manual"]
    rds_rules.quotas = {"ManualClusterSnapshots": len(manual) + room}
    asked = {"source_region": SOURCE_REGION, "replace": True}
    if not refused:
        validate("prod-snap-1", **asked)
        return
    with pytest.raises(AccountQuotaError, match="needs 2 more manual cluster snapshots"):
        validate("prod-snap-1", **asked)


@pytest.mark.parametrize(("room", "refused"), [(2, True), (3, False)])
def test_an_in_place_replace_needs_no_new_cluster_but_three_snapshots(
    validate: Validate,
    seed: RdsSeed,
    rds_rules: RdsRules,
    target_kms_key: str,
    room: int,
    refused: bool,
) -> None:
    seed.cluster("prod-db", region=SOURCE_REGION)
    seed.snapshot("prod-db", "prod-snap-1", region=SOURCE_REGION)
    seed.cluster("staging-db")
    manual = [s for s in seed.backend().cluster_snapshots.values() if s.snapshot_type == "manual"]
    # At the cluster quota: the target is deleted before its replacement is restored.
    rds_rules.quotas = {
        "DBClusters": len(seed.cluster_ids()),
        "ManualClusterSnapshots": len(manual) + room,
    }
    asked = {"source_region": SOURCE_REGION, "replace": True, "in_place": True}
    if not refused:
        validate("prod-snap-1", **asked)
        return
    # The copy, the safety snapshot taken first, the final snapshot of the deletion.
    with pytest.raises(AccountQuotaError, match="needs 3 more manual cluster snapshots"):
        validate("prod-snap-1", **asked)


def test_a_parameter_group_of_another_family_is_refused_naming_both(
    validate: Validate, ctx: PipelineContext, snapshot: str
) -> None:
    ctx.clients.rds().create_db_cluster_parameter_group(
        DBClusterParameterGroupName="pg14-params",
        DBParameterGroupFamily="aurora-postgresql14",
        Description="for 14",
    )
    ctx.settings = ctx.settings.model_copy(update={"db_cluster_parameter_group": "pg14-params"})

    with pytest.raises(ParameterGroupMismatchError) as refused:
        validate(snapshot)

    assert "`pg14-params`" in refused.value.message
    assert "family `aurora-postgresql14`" in refused.value.message
    assert "aurora-postgresql 15.4 needs `aurora-postgresql15`" in refused.value.message


def test_a_parameter_group_that_does_not_exist_is_a_configuration_error(
    validate: Validate, ctx: PipelineContext, snapshot: str
) -> None:
    ctx.settings = ctx.settings.model_copy(update={"db_cluster_parameter_group": "gone-params"})
    with pytest.raises(ConfigurationError, match=r"`gone-params`.*does not exist in us-east-1"):
        validate(snapshot)


def test_a_snapshot_outside_the_deployments_patterns_is_refused_naming_them(
    validate: Validate, ctx: PipelineContext, seed: RdsSeed, snapshot: str
) -> None:
    ctx.settings = ctx.settings.model_copy(update={"snapshot_patterns": PATTERNS})
    validate(snapshot)  # prod-snap-1 matches prod-*
    seed.snapshot("prod-db", "staging-snap")

    with pytest.raises(SnapshotOutOfScopeError) as refused:
        validate("staging-snap", target="dev-db")

    assert "`staging-snap` is outside the snapshots this deployment may restore from" in (
        refused.value.message
    )
    assert "(`prod-*`, `rds:prod-*`)" in refused.value.message
    assert "rds.snapshot_patterns must include it" in refused.value.message


@pytest.mark.parametrize(
    ("snapshot_id", "patterns", "matches"),
    [
        ("prod-snap-1", ["prod-*"], True),
        ("Prod-snap-1", ["prod-*"], False),  # IAM compares ARNs case-sensitively
        ("rds:prod-db-2026-01-01-03-00", ["rds:prod-*"], True),
        ("rds:prod-db-2026-01-01-03-00", ["prod-*"], False),
        ("prod-a", ["prod-?"], True),
        ("prod-ab", ["prod-?"], False),
        ("prod-[ab]", ["prod-[ab]"], True),  # no character classes in IAM
        ("prod-a", ["prod-[ab]"], False),
        ("arn:aws:rds:eu-west-1:111122223333:cluster-snapshot:prod-x", ["prod-*"], True),
        ("staging-x", [], False),
    ],
)
def test_snapshot_names_match_as_iam_matches_arns(
    snapshot_id: str, patterns: list[str], matches: bool
) -> None:
    assert in_scope(snapshot_id, patterns) is matches


@pytest.fixture
def encrypted_snapshot(seed: RdsSeed) -> str:
    """An encrypted snapshot of another region: the copy uses the settings' (target) key."""
    seed.cluster("prod-db", region=SOURCE_REGION, encrypted=True)
    seed.snapshot("prod-db", "prod-snap-1", region=SOURCE_REGION)
    return "prod-snap-1"


def test_an_encrypted_restore_with_an_enabled_key_is_validated(
    validate: Validate, encrypted_snapshot: str
) -> None:
    validate(encrypted_snapshot, source_region=SOURCE_REGION)


@pytest.mark.parametrize(
    ("disable", "state", "advice"),
    [
        (lambda kms, key: kms.disable_key(KeyId=key), "Disabled", "enable it"),
        (
            lambda kms, key: kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7),
            "PendingDeletion",
            "cancel its deletion",
        ),
    ],
)
def test_a_key_that_is_not_enabled_is_refused_with_its_state(
    validate: Validate,
    ctx: PipelineContext,
    encrypted_snapshot: str,
    target_kms_key: str,
    disable: Any,
    state: str,
    advice: str,
) -> None:
    kms = ctx.clients.client("kms")
    disable(kms, target_kms_key.rsplit("/", 1)[-1])

    with pytest.raises(KmsKeyUnusableError) as refused:
        validate(encrypted_snapshot, source_region=SOURCE_REGION)

    assert f"`{target_kms_key}`" in refused.value.message
    assert f"is `{state}`: {advice}" in refused.value.message


def test_a_key_that_does_not_exist_is_refused(
    validate: Validate, ctx: PipelineContext, encrypted_snapshot: str
) -> None:
    missing = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    ctx.settings = ctx.settings.model_copy(update={"kms_key_id": missing})
    with pytest.raises(KmsKeyUnusableError, match="which the restore needs, does not exist"):
        validate(encrypted_snapshot, source_region=SOURCE_REGION)


def test_a_same_region_snapshot_under_the_default_rds_key_is_checked_against_that_key(
    validate: Validate, ctx: PipelineContext, seed: RdsSeed
) -> None:
    seed.cluster("prod-db", encrypted=True)  # no KmsKeyId: the Region's aws/rds key
    seed.snapshot("prod-db", "prod-snap-1")
    validate("prod-snap-1")
    kms = ctx.clients.client("kms")
    kms.disable_key(KeyId=kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["KeyId"])

    with pytest.raises(KmsKeyUnusableError, match="is `Disabled`"):
        validate("prod-snap-1", target="dev-db")


def test_a_key_the_pipeline_may_not_describe_is_refused_saying_which_setting_lists_keys(
    validate: Validate, ctx: PipelineContext, encrypted_snapshot: str
) -> None:
    deny = {"Effect": "Deny", "Principal": "*", "Action": "kms:DescribeKey", "Resource": "*"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [deny]})
    key = ctx.clients.client("kms").create_key(Policy=policy)["KeyMetadata"]["Arn"]
    ctx.settings = ctx.settings.model_copy(update={"kms_key_id": key})

    with pytest.raises(KmsKeyUnusableError) as refused:
        validate(encrypted_snapshot, source_region=SOURCE_REGION)

    assert f"`{key}`" in refused.value.message
    assert "rds.kms_key_arn or rds.source_kms_key_arns" in refused.value.message
