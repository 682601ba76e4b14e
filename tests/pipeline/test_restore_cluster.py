"""Stages 6 and 7: restore the cluster with the snapshot's engine and the configured network, wait
until it is available, create the instances, and wait for all of them."""

from __future__ import annotations

import pytest

from local_stack.rds_rules import RdsRules
from pipeline.context import PipelineContext
from pipeline.errors import FatalError, ResourceBusyError, ResourceFailedError, TargetExistsError
from pipeline.models import Stage, StageStatus
from pipeline.rds import OPERATION_TAG, REQUESTER_TAG, describe_cluster, describe_instance, tags_of
from pipeline.stages.plan import validate_request
from pipeline.stages.restore_cluster import (
    check_cluster,
    check_restore,
    create_instances,
    restore_cluster,
)
from tests.pipeline.conftest import (
    ENGINE,
    ENGINE_VERSION,
    PARAMETER_GROUP,
    SECURITY_GROUP,
    SUBNET_GROUP,
    Operations,
    RdsSeed,
)


@pytest.fixture
def restore_op(ctx: PipelineContext, seed: RdsSeed, operations: Operations) -> str:
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    op_id = operations.create(
        "prod-snap-1", "staging-db", instance_count=2, instance_class="db.r6g.xlarge"
    )
    validate_request(op_id, ctx)
    return op_id


def _restore_with_instances(ctx: PipelineContext, op_id: str) -> None:
    restore_cluster(op_id, ctx)
    assert check_cluster(op_id, 0, ctx)["ready"]
    create_instances(op_id, ctx)


def test_restore_creates_the_cluster_then_its_instances_once_it_is_available(
    ctx: PipelineContext, seed: RdsSeed, restore_op: str
) -> None:
    assert restore_cluster(restore_op, ctx) == {"cluster_id": "staging-db", "instance_ids": []}
    assert not {"staging-db-1", "staging-db-2"} & seed.instance_ids()
    assert check_cluster(restore_op, 0, ctx) == {"ready": True, "attempt": 1}

    result = create_instances(restore_op, ctx)

    assert result == {"cluster_id": "staging-db", "instance_ids": ["staging-db-1", "staging-db-2"]}
    rds = ctx.clients.rds()
    cluster = describe_cluster(rds, "staging-db")
    assert cluster is not None
    assert (cluster["Engine"], cluster["EngineVersion"]) == (ENGINE, ENGINE_VERSION)
    assert cluster["DBSubnetGroup"] == SUBNET_GROUP
    assert cluster["DBClusterParameterGroup"] == PARAMETER_GROUP
    assert [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]] == [SECURITY_GROUP]
    assert cluster["CopyTagsToSnapshot"] is True
    assert tags_of(cluster) == {OPERATION_TAG: restore_op, REQUESTER_TAG: "U_REQ"}
    for instance_id in result["instance_ids"]:
        instance = describe_instance(rds, instance_id)
        assert instance is not None
        assert instance["DBClusterIdentifier"] == "staging-db"
        assert instance["DBInstanceClass"] == "db.r6g.xlarge"
        assert tags_of(instance)[OPERATION_TAG] == restore_op
    assert ctx.store.get(restore_op).resources["instances"] == "staging-db-1, staging-db-2"


def test_check_cluster_waits_while_the_restored_cluster_is_not_available(
    ctx: PipelineContext, seed: RdsSeed, restore_op: str
) -> None:
    restore_cluster(restore_op, ctx)
    seed.set_cluster_status("staging-db", "creating")

    assert check_cluster(restore_op, 0, ctx) == {"ready": False, "attempt": 1}
    # RDS refuses instances in a cluster that is not available: busy, never created.
    with pytest.raises(ResourceBusyError) as busy:
        create_instances(restore_op, ctx)
    assert (busy.value.aws_error or "").startswith("InvalidDBClusterStateFault")
    assert not {"staging-db-1", "staging-db-2"} & seed.instance_ids()

    seed.set_cluster_status("staging-db", "available")
    assert check_cluster(restore_op, 1, ctx) == {"ready": True, "attempt": 2}


@pytest.mark.parametrize("status", ["incompatible-restore", "failed", "restore-error"])
def test_check_cluster_raises_on_a_failure_status(
    ctx: PipelineContext, seed: RdsSeed, restore_op: str, status: str
) -> None:
    restore_cluster(restore_op, ctx)
    seed.set_cluster_status("staging-db", status)

    with pytest.raises(ResourceFailedError, match=f"cluster `staging-db` is in status `{status}`"):
        check_cluster(restore_op, 3, ctx)
    record = ctx.store.get(restore_op).stages[Stage.RESTORE_CLUSTER]
    assert record.status == StageStatus.FAILED and status in record.detail


