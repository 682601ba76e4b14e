"""The intermediate copy of a cross-region restore never outlives the restore: a restore that
fails after the copy, whose copy wait gives up, or that is cancelled while the copy is still
being made, deletes it (RDS cancels a copy in progress when its target snapshot is deleted), and
the thread says so."""

from __future__ import annotations

import pytest

from local_stack.scenario import APPROVE, Driver, wait_for
from local_stack.stack import LocalStack, StackOptions
from pipeline.models import OperationStatus, Stage, StageStatus
from pipeline.store import OperationStore
from tests.e2e.flows import click, request_restore, wait_for_thread

pytestmark = pytest.mark.e2e

TIME_SCALE = 0.01  # a 15-minute copy lasts 9 s: long enough to cancel it while it is copying


# The copy loop's budget, small: 1 check for the seeded 1 GiB copy, then on while its progress
# moves (a 9 s copy moves every check), 3 checks without progress end it.
COPY_BUDGET = {
    "AURORA_RESTORE_COPY_WAIT_BASE_SECONDS": "0",
    "AURORA_RESTORE_COPY_WAIT_SECONDS_PER_GIB": "30",
    "AURORA_RESTORE_COPY_STALL_ATTEMPTS": "3",
    "AURORA_RESTORE_COPY_WAIT_MAX_ATTEMPTS": "60",
}


@pytest.fixture
def stack_options() -> StackOptions:
    return StackOptions(time_scale=TIME_SCALE, extra_env=COPY_BUDGET)


def _copies_of(driver: Driver, operation_id: str) -> list[dict]:
    snapshots = driver.rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
    return [s for s in snapshots if s["DBClusterSnapshotIdentifier"] == f"{operation_id}-copy"]


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


def test_a_restore_that_fails_after_the_copy_deletes_the_copy(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    arn = driver.info["seed"]["cross_region_snapshot_arn"]
    stack.faults.restored_cluster_status("incompatible-parameters")
    operation_id = request_restore(driver, f"{arn} dr-failing")
    click(driver, operation_id, APPROVE, driver.info["users"]["approver"])

    execution = driver.wait_for_execution_end(operation_id, timeout=180)

    assert execution["status"] == "FAILED"
    operation = operations.get(operation_id)
    assert operation.status == OperationStatus.FAILED
    assert operation.error and "incompatible-parameters" in operation.error  # the error stands
    # The copy outran its 1-check size budget on progress alone, and was then restored from.
    assert operation.stages[Stage.COPY_SNAPSHOT].status == StageStatus.SUCCEEDED
    assert _entered(driver, operation_id, "CheckCopy") > 1
    assert _copies_of(driver, operation_id) == []
    texts = wait_for_thread(driver, operation_id, "Restore failed")
    failed = next(text for text in texts if "Restore failed" in text)
    assert "incompatible-parameters" in failed
    assert f"Deleted the intermediate copy `{operation_id}-copy`" in failed


def test_a_cancel_while_the_copy_is_in_progress_cancels_and_deletes_it(
    driver: Driver, operations: OperationStore
) -> None:
    arn = driver.info["seed"]["cross_region_snapshot_arn"]
    operation_id = request_restore(driver, f"{arn} dr-cancelled")
    click(driver, operation_id, APPROVE, driver.info["users"]["approver"])
    wait_for(
        "the copy to be in progress",
        lambda: [s for s in _copies_of(driver, operation_id) if s["Status"] == "copying"],
        timeout=60,
    )

    reply, _ = driver.request(driver.info["users"]["requester"], f"cancel {operation_id}")
    assert reply.status == 200
    execution = driver.wait_for_execution_end(operation_id)

    assert execution["status"] == "ABORTED"
    assert operations.get(operation_id).status == OperationStatus.CANCELLED
    assert _copies_of(driver, operation_id) == []
    assert Stage.DELETE_COPY not in operations.get(operation_id).stages  # not the success path
    texts = wait_for_thread(driver, operation_id, "cancelled by")
    cancelled = next(text for text in texts if "cancelled by" in text)
    assert "Cancelled the copy in progress at " in cancelled
    assert f"deleted `{operation_id}-copy`" in cancelled


def test_a_copy_wait_that_gives_up_cancels_the_copy_and_says_how_far_it_got(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    arn = driver.info["seed"]["cross_region_snapshot_arn"]
    stack.faults.stall_copies()  # RDS keeps the copy queued: `copying` at 0%, for ever
    operation_id = request_restore(driver, f"{arn} dr-stalled")
    click(driver, operation_id, APPROVE, driver.info["users"]["approver"])

    execution = driver.wait_for_execution_end(operation_id, timeout=120)

    assert execution["status"] == "FAILED"
    assert stack.faults.injected["stall:copy_db_cluster_snapshot"] == 1
    operation = operations.get(operation_id)
    assert operation.status == OperationStatus.FAILED
    assert operation.error is not None
    assert operation.error.startswith(
        f"WaitExhaustedError: gave up waiting for the snapshot copy `{operation_id}-copy`: "
        "still `copying` at 0% after "
    )
    assert "no progress in the last 3 checks" in operation.error
    assert _copies_of(driver, operation_id) == []
    assert "dr-stalled" not in {
        c["DBClusterIdentifier"] for c in driver.rds.describe_db_clusters()["DBClusters"]
    }
    texts = wait_for_thread(driver, operation_id, "Restore failed")
    failed = next(text for text in texts if "Restore failed" in text)
    assert "gave up waiting for the snapshot copy" in failed
    assert f"Cancelled the copy in progress at 0% and deleted `{operation_id}-copy`" in failed
