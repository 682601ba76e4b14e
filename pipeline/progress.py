"""Stage bookkeeping: every stage records start and end on the operation, appends an audit event
and publishes a progress event to SNS. The pipeline knows nothing of Slack.

The deployed progress topic is FIFO: each operation is one message group (its events reach the
notifier in the order they were published) and each event's deterministic id is its
deduplication id (a retried stage that publishes the same event again is dropped by SNS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.aws_errors import aws_call
from pipeline.models import OperationStatus, ProgressEvent, Stage, StageRecord, StageStatus, utc_now
from pipeline.store import OperationStore

PIPELINE_ACTOR = "pipeline"
# Stage statuses a repeated start leaves alone (a failed stage may be started again).
_STARTED_ONCE = frozenset({StageStatus.STARTED, StageStatus.SUCCEEDED, StageStatus.SKIPPED})


FIFO_SUFFIX = ".fifo"


class ProgressPublisher:
    """Publishes progress events to the SNS topic the bot's notifier subscribes to (FIFO or
    standard, told apart by the topic name)."""

    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self.fifo = topic_arn.endswith(FIFO_SUFFIX)

    def publish(self, event: ProgressEvent) -> None:
        ordering: dict[str, str] = {}
        if self.fifo:
            # Order per operation (its Slack thread), and SNS drops a re-published event.
            ordering = {
                "MessageGroupId": event.operation_id,
                "MessageDeduplicationId": event.event_id,
            }
        with aws_call("publish progress"):
            self._sns.publish(
                TopicArn=self._topic_arn,
                Message=event.model_dump_json(),
                MessageAttributes={
                    "operation_id": {"DataType": "String", "StringValue": event.operation_id},
                    "stage": {"DataType": "String", "StringValue": str(event.stage)},
                    "status": {"DataType": "String", "StringValue": str(event.status)},
                },
                **ordering,
            )


@dataclass
class StageReporter:
    """Records a stage's lifecycle in the store, the audit log and on the progress topic."""

    store: OperationStore
    publisher: ProgressPublisher
    resources: dict[str, str] = field(default_factory=dict)

    def started(self, operation_id: str, stage: Stage, detail: str) -> None:
        current = self.store.get(operation_id).stages.get(stage)
        if current is not None and current.status in _STARTED_ONCE:
            # A retried invocation: the start was already recorded, or the stage has even
            # ended (announcing it again would show a finished stage running). Only a start
            # whose publish failed is published now.
            if current.status == StageStatus.STARTED and not current.announced:
                self._announce(operation_id, stage, current)
            return
        record = StageRecord(
            status=StageStatus.STARTED, started_at=utc_now(), detail=detail, announced=False
        )
        if not self.store.start_stage(operation_id, stage, record):
            return  # started, or ended, by another invocation since the read above
        self.store.audit(operation_id, PIPELINE_ACTOR, f"{stage}.started", {"detail": detail})
        self._announce(operation_id, stage, record)

    def finished(
        self,
        operation_id: str,
        stage: Stage,
        status: StageStatus,
        detail: str,
        *,
        resources: dict[str, str] | None = None,
        operation_status: OperationStatus | None = None,
    ) -> None:
        """Record a stage's end (succeeded, failed or skipped); a repeat of the same end only
        publishes its event if an earlier attempt recorded it but failed to publish."""
        operation = self.store.get(operation_id)
        previous = operation.stages.get(stage)
        if previous is not None and previous.status == status:
            record = previous  # a retried invocation
        else:
            ended = utc_now()
            started = previous.started_at if previous and previous.started_at else ended
            record = StageRecord(
                status=status, started_at=started, ended_at=ended, detail=detail, announced=False
            )
            self.store.record_stage(operation_id, stage, record)
            if resources:
                self.store.update(operation_id, resources={**operation.resources, **resources})
            self.store.audit(
                operation_id,
                PIPELINE_ACTOR,
                f"{stage}.{status}",
                {
                    "detail": detail,
                    "resources": resources or {},
                    "duration_seconds": record.duration_seconds,
                },
            )
        if not record.announced:
            self._announce(
                operation_id,
                stage,
                record,
                resources=resources or {},
                operation_status=operation_status,
            )

    def _announce(self, operation_id: str, stage: Stage, record: StageRecord, **extra: Any) -> None:
        """Publish the event of the stage's recorded status, then note that it went out."""
        self.publisher.publish(
            ProgressEvent.for_stage(
                operation_id,
                stage,
                record.status,
                record.detail,
                duration_seconds=record.duration_seconds,
                **extra,
            )
        )
        self.store.mark_announced(operation_id, stage)
