"""Progress events on a FIFO topic: one message group per operation (order per Slack thread) and
the event id as deduplication id (a re-published event reaches the queue once)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from pipeline.aws import AwsClients
from pipeline.models import ProgressEvent, RestoreRequest, Stage, StageStatus
from pipeline.progress import ProgressPublisher, StageReporter
from pipeline.store import OperationStore

FIRST = "ar-20260301120000-aaaaaa"
SECOND = "ar-20260301120000-bbbbbb"


@dataclass
class FifoProgress:
    topic_arn: str
    queue_url: str
    sqs: Any

    def drain(self) -> list[dict[str, Any]]:
        """Every message in the queue, in the order SQS hands them out (bounded)."""
        received: list[dict[str, Any]] = []
        for _ in range(50):
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"],
            ).get("Messages", [])
            if not batch:
                return received
            for message in batch:
                received.append(message)
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return received


@pytest.fixture
def fifo(aws: AwsClients) -> FifoProgress:
    """The deployed shape: a FIFO topic, a FIFO queue subscribed with raw message delivery."""
    topic_arn = aws.sns.create_topic(Name="test-progress.fifo", Attributes={"FifoTopic": "true"})[
        "TopicArn"
    ]
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="test-progress.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws.sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return FifoProgress(str(topic_arn), str(queue_url), sqs)


def event(operation_id: str, stage: Stage, status: StageStatus) -> ProgressEvent:
    return ProgressEvent.for_stage(operation_id, stage, status, f"{stage} {status}")


def test_each_operation_is_a_message_group_in_publish_order(aws: AwsClients, fifo: FifoProgress):
    publisher = ProgressPublisher(aws.sns, fifo.topic_arn)
    assert publisher.fifo
    published = [
        event(FIRST, Stage.VALIDATE, StageStatus.STARTED),
        event(SECOND, Stage.VALIDATE, StageStatus.STARTED),
        event(FIRST, Stage.VALIDATE, StageStatus.SUCCEEDED),
        event(FIRST, Stage.COPY_SNAPSHOT, StageStatus.SKIPPED),
        event(SECOND, Stage.VALIDATE, StageStatus.FAILED),
    ]
    for progress in published:
        publisher.publish(progress)
    received = fifo.drain()
    for operation_id in (FIRST, SECOND):
        group = [m for m in received if m["Attributes"]["MessageGroupId"] == operation_id]
        # Raw delivery: the body is the event itself, no SNS envelope.
        bodies = [ProgressEvent.model_validate_json(m["Body"]) for m in group]
        assert [b.event_id for b in bodies] == [
            p.event_id for p in published if p.operation_id == operation_id
        ]
        assert [m["Attributes"]["MessageDeduplicationId"] for m in group] == [
            b.event_id for b in bodies
        ]
    assert len(received) == len(published)


def test_a_republished_event_reaches_the_queue_once(aws: AwsClients, fifo: FifoProgress):
    publisher = ProgressPublisher(aws.sns, fifo.topic_arn)
    started = event(FIRST, Stage.RESTORE_CLUSTER, StageStatus.STARTED)
    publisher.publish(started)
    publisher.publish(started)  # a retried Lambda publishing the same stage event again
    publisher.publish(event(FIRST, Stage.RESTORE_CLUSTER, StageStatus.SUCCEEDED))
    bodies = [json.loads(m["Body"]) for m in fifo.drain()]
    assert [b["status"] for b in bodies] == ["started", "succeeded"]


def test_stage_reporter_publishes_a_stage_in_order_on_a_fifo_topic(
    aws: AwsClients, store: OperationStore, fifo: FifoProgress
):
    store.create(FIRST, RestoreRequest(snapshot="snap", target_cluster="db", requester="U1"))
    reporter = StageReporter(store=store, publisher=ProgressPublisher(aws.sns, fifo.topic_arn))
    reporter.started(FIRST, Stage.SETUP_DATABASE, "users")
    reporter.started(FIRST, Stage.SETUP_DATABASE, "users")  # a retried invocation: no-op
    reporter.finished(FIRST, Stage.SETUP_DATABASE, StageStatus.SUCCEEDED, "done")
    bodies = [ProgressEvent.model_validate_json(m["Body"]) for m in fifo.drain()]
    assert [(b.stage, b.status) for b in bodies] == [
        (Stage.SETUP_DATABASE, StageStatus.STARTED),
        (Stage.SETUP_DATABASE, StageStatus.SUCCEEDED),
    ]


def test_a_standard_topic_gets_no_fifo_parameters(aws: AwsClients, topic_arn: str, sqs_progress):
    # SNS refuses a deduplication id on a standard topic: publishing proves none is sent.
    publisher = ProgressPublisher(aws.sns, topic_arn)
    assert not publisher.fifo
    publisher.publish(event(FIRST, Stage.VALIDATE, StageStatus.STARTED))
    sqs = aws.client("sqs")
    [message] = sqs.receive_message(QueueUrl=sqs_progress, MaxNumberOfMessages=10)["Messages"]
    assert ProgressEvent.model_validate_json(message["Body"]).operation_id == FIRST
