"""Lambda entry point: is the old target gone and its final snapshot available (stage 5)?"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline.context import default_context
from pipeline.handlers.events import CheckEvent
from pipeline.observability import logger, tracer
from pipeline.stages.delete_target import check_delete


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = CheckEvent.model_validate(event)
    logger.append_keys(operation_id=request.operation_id)
    return dict(check_delete(request.operation_id, request.attempt, default_context()))
