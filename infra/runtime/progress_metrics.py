"""Progress events -> CloudWatch metrics (embedded metric format) for the dashboard and alarms.

The function reads its own FIFO queue subscribed to the progress topic with raw message delivery
(a Lambda function cannot subscribe to a FIFO topic): each SQS record's body is one event.

Stage durations (an approved request's approval stage is the approval latency; a denied or expired
one says nothing about it, so only approvals count) and restore outcomes come
from the events the pipeline already publishes, so no stage code has to know about metrics. The
EMF record is written by hand to keep the dimension sets exactly those the dashboard reads.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from pipeline.models import ProgressEvent, Stage, StageStatus
from pipeline.progress_records import progress_event_from_sqs_body

# Mirrors infra.constants (which this module cannot import: it loads the CDK).
NAMESPACE = "AuroraRestore"
STAGE_DURATION = "StageDuration"
STAGE_DIMENSION = "Stage"
RESTORE_OUTCOME = "RestoreOutcome"
OUTCOME_DIMENSION = "Outcome"
_ENDED = frozenset({StageStatus.SUCCEEDED, StageStatus.FAILED})


def _record(
    event: ProgressEvent, name: str, unit: str, value: float, dimension: str, key: str
) -> dict[str, Any]:
    return {
        "_aws": {
            "Timestamp": int(event.at.timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[dimension]],
                    "Metrics": [{"Name": name, "Unit": unit}],
                }
            ],
        },
        dimension: key,
        name: value,
        "operation_id": event.operation_id,  # searchable in Logs Insights, not a dimension
    }


def metric_records(event: ProgressEvent) -> Iterator[dict[str, Any]]:
    """The EMF records one progress event yields: a stage duration when a stage ends, an outcome
    when the operation reaches a terminal status."""
    not_an_approval = event.stage == Stage.APPROVAL and event.status != StageStatus.SUCCEEDED
    if event.status in _ENDED and event.duration_seconds is not None and not not_an_approval:
        yield _record(
            event, STAGE_DURATION, "Seconds", event.duration_seconds, STAGE_DIMENSION, event.stage
        )
    if event.operation_status is not None and event.operation_status.is_terminal:
        yield _record(
            event, RESTORE_OUTCOME, "Count", 1.0, OUTCOME_DIMENSION, event.operation_status
        )


def handler(event: dict[str, Any], _context: object, out: TextIO | None = None) -> dict[str, int]:
    """Lambda entry for the SQS event source; a malformed message is reported, not retried."""
    stream = out or sys.stdout
    emitted = rejected = 0
    for record in event.get("Records", []):
        try:
            progress = progress_event_from_sqs_body(str(record["body"]))
        except (KeyError, ValueError) as exc:
            rejected += 1
            # The exception's class only: a rejected message is never echoed into the logs.
            warning = f"not a progress event ({type(exc).__name__})"
            print(json.dumps({"level": "WARNING", "message": warning}), file=stream)
            continue
        for metric in metric_records(progress):
            print(json.dumps(metric), file=stream)
            emitted += 1
    return {"emitted": emitted, "rejected": rejected}