def test_restore_again_skips_what_exists(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations, restore_op: str
) -> None:
    _restore_with_instances(ctx, restore_op)
    ctx.clients.rds().delete_db_instance(DBInstanceIdentifier="staging-db-2")  # a half-done run
    before = seed.instance_ids() | {"staging-db-2"}

    restore_cluster(restore_op, ctx)
    create_instances(restore_op, ctx)

    assert seed.instance_ids() == before
    assert operations.audit_actions(restore_op).count("restore_cluster.started") == 1


def test_restore_refuses_a_cluster_this_operation_did_not_create(
    ctx: PipelineContext, seed: RdsSeed, restore_op: str
) -> None:
    seed.cluster("staging-db")  # appeared after approval
    with pytest.raises(TargetExistsError, match="not created by operation"):
        restore_cluster(restore_op, ctx)
    with pytest.raises(TargetExistsError, match="not created by operation"):
        create_instances(restore_op, ctx)
    assert not {"staging-db-1", "staging-db-2"} & seed.instance_ids()


def test_check_restore_waits_for_every_instance(
    ctx: PipelineContext, seed: RdsSeed, restore_op: str
) -> None:
    _restore_with_instances(ctx, restore_op)
    seed.set_instance_status("staging-db-2", "creating")

    assert check_restore(restore_op, 0, ctx) == {"ready": False, "attempt": 1}

    seed.set_instance_status("staging-db-2", "available")
    assert check_restore(restore_op, 1, ctx) == {"ready": True, "attempt": 2}
    stored = ctx.store.get(restore_op)
    assert stored.stages[Stage.RESTORE_CLUSTER].status == StageStatus.SUCCEEDED
    assert stored.resources["cluster"] == "staging-db"
    assert stored.resources["endpoint"].startswith("staging-db.cluster-")


@pytest.mark.parametrize(
    ("kind", "resource", "status"),
    [
        ("cluster", "staging-db", "incompatible-restore"),
        ("cluster", "staging-db", "inaccessible-encryption-credentials"),
        ("cluster", "staging-db", "failed"),
        ("instance", "staging-db-2", "incompatible-parameters"),
        ("instance", "staging-db-1", "storage-full"),
        ("instance", "staging-db-1", "failed"),
    ],
)
def test_check_restore_raises_on_failure_statuses(
    ctx: PipelineContext, seed: RdsSeed, restore_op: str, kind: str, resource: str, status: str
) -> None:
    _restore_with_instances(ctx, restore_op)
    if kind == "cluster":
        seed.set_cluster_status(resource, status)
    else:
        seed.set_instance_status(resource, status)

    with pytest.raises(ResourceFailedError, match=f"{kind} `{resource}` is in status `{status}`"):
        check_restore(restore_op, 4, ctx)
    record = ctx.store.get(restore_op).stages[Stage.RESTORE_CLUSTER]
    assert record.status == StageStatus.FAILED and status in record.detail


def test_a_restore_at_the_accounts_cluster_quota_fails_saying_what_to_do(
    ctx: PipelineContext, seed: RdsSeed, rds_rules: RdsRules, restore_op: str
) -> None:
    rds_rules.quotas = {"DBClusters": len(seed.backend().clusters)}  # the account is at its quota

    with pytest.raises(FatalError) as refused:
        restore_cluster(restore_op, ctx)

    assert refused.value.aws_error.startswith("DBClusterQuotaExceededFault")
    assert "delete clusters you no longer need or raise the quota" in refused.value.message
    assert describe_cluster(ctx.clients.rds(), "staging-db") is None


def test_instances_past_the_accounts_instance_quota_fail_saying_what_to_do(
    ctx: PipelineContext, seed: RdsSeed, rds_rules: RdsRules, restore_op: str
) -> None:
    restore_cluster(restore_op, ctx)
    assert check_cluster(restore_op, 0, ctx)["ready"]
    rds_rules.quotas = {"DBInstances": len(seed.backend().databases) + 1}  # room for one of two

    with pytest.raises(FatalError) as refused:
        create_instances(restore_op, ctx)

    assert refused.value.aws_error.startswith("InstanceQuotaExceeded")
    assert "ask for fewer with --instances" in refused.value.message
