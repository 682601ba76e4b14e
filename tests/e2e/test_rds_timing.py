"""With RDS statuses taking (scaled) time, as on AWS, a restore waits for the restored cluster to be
available before it creates instances: RDS refuses instances before, for longer than the state
machine retries a busy resource."""

from __future__ import annotations

import pytest

from local_stack.rds_rules import CLUSTER_CREATE_SECONDS
from local_stack.scenario import APPROVE, Driver
from local_stack.stack import LocalStack, StackOptions
from pipeline.models import OperationStatus
from pipeline.store import OperationStore
from tests.e2e.flows import click, request_restore

pytestmark = pytest.mark.e2e

TIME_SCALE = 0.01  # the stack's default: a 20-minute restore lasts 12 s, a 30 s Wait 1 s


@pytest.fixture
def stack_options() -> StackOptions:
    return StackOptions(time_scale=TIME_SCALE)


def _entered(driver: Driver, operation_id: str, state: str) -> int:
    arn = driver.info["state_machine_arn"].replace(":stateMachine:", ":execution:")
    pages = driver.sfn.get_paginator("get_execution_history").paginate(
        executionArn=f"{arn}:{operation_id}"
    )
    return sum(
        1
        for page in pages
        for event in page["events"]
        if event.get("stateEnteredEventDetails", {}).get("name") == state
    )


def test_the_restore_waits_for_an_available_cluster_before_creating_instances(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    seed = driver.info["seed"]
    operation_id = request_restore(driver, f"{seed['snapshot']} staging-timed --instances 2")
    click(driver, operation_id, APPROVE, driver.info["users"]["approver"])

    execution = driver.wait_for_execution_end(operation_id, timeout=180)

    operation = operations.get(operation_id)
    assert execution["status"] == "SUCCEEDED", operation.error
    assert operation.status == OperationStatus.SUCCEEDED
    # The cluster stayed `creating` for about CLUSTER_CREATE_SECONDS * TIME_SCALE: checked more
    # than once, one Wait (at least a second) apart, before any instance was asked for.
    waited = CLUSTER_CREATE_SECONDS * TIME_SCALE
    assert _entered(driver, operation_id, "CheckCluster") >= min(3, int(waited))
    assert _entered(driver, operation_id, "CreateInstances") == 1
    cluster = driver.rds.describe_db_clusters(DBClusterIdentifier="staging-timed")["DBClusters"][0]
    assert cluster["Status"] == "available"
    assert sorted(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]) == [
        "staging-timed-1",
        "staging-timed-2",
    ]
