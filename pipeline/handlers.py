"""The pipeline's Lambda entry points (infra.constants.STAGE_FUNCTIONS, docs/contracts.md).

Every handler is the same few lines, built by `stage_handler`: validate the event the state
machine sends, name the operation in the logs, call the stage with the process's context. Nothing
here touches AWS at import time; the context (settings, clients) is built on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from pipeline.context import PipelineContext, default_context
from pipeline.observability import logger, tracer
from pipeline.retention import sweep
from pipeline.settings import PipelineSettings
from pipeline.stages.copy_snapshot import check_copy, copy_snapshot
from pipeline.stages.delete_copy import delete_copy
from pipeline.stages.delete_target import (
    check_delete,
    check_safety_snapshot,
    delete_target,
    snapshot_target,
)
from pipeline.stages.finish import record_success
from pipeline.stages.lifecycle import LifecycleAction, run_lifecycle
from pipeline.stages.plan import validate_request
from pipeline.stages.restore_cluster import (
    check_cluster,
    check_restore,
    create_instances,
    restore_cluster,
)
from pipeline.stages.start_kept import check_kept, start_kept
from pipeline.stages.swap import swap_names
from pipeline.stages.swap_undo import undo_swap
from pipeline.wait_budgets import CopyProgress

if TYPE_CHECKING:
    from pipeline.database import Pg8000Connector

# The inputs the state machine sends to each function (docs/contracts.md).


class OperationEvent(BaseModel):
    """`{operation_id}`: every acting stage."""

    model_config = ConfigDict(extra="ignore")

    operation_id: str = Field(min_length=1)


class CheckEvent(OperationEvent):
    """`{operation_id, attempt}`: the check stages of the wait loops."""

    attempt: int = Field(default=0, ge=0)


class CheckCopyEvent(CheckEvent):
    """`{operation_id, attempt, progress, progress_moved_at}`: the copy loop carries the copy's
    last PercentProgress (-1: none yet) and the attempt at which it last moved."""

    progress: int = Field(default=-1, ge=-1, le=100)
    progress_moved_at: int = Field(default=0, ge=0)


class RestoreEvent(OperationEvent):
    """`{operation_id, step}`: restore the cluster, then (once it is available) its instances."""

    step: Literal["cluster", "instances"] = "cluster"


class CheckRestoreEvent(CheckEvent):
    """`{operation_id, attempt, wait_for}`: the restored cluster alone, or with its instances."""

    wait_for: Literal["cluster", "instances"] = "instances"


class DeleteEvent(OperationEvent):
    """`{operation_id, step}`: an in-place replace snapshots the target, then deletes it."""

    step: Literal["snapshot", "delete"] = "delete"


class CheckDeleteEvent(CheckEvent):
    """`{operation_id, attempt, wait_for}`: the safety snapshot, or the deletion."""

    wait_for: Literal["snapshot", "deletion"] = "deletion"


class SwapEvent(CheckEvent):
    """`{operation_id, attempt, action}`: one step of the swap, or of its undo; for a rollback,
    starting the kept cluster (`start`) and checking that it is up (`check-start`)."""

    action: Literal["swap", "undo", "start", "check-start"]


class LifecycleEvent(OperationEvent):
    """`{operation_id, action, error?}`; `error` is the Catch's `{Error, Cause}`."""

    action: LifecycleAction
    error: dict[str, Any] | None = None


Event = TypeVar("Event", bound=OperationEvent)
LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def stage_handler(
    event_type: type[Event], run: Callable[[Event, PipelineContext], Mapping[str, Any]]
) -> LambdaHandler:
    """A Lambda handler that validates its event as `event_type` and returns what `run` does."""

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        request = event_type.model_validate(event)
        logger.append_keys(operation_id=request.operation_id)
        return dict(run(request, default_context()))

    return handler


_built: tuple[PipelineSettings, Pg8000Connector] | None = None


def _cold_start_connector(settings: PipelineSettings) -> Pg8000Connector:
    """Built once per container (the settings are too): TLS on without a usable RDS CA bundle
    fails the first call, before the restored cluster or its secrets are touched."""
    from pipeline.database import connector_from_settings

    global _built
    if _built is None or _built[0] is not settings:
        _built = (settings, connector_from_settings(settings))
    return _built[1]


def _set_up_database(request: OperationEvent, ctx: PipelineContext) -> Mapping[str, Any]:
    # Imported on the first call: pg8000 and the database stage serve this function alone, so
    # the other functions' cold starts do not load them.
    from pipeline.database import setup_database

    connector = _cold_start_connector(ctx.settings)
    return setup_database(request.operation_id, ctx, connector=connector)


def _restore(request: RestoreEvent, ctx: PipelineContext) -> Mapping[str, Any]:
    step = create_instances if request.step == "instances" else restore_cluster
    return step(request.operation_id, ctx)


def _check_restore(request: CheckRestoreEvent, ctx: PipelineContext) -> Mapping[str, Any]:
    check = check_cluster if request.wait_for == "cluster" else check_restore
    return check(request.operation_id, request.attempt, ctx)


# One handler per function; the names are the handler paths' last part (`pipeline.handlers.X`).
handle_validate = stage_handler(
    OperationEvent, lambda request, ctx: validate_request(request.operation_id, ctx)
)
handle_lifecycle = stage_handler(
    LifecycleEvent,
    lambda request, ctx: run_lifecycle(request.operation_id, request.action, ctx, request.error),
)
handle_copy_snapshot = stage_handler(
    OperationEvent, lambda request, ctx: copy_snapshot(request.operation_id, ctx)
)
handle_check_copy = stage_handler(
    CheckCopyEvent,
    lambda request, ctx: check_copy(
        request.operation_id,
        request.attempt,
        ctx,
        CopyProgress(request.progress, request.progress_moved_at),
    ),
)
handle_delete_target = stage_handler(
    DeleteEvent,
    lambda request, ctx: (snapshot_target if request.step == "snapshot" else delete_target)(
        request.operation_id, ctx
    ),
)
handle_check_delete = stage_handler(
    CheckDeleteEvent,
    lambda request, ctx: (
        check_safety_snapshot if request.wait_for == "snapshot" else check_delete
    )(request.operation_id, request.attempt, ctx),
)


def _swap_step(request: SwapEvent, ctx: PipelineContext) -> Mapping[str, Any]:
    if request.action == "start":
        return start_kept(request.operation_id, ctx)
    step = {"swap": swap_names, "undo": undo_swap, "check-start": check_kept}[request.action]
    return step(request.operation_id, request.attempt, ctx)


handle_swap_names = stage_handler(SwapEvent, _swap_step)
handle_restore_cluster = stage_handler(RestoreEvent, _restore)
handle_check_restore = stage_handler(CheckRestoreEvent, _check_restore)
handle_setup_database = stage_handler(OperationEvent, _set_up_database)
handle_delete_copy = stage_handler(
    OperationEvent, lambda request, ctx: delete_copy(request.operation_id, ctx)
)
handle_finish = stage_handler(
    OperationEvent, lambda request, ctx: record_success(request.operation_id, ctx)
)


class SweepEvent(BaseModel):
    """The hourly schedule's EventBridge event; `time` is when the schedule fired."""

    model_config = ConfigDict(extra="ignore")

    time: datetime | None = None


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handle_retention_sweep(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Not a stage: the schedule's sweep of kept clusters and the tool's snapshots."""
    request = SweepEvent.model_validate(event)
    return dict(sweep(default_context(), request.time).as_dict())
