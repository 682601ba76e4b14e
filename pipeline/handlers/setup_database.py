"""Lambda entry point: master password, users and post-restore SQL on the restored cluster
(stage 8)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline.context import default_context
from pipeline.database import Pg8000Connector, connector_from_settings, setup_database
from pipeline.handlers.events import OperationEvent
from pipeline.observability import logger, tracer
from pipeline.settings import PipelineSettings

_built: tuple[PipelineSettings, Pg8000Connector] | None = None


def cold_start_connector(settings: PipelineSettings) -> Pg8000Connector:
    """Built once per container (the settings are too): TLS on without a usable RDS CA bundle
    fails the first call, before the restored cluster or its secrets are touched."""
    global _built
    if _built is None or _built[0] is not settings:
        _built = (settings, connector_from_settings(settings))
    return _built[1]


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ctx = default_context()
    connector = cold_start_connector(ctx.settings)
    request = OperationEvent.model_validate(event)
    logger.append_keys(operation_id=request.operation_id)
    return setup_database(request.operation_id, ctx, connector=connector)
