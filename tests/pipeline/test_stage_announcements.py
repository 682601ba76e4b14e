"""Every stage event is published exactly once even when a publish fails or a start races its
end: the record says whether its event went out, and a start never overwrites a stage that has
started or ended meanwhile."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipeline.aws import AwsClients
from pipeline.context import PipelineContext
from pipeline.errors import AuroraRestoreError
from pipeline.models import ProgressEvent, Stage, StageRecord, StageStatus, utc_now
from pipeline.progress import ProgressPublisher, StageReporter
from tests.pipeline.conftest import Operations

Progress = Callable[[], list[ProgressEvent]]
NO_SUCH_TOPIC = "arn:aws:sns:us-east-1:123456789012:no-such-topic"


@pytest.fixture
def broken(ctx: PipelineContext, aws: AwsClients) -> StageReporter:
    """A reporter whose publish fails (the topic does not exist), as SNS failing would."""
    return StageReporter(ctx.store, ProgressPublisher(aws.sns, NO_SUCH_TOPIC))


def steps(events: list[ProgressEvent], operation_id: str) -> list[tuple[Stage, StageStatus]]:
    return [(e.stage, e.status) for e in events if e.operation_id == operation_id]


def test_a_start_whose_publish_failed_is_published_by_the_retry_once(
    ctx: PipelineContext, operations: Operations, broken: StageReporter, progress: Progress
) -> None:
    op_id = operations.create("snap", "target-db", approve=False)
    with pytest.raises(AuroraRestoreError):
        broken.started(op_id, Stage.APPROVAL, "Approval needed from <@U1>.")
    assert ctx.store.get(op_id).stages[Stage.APPROVAL].announced is False

    ctx.reporter.started(op_id, Stage.APPROVAL, "Approval needed from <@U1>.")  # the retry
    ctx.reporter.started(op_id, Stage.APPROVAL, "Approval needed from <@U1>.")  # and another

    assert steps(progress(), op_id) == [(Stage.APPROVAL, StageStatus.STARTED)]
    [event] = progress()
    assert event.detail == "Approval needed from <@U1>."
    assert ctx.store.get(op_id).stages[Stage.APPROVAL].announced is True
    assert operations.audit_actions(op_id).count("approval.started") == 1


def test_an_end_whose_publish_failed_is_published_by_the_retry_once(
    ctx: PipelineContext, operations: Operations, broken: StageReporter, progress: Progress
) -> None:
    op_id = operations.create("snap", "target-db")
    ctx.reporter.started(op_id, Stage.DELETE_COPY, "Cleaning up")
    with pytest.raises(AuroraRestoreError):
        broken.finished(op_id, Stage.DELETE_COPY, StageStatus.SUCCEEDED, "Cleaned up")

    ctx.reporter.finished(op_id, Stage.DELETE_COPY, StageStatus.SUCCEEDED, "Cleaned up")
    ctx.reporter.finished(op_id, Stage.DELETE_COPY, StageStatus.SUCCEEDED, "Cleaned up")

    events = [e for e in progress() if e.operation_id == op_id]
    assert [(e.stage, e.status) for e in events] == [
        (Stage.DELETE_COPY, StageStatus.STARTED),
        (Stage.DELETE_COPY, StageStatus.SUCCEEDED),
    ]
    record = ctx.store.get(op_id).stages[Stage.DELETE_COPY]
    assert events[1].duration_seconds == record.duration_seconds is not None
    assert operations.audit_actions(op_id).count("archive.succeeded") == 1


def test_a_start_never_overwrites_a_stage_that_ended_meanwhile(
    ctx: PipelineContext, operations: Operations
) -> None:
    op_id = operations.create("snap", "target-db")
    ctx.reporter.finished(op_id, Stage.APPROVAL, StageStatus.SUCCEEDED, "approved")
    late_start = StageRecord(status=StageStatus.STARTED, started_at=utc_now(), announced=False)

    assert ctx.store.start_stage(op_id, Stage.APPROVAL, late_start) is False
    assert ctx.store.get(op_id).stages[Stage.APPROVAL].status == StageStatus.SUCCEEDED
    # A failed stage may start again (a retried stage after a failure).
    ctx.reporter.finished(op_id, Stage.DELETE_COPY, StageStatus.FAILED, "boom")
    assert ctx.store.start_stage(op_id, Stage.DELETE_COPY, late_start) is True
