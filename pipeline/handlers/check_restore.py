"""Lambda entry point: is the restored cluster available, then are its instances (stage 7)?"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline.context import default_context
from pipeline.handlers.events import CheckRestoreEvent
from pipeline.observability import logger, tracer
from pipeline.stages.restore_cluster import check_cluster, check_restore


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = CheckRestoreEvent.model_validate(event)
    logger.append_keys(operation_id=request.operation_id)
    check = check_cluster if request.wait_for == "cluster" else check_restore
    return dict(check(request.operation_id, request.attempt, default_context()))
