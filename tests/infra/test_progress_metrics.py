"""Progress events become the metrics the dashboard and alarms read."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from infra import constants
from infra.runtime import progress_metrics
from pipeline.models import OperationStatus, ProgressEvent, Stage, StageStatus

pytestmark = pytest.mark.infra
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def sqs_event(*bodies: str) -> dict:
    """What the SQS event source passes: raw delivery makes each body one progress event."""
    return {
        "Records": [
            {"messageId": f"m{i}", "eventSource": "aws:sqs", "body": body, "attributes": {}}
            for i, body in enumerate(bodies)
        ]
    }


def run(*events: ProgressEvent | str) -> tuple[dict, list[dict]]:
    out = io.StringIO()
    bodies = [e if isinstance(e, str) else e.model_dump_json() for e in events]
    result = progress_metrics.handler(sqs_event(*bodies), None, out=out)
    return result, [json.loads(line) for line in out.getvalue().splitlines()]


def event(stage: Stage, status: StageStatus, **extra) -> ProgressEvent:
    return ProgressEvent.for_stage(
        "ar-20260301120000-abcdef", stage, status, "detail", at=AT, **extra
    )


def test_a_finished_stage_yields_its_duration_under_its_stage():
    result, records = run(event(Stage.COPY_SNAPSHOT, StageStatus.SUCCEEDED, duration_seconds=312.5))
    assert result == {"emitted": 1, "rejected": 0}
    (record,) = records
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == constants.METRICS_NAMESPACE
    assert directive["Dimensions"] == [[constants.STAGE_DIMENSION]]
    assert directive["Metrics"] == [{"Name": constants.STAGE_DURATION_METRIC, "Unit": "Seconds"}]
    assert record[constants.STAGE_DIMENSION] == "copy_snapshot"
    assert record[constants.STAGE_DURATION_METRIC] == 312.5
    assert record["_aws"]["Timestamp"] == int(AT.timestamp() * 1000)


def test_a_terminal_event_also_counts_the_outcome():
    _, records = run(
        event(
            Stage.RESTORE_CLUSTER,
            StageStatus.FAILED,
            duration_seconds=600,
            operation_status=OperationStatus.FAILED,
        )
    )
    by_metric = {r["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]: r for r in records}
    assert (
        by_metric[constants.STAGE_DURATION_METRIC][constants.STAGE_DIMENSION] == "restore_cluster"
    )
    outcome = by_metric[constants.RESTORE_OUTCOME_METRIC]
    assert outcome[constants.OUTCOME_DIMENSION] == "FAILED"
    assert outcome[constants.RESTORE_OUTCOME_METRIC] == 1


def test_only_an_approval_counts_as_approval_latency():
    _, approved = run(event(Stage.APPROVAL, StageStatus.SUCCEEDED, duration_seconds=95))
    _, expired = run(
        event(
            Stage.APPROVAL,
            StageStatus.FAILED,
            duration_seconds=3600,
            operation_status=OperationStatus.EXPIRED,
        )
    )
    assert [r[constants.STAGE_DURATION_METRIC] for r in approved] == [95]
    # Nobody decided in an hour: an outcome to count, not a latency to average.
    assert [r["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] for r in expired] == [
        constants.RESTORE_OUTCOME_METRIC
    ]


def test_started_and_skipped_stages_and_running_status_yield_nothing():
    result, records = run(
        event(Stage.RESTORE_CLUSTER, StageStatus.STARTED),
        event(Stage.COPY_SNAPSHOT, StageStatus.SKIPPED),
        event(Stage.VALIDATE, StageStatus.SUCCEEDED, operation_status=OperationStatus.RUNNING),
    )
    assert result == {"emitted": 0, "rejected": 0}
    assert records == []


def test_an_sns_envelope_is_read_like_a_raw_body():
    wrapped = event(Stage.COPY_SNAPSHOT, StageStatus.SUCCEEDED, duration_seconds=3.0)
    envelope = json.dumps({"Type": "Notification", "Message": wrapped.model_dump_json()})
    result, [record] = run(envelope)
    assert result == {"emitted": 1, "rejected": 0}
    assert record[constants.STAGE_DURATION_METRIC] == 3.0


def test_a_malformed_message_is_counted_and_not_echoed():
    result, records = run('{"token": "xoxb-not-a-progress-event"}', "not json")
    assert result == {"emitted": 0, "rejected": 2}
    assert all("xoxb" not in json.dumps(record) for record in records)


def test_the_runtime_module_mirrors_the_cdk_constants():
    assert progress_metrics.NAMESPACE == constants.METRICS_NAMESPACE
    assert progress_metrics.STAGE_DURATION == constants.STAGE_DURATION_METRIC
    assert progress_metrics.STAGE_DIMENSION == constants.STAGE_DIMENSION
    assert progress_metrics.RESTORE_OUTCOME == constants.RESTORE_OUTCOME_METRIC
    assert progress_metrics.OUTCOME_DIMENSION == constants.OUTCOME_DIMENSION
