"""AWS faults in every stage of a restore on the local stack: throttling is retried to success; a
permanent error fails the operation visibly (thread, card, audit), releases the target and never
leaves a cluster deleted without its final snapshot."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from local_stack.scenario import APPROVE, Driver
from local_stack.stack import LocalStack
from pipeline.models import OperationStatus, Stage, StageStatus
from pipeline.store import OperationStore
from tests.e2e.flows import click, wait_for_thread
from tests.reliability.outcomes import assert_one_consistent_outcome, new_operation
from tests.reliability.world import clusters, existing_cluster

pytestmark = pytest.mark.e2e
# (RDS action, calls let through first, the state whose call it throttles). Twice each: more than
# the SDK's own attempts (AWS_MAX_ATTEMPTS=2), so the state machine's Retry must act. A throttled
# stage runs again, which is why the checks' describes come after two calls.
THROTTLE_PLAN = [
    ("copy_db_cluster_snapshot", 0, "CopySnapshot"),
    ("describe_db_cluster_snapshots", 2, "CheckCopy"),
    ("delete_db_cluster", 0, "DeleteTarget"),
    ("describe_db_clusters", 3, "CheckDelete"),  # SnapshotTarget and two DeleteTarget runs first
    ("restore_db_cluster_from_snapshot", 0, "RestoreCluster"),
    ("modify_db_cluster", 0, "SetupDatabase"),  # the master password reset
    ("delete_db_cluster_snapshot", 0, "DeleteCopy"),
]
THROTTLES = 2


def throttled_states(driver: Driver, operation_id: str) -> set[str]:
    """The states whose Lambda invocation failed with AWS throttling (from the execution history)."""
    arn = driver.execution(operation_id)["executionArn"]
    events = driver.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    states, state = set(), ""
    for event in events:
        if event["type"] == "TaskStateEntered":
            state = event["stateEnteredEventDetails"]["name"]
        details = event.get("lambdaFunctionFailedEventDetails", {})
        if details.get("error") == "AwsThrottledError":
            states.add(state)
    return states


def assert_no_cluster_lost_without_final_snapshot(
    driver: Driver, before: set[str], after: set[str], operation_id: str
) -> None:
    for cluster in before - after:
        final = driver.rds.describe_db_cluster_snapshots(
            DBClusterSnapshotIdentifier=f"{cluster}-final-{operation_id}"
        )["DBClusterSnapshots"]
        assert final and final[0]["Status"] == "available", f"{cluster} deleted without a snapshot"


def test_throttling_in_every_stage_is_retried_to_success(
    stack: LocalStack, driver: Driver, operations: OperationStore
) -> None:
    seed = stack.info["seed"]
    target = existing_cluster(stack, "throttled-target")
    operation_id = new_operation(
        driver, f"{seed['cross_region_snapshot_arn']} {target} --replace --in-place"
    )
    for action, after, _ in THROTTLE_PLAN:  # armed once the plan is made: approval's work is next
        stack.faults.throttle(action, THROTTLES, after=after)

    click(driver, operation_id, APPROVE, stack.info["users"]["approver"])
    operation = assert_one_consistent_outcome(driver, operations, operation_id)

    assert operation.status == OperationStatus.SUCCEEDED, operation.error
    assert throttled_states(driver, operation_id) == {state for _, _, state in THROTTLE_PLAN}
    assert {stage: record.status for stage, record in operation.stages.items()} == {
        stage: StageStatus.SUCCEEDED
        for stage in Stage
        if stage not in (Stage.SWAP, Stage.RETENTION, Stage.START_KEPT)  # no swap, no rollback
    }
    # Retried calls made nothing twice: one cluster with its instance, one final snapshot, and
    # the intermediate copy gone.
    cluster = driver.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0]
    assert [m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]] == [f"{target}-1"]
    snapshots = {
        s["DBClusterSnapshotIdentifier"]
        for s in driver.rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
        if operation_id in s["DBClusterSnapshotIdentifier"]
    }
    safety = f"{target}-before-{operation_id.rsplit('-', 1)[-1]}"
    assert snapshots == {f"{target}-final-{operation_id}"}
    assert driver.rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=safety)[
        "DBClusterSnapshots"
    ]
    texts = wait_for_thread(driver, operation_id, "Restore succeeded")
    assert not [text for text in texts if "failed" in text.lower()]


def test_throttling_during_the_swap_is_retried_to_success(
    stack: LocalStack, driver: Driver, operations: OperationStore
) -> None:
    seed = stack.info["seed"]
    target = existing_cluster(stack, "throttled-swap")
    operation_id = new_operation(driver, f"{seed['snapshot']} {target} --replace")
    for action in ("modify_db_instance", "stop_db_cluster"):
        stack.faults.throttle(action, THROTTLES)

    click(driver, operation_id, APPROVE, stack.info["users"]["approver"])
    operation = assert_one_consistent_outcome(driver, operations, operation_id)

    assert operation.status == OperationStatus.SUCCEEDED, operation.error
    assert throttled_states(driver, operation_id) == {"SwapNames"}
    assert operation.stages[Stage.SWAP].status == StageStatus.SUCCEEDED
    cluster = driver.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0]
    assert [m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]] == [f"{target}-1"]
    kept = f"{target}-old-{operation_id.rsplit('-', 1)[-1]}"
    described = driver.rds.describe_db_clusters(DBClusterIdentifier=kept)["DBClusters"][0]
    assert described["Status"] == "stopped"


@dataclass(frozen=True)
class PermanentFault:
    action: str
    code: str
    message: str
    stage: Stage
    cross_region: bool = False
    replace: bool = False
    in_place: bool = False


PERMANENT_FAULTS = [
    PermanentFault(
        "copy_db_cluster_snapshot",
        "KMSKeyNotAccessibleFault",
        "The KMS key is not accessible",
        Stage.COPY_SNAPSHOT,
        cross_region=True,
    ),
    PermanentFault(
        "delete_db_cluster",
        "InvalidParameterCombination",
        "FinalDBSnapshotIdentifier is not allowed here",
        Stage.DELETE_TARGET,
        replace=True,
        in_place=True,
    ),
    PermanentFault(
        "restore_db_cluster_from_snapshot",
        "InsufficientDBClusterCapacityFault",
        "Not enough capacity for the requested cluster",
        Stage.RESTORE_CLUSTER,
        replace=True,
    ),
    PermanentFault(
        "modify_db_cluster",
        "InvalidParameterValue",
        "The master password does not meet the policy",
        Stage.SETUP_DATABASE,
    ),
    PermanentFault(
        "delete_db_cluster_snapshot",
        "InvalidParameterValue",
        "The snapshot cannot be deleted",
        Stage.DELETE_COPY,
        cross_region=True,
    ),
]


@pytest.mark.parametrize("fault", PERMANENT_FAULTS, ids=[f.stage.value for f in PERMANENT_FAULTS])
def test_a_permanent_failure_in_a_stage_fails_the_restore_visibly_and_safely(
    stack: LocalStack, driver: Driver, operations: OperationStore, fault: PermanentFault
) -> None:
    seed = stack.info["seed"]
    target = f"failing-{fault.stage.value.replace('_', '-')}"
    if fault.replace:
        existing_cluster(stack, target)
    snapshot = seed["cross_region_snapshot_arn"] if fault.cross_region else seed["snapshot"]
    operation_id = new_operation(
        driver,
        f"{snapshot} {target}"
        + (" --replace" if fault.replace else "")
        + (" --in-place" if fault.in_place else ""),
    )
    before = clusters(stack)
    stack.faults.fail(fault.action, fault.code, fault.message)

    click(driver, operation_id, APPROVE, stack.info["users"]["approver"])
    operation = assert_one_consistent_outcome(driver, operations, operation_id)

    assert stack.faults.injected[f"fail:{fault.action}"] == 1
    assert operation.status == OperationStatus.FAILED
    assert operation.stages[fault.stage].status == StageStatus.FAILED
    assert fault.code in (operation.error or "") or fault.stage == Stage.SETUP_DATABASE
    # The thread says which stage failed and why, then that the restore failed.
    texts = wait_for_thread(driver, operation_id, "Restore failed")
    stage_failure = [t for t in texts if fault.stage.label in t and "failed" in t.lower()]
    assert stage_failure, texts
    assert any(fault.code in t or "master password" in t for t in stage_failure), stage_failure
    # Audit: the stage started, failed, then the operation failed; nothing after.
    actions = [event.action for event in operations.audit_events(operation_id)]
    assert actions.index(f"{fault.stage}.started") < actions.index(f"{fault.stage}.failed")
    assert actions.index(f"{fault.stage}.failed") < actions.index("operation.failed")
    assert actions[-2:] == ["operation.failed", "notify.failed"], actions
    assert_no_cluster_lost_without_final_snapshot(driver, before, clusters(stack), operation_id)
    assert all(record.status != StageStatus.STARTED for record in operation.stages.values()), (
        operation.stages
    )


def test_a_permanent_failure_after_the_swap_committed_is_reported_not_undone(
    stack: LocalStack, driver: Driver, operations: OperationStore
) -> None:
    """The first instance rename comes after the new cluster serves the target's name: undoing
    then would cost a second outage, so the restore succeeds and the thread says what is left."""
    seed = stack.info["seed"]
    target = existing_cluster(stack, "failing-swap")
    operation_id = new_operation(driver, f"{seed['snapshot']} {target} --replace")
    stack.faults.fail("modify_db_instance", "InvalidParameterCombination", "cannot be renamed")

    click(driver, operation_id, APPROVE, stack.info["users"]["approver"])
    operation = assert_one_consistent_outcome(driver, operations, operation_id)

    assert stack.faults.injected["fail:modify_db_instance"] == 1
    assert operation.status == OperationStatus.SUCCEEDED, operation.error
    restored = driver.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0]
    tags = {tag["Key"]: tag["Value"] for tag in restored["TagList"]}
    assert tags["aurora-restore:operation-id"] == operation_id  # the new cluster serves
    texts = wait_for_thread(driver, operation_id, "Restore succeeded")
    assert any("Not finished, left for you" in t and "cannot be renamed" in t for t in texts)
