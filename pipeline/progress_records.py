"""A progress event as the consumers of the progress topic receive it in an SQS record (the
notifier and the metrics function, each through its own FIFO queue)."""

from __future__ import annotations

import json

from pipeline.models import ProgressEvent


def progress_event_from_sqs_body(body: str) -> ProgressEvent:
    """The event itself (raw message delivery) or inside an SNS notification (without it); a
    ValueError (pydantic's ValidationError is one) when the body is not a progress event."""
    return ProgressEvent.model_validate_json(_event_json(body))


def _event_json(body: str) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if isinstance(document, dict) and document.get("Type") == "Notification":
        return str(document.get("Message", ""))
    return body
