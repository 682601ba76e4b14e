"""The intermediate snapshot copy's end: deleted on every path once the copy was started.

The success path deletes it in the DeleteCopy stage (pipeline.stages.delete_copy); a restore that
fails (RecordFailure, including a wait that gave up) or is cancelled while running (the bot, after
StopExecution) calls `discard_copy`, which never raises: it says what became of the copy, so the
failure or cancel message states it and the original error is never hidden behind a cleanup
error.

What RDS allows (botocore rds DeleteDBClusterSnapshot, and CopyDBClusterSnapshot): "If the
snapshot is being copied, the copy operation is terminated"; "To cancel the copy operation once
it is in progress, delete the target DB cluster snapshot ... while that DB cluster snapshot is in
"copying" status"; otherwise "The DB cluster snapshot must be in the available state to be
deleted". So a copy `available` or `copying` is deleted (a copy in progress is cancelled by it);
in any other status it is left, and the message says which copy, its status and why.

Only this operation's own copy is ever deleted: the plan's copy identifier, tagged with this
operation's id, never the source snapshot (rds.made_by).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pipeline import rds
from pipeline.aws_errors import aws_call, error_code
from pipeline.context import PipelineContext
from pipeline.errors import AuroraRestoreError
from pipeline.models import Operation, Plan, Stage
from pipeline.progress import PIPELINE_ACTOR

logger = logging.getLogger("aurora_restore.pipeline.copy_cleanup")
COPYING = "copying"
# The statuses RDS deletes a cluster snapshot in (module docstring).
DELETABLE_STATUSES = frozenset({rds.AVAILABLE, COPYING})


@dataclass(frozen=True)
class CopyFate:
    """What became of the copy: `left` is True when it still exists; `sentence` says so."""

    copy_id: str
    deleted: bool
    left: bool
    sentence: str


def delete_own_copy(client: Any, plan: Plan, copy_id: str, operation_id: str) -> CopyFate:
    """Delete the copy if it is this operation's and RDS allows it; AWS errors are raised
    (aws_call: throttling retryable, others fatal), a status RDS refuses is reported as left."""
    kept = f"`{plan.source_snapshot_id}` is kept"
    same_as_source = plan.source_region == plan.target_region and copy_id == plan.source_snapshot_id
    snapshot = rds.describe_cluster_snapshot(client, copy_id)
    if snapshot is None:
        return CopyFate(copy_id, False, False, f"The intermediate copy `{copy_id}` is gone; {kept}")
    if same_as_source or not rds.made_by(snapshot, operation_id):
        return CopyFate(
            copy_id,
            False,
            True,
            f"Left `{copy_id}` in place: it is not tagged with this operation; {kept}",
        )
    status = str(snapshot.get("Status", ""))
    if status not in DELETABLE_STATUSES:
        return CopyFate(
            copy_id,
            False,
            True,
            f"The intermediate copy `{copy_id}` is left: it is `{status}` and RDS deletes a "
            f"snapshot only when it is available or still copying; delete it once it is "
            f"available; {kept}",
        )
    with aws_call(f"delete snapshot {copy_id}"):
        try:
            client.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=copy_id)
        except ClientError as exc:
            if error_code(exc) != rds.SNAPSHOT_NOT_FOUND:
                raise
    if status == COPYING:
        progress = snapshot.get("PercentProgress")
        done = f" at {progress}%" if progress is not None else ""
        return CopyFate(
            copy_id,
            True,
            False,
            f"Cancelled the copy in progress{done} and deleted `{copy_id}`; {kept}",
        )
    return CopyFate(copy_id, True, False, f"Deleted the intermediate copy `{copy_id}`; {kept}")


def copy_started(operation: Operation) -> str | None:
    """The copy's identifier once the copy stage started (it may have made the copy before it
    could record it), else None: nothing of it can exist."""
    plan = operation.plan
    if plan is None or not plan.needs_copy or plan.copy_snapshot_id is None:
        return None
    if Stage.COPY_SNAPSHOT not in operation.stages and "copy_snapshot" not in operation.resources:
        return None
    return plan.copy_snapshot_id


def discard_copy(ctx: PipelineContext, operation: Operation) -> CopyFate | None:
    """Delete the copy of an operation that ends without success; None when it never started
    one. Never raises: a failure to delete is what the fate says (which copy is left, and why).
    Idempotent: a second call finds the copy gone."""
    copy_id = copy_started(operation)
    if copy_id is None or operation.plan is None:
        return None
    operation_id = operation.operation_id
    try:
        fate = delete_own_copy(ctx.clients.rds(), operation.plan, copy_id, operation_id)
    except Exception as exc:  # whatever went wrong, the ending it serves must still be recorded
        reason = exc.message if isinstance(exc, AuroraRestoreError) else type(exc).__name__
        logger.warning("the copy %s of %s was not deleted: %s", copy_id, operation_id, reason)
        fate = CopyFate(
            copy_id,
            False,
            True,
            f"The intermediate copy `{copy_id}` is left: deleting it failed ({reason}); "
            "delete it by hand",
        )
    # The ending's own audit event carries the fate in its outcome too.
    with contextlib.suppress(AuroraRestoreError):
        ctx.store.audit(
            operation_id,
            PIPELINE_ACTOR,
            "copy.deleted" if fate.deleted else ("copy.left" if fate.left else "copy.gone"),
            {"copy_snapshot": copy_id, "detail": fate.sentence},
        )
    return fate
