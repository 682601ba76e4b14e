"""The Lambda handlers, called in the order the state machine calls them, with its events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from pipeline.context import PipelineContext
from pipeline.handlers import (
    handle_check_copy,
    handle_check_delete,
    handle_check_restore,
    handle_copy_snapshot,
    handle_delete_copy,
    handle_delete_target,
    handle_finish,
    handle_lifecycle,
    handle_restore_cluster,
    handle_validate,
)
from pipeline.models import OperationStatus, ProgressEvent, Stage, StageStatus
from tests.conftest import REGION
from tests.pipeline.conftest import SOURCE_REGION, WAIT_BUDGETS, Operations, RdsSeed


@dataclass
class FakeLambdaContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name: str = "aurora-restore-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:aurora-restore-test"
    aws_request_id: str = "req-1"


def invoke(handler: Any, event: dict[str, Any]) -> dict[str, Any]:
    result = handler(event, FakeLambdaContext())
    json.dumps(result)  # what the state machine receives must be plain JSON
    return dict(result)


def test_a_cross_region_in_place_replace_through_every_handler(
    ctx: PipelineContext,
    seed: RdsSeed,
    operations: Operations,
    progress: Callable[[], list[ProgressEvent]],
) -> None:
    seed.cluster("prod-db", region=SOURCE_REGION, encrypted=True)
    arn = seed.snapshot("prod-db", "prod-snap-1", region=SOURCE_REGION)["DBClusterSnapshotArn"]
    seed.cluster("staging-db", instances=1)
    op_id = operations.create(arn, "staging-db", replace=True, in_place=True, instance_count=2)
    one = {"operation_id": op_id}
    copy_id, final_id = f"{op_id}-copy", f"staging-db-final-{op_id}"

    assert invoke(handle_validate, one) == {
        "needs_copy": True,
        "delete_target": True,
        "swap_target": False,
        "target_exists": True,
        "rollback": False,
        "wait_budgets": WAIT_BUDGETS,
    }
    assert invoke(handle_lifecycle, {**one, "action": "begin"}) == {"status": "RUNNING"}
    assert invoke(handle_copy_snapshot, one) == {"snapshot_id": copy_id}
    assert invoke(handle_check_copy, {**one, "attempt": 0}) == {
        "ready": True,
        "attempt": 1,
        "progress": 100,
        "progress_moved_at": 1,
    }
    assert invoke(handle_delete_target, {**one, "step": "snapshot"}) == {"final_snapshot_id": None}
    assert invoke(handle_check_delete, {**one, "attempt": 0, "wait_for": "snapshot"}) == {
        "ready": True,
        "attempt": 1,
    }
    assert invoke(handle_delete_target, {**one, "step": "delete"}) == {
        "final_snapshot_id": final_id
    }
    assert invoke(handle_check_delete, {**one, "attempt": 0}) == {"ready": True, "attempt": 1}
    seed.drop_automated_snapshots("staging-db")
    assert invoke(handle_restore_cluster, {**one, "step": "cluster"}) == {
        "cluster_id": "staging-db",
        "instance_ids": [],
    }
    assert invoke(handle_check_restore, {**one, "attempt": 0, "wait_for": "cluster"}) == {
        "ready": True,
        "attempt": 1,
    }
    assert invoke(handle_restore_cluster, {**one, "step": "instances"}) == {
        "cluster_id": "staging-db",
        "instance_ids": ["staging-db-1", "staging-db-2"],
    }
    assert invoke(handle_check_restore, {**one, "attempt": 0, "wait_for": "instances"}) == {
        "ready": True,
        "attempt": 1,
    }
    assert invoke(handle_delete_copy, one) == {"deleted": [copy_id]}
    assert invoke(handle_finish, one) == {"status": "SUCCEEDED"}

    stored = ctx.store.get(op_id)
    assert stored.status == OperationStatus.SUCCEEDED
    assert ctx.store.lock_holder("staging-db") is None
    assert {final_id, "prod-snap-1"} <= seed.snapshot_ids() | seed.snapshot_ids(SOURCE_REGION)
    assert copy_id not in seed.snapshot_ids()
    assert operations.audit_actions(op_id) == [
        "validate.started",
        "validate.succeeded",
        "operation.running",  # no approval stage: no card was posted in this pipeline-only run
        "copy_snapshot.started",
        "copy_snapshot.succeeded",
        "delete_target.started",
        "delete_target.succeeded",
        "restore_cluster.started",
        "restore_cluster.succeeded",
        "archive.started",
        "archive.succeeded",
        "operation.succeeded",
        "notify.succeeded",
    ]
    published = {(event.stage, event.status) for event in progress()}
    assert published == {
        (stage, status)
        for stage in (
            Stage.VALIDATE,
            Stage.COPY_SNAPSHOT,
            Stage.DELETE_TARGET,
            Stage.RESTORE_CLUSTER,
            Stage.DELETE_COPY,
        )
        for status in (StageStatus.STARTED, StageStatus.SUCCEEDED)
    } | {(Stage.FINISH, StageStatus.SUCCEEDED)}


def test_a_failure_is_raised_by_class_name_and_recorded_by_the_catch(
    ctx: PipelineContext, seed: RdsSeed, operations: Operations
) -> None:
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    op_id = operations.create("prod-snap-1", "staging-db")
    invoke(handle_validate, {"operation_id": op_id})
    invoke(handle_lifecycle, {"operation_id": op_id, "action": "begin"})
    invoke(handle_restore_cluster, {"operation_id": op_id})
    seed.set_cluster_status("staging-db", "incompatible-network")

    with pytest.raises(Exception) as raised:
        invoke(handle_check_restore, {"operation_id": op_id, "attempt": 3})
    # Lambda reports the class name as errorType; the state machine's Retry/Catch match on it.
    assert type(raised.value).__name__ == "ResourceFailedError"

    cause = json.dumps({"errorMessage": str(raised.value), "errorType": "ResourceFailedError"})
    event = {
        "operation_id": op_id,
        "action": "fail",
        "error": {"Error": "ResourceFailedError", "Cause": cause},
    }
    assert invoke(handle_lifecycle, event) == {"status": "FAILED"}
    assert "incompatible-network" in (ctx.store.get(op_id).error or "")


def test_handlers_import_without_settings_or_aws_clients() -> None:
    """Cold-start safety for the local stack: importing the handlers reads no settings and builds
    no client; both happen on the first invocation."""
    script = (
        "import boto3, boto3.session\n"
        "def refuse(*args, **kwargs): raise SystemExit('AWS client built at import')\n"
        "boto3.client = boto3.session.Session.client = refuse\n"
        "import pipeline.handlers\n"
        "import pipeline.context as c\n"
        "assert c._context is None\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("AURORA_RESTORE_")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr + done.stdout
