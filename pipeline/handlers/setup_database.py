"""Lambda entry point: master password, users and post-restore SQL on the restored cluster
(stage 8)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline.context import default_context
from pipeline.database import setup_database
from pipeline.handlers.events import OperationEvent
from pipeline.observability import logger, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = OperationEvent.model_validate(event)
    logger.append_keys(operation_id=request.operation_id)
    return setup_database(request.operation_id, default_context())
