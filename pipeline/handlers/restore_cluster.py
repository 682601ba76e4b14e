"""Lambda entry point: restore the cluster, or create its instances once it is available (stage 6)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline.context import default_context
from pipeline.handlers.events import RestoreEvent
from pipeline.observability import logger, tracer
from pipeline.stages.restore_cluster import create_instances, restore_cluster


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = RestoreEvent.model_validate(event)
    logger.append_keys(operation_id=request.operation_id)
    step = create_instances if request.step == "instances" else restore_cluster
    return dict(step(request.operation_id, default_context()))
