"""Lambda entry point: begin the restore, or record its terminal outcome (fail, deny, expire, cancel)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline.context import default_context
from pipeline.handlers.events import LifecycleEvent
from pipeline.observability import logger, tracer
from pipeline.stages.lifecycle import run_lifecycle


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = LifecycleEvent.model_validate(event)
    logger.append_keys(operation_id=request.operation_id)
    return dict(
        run_lifecycle(request.operation_id, request.action, default_context(), request.error)
    )
