"""Progress delivery: a FIFO topic, and per consumer a FIFO queue with its dead-letter queue.

The pipeline publishes each operation's events as one message group, deduplicated by event id
(pipeline.progress). Each consumer reads its own queue (raw message delivery: the body is the
event) through an SQS event source, so order holds per operation and a failed message comes back
after the visibility timeout instead of being dropped after Lambda's two asynchronous retries.
Lambda cannot subscribe to a FIFO topic directly; the queue in between is the supported route.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants as names
from infra.constants import FunctionSpec


class ProgressDelivery(Construct):
    """`topic` is what the pipeline and the bot publish to; `add_consumer` wires a function."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self._key = key
        self.topic = sns.Topic(
            self,
            "Topic",
            fifo=True,  # CDK names it `<generated>.fifo`, which the publisher recognises
            display_name="Restore progress events",
            master_key=key,
            enforce_ssl=True,
        )
        self.queues: dict[FunctionSpec, sqs.Queue] = {}
        self.dead_letter_queues: dict[FunctionSpec, sqs.Queue] = {}

    def _queue(
        self,
        construct_id: str,
        retention_days: int,
        *,
        visibility_timeout: Duration | None = None,
        dead_letter_queue: sqs.DeadLetterQueue | None = None,
    ) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            fifo=True,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self._key,
            enforce_ssl=True,
            retention_period=Duration.days(retention_days),
            visibility_timeout=visibility_timeout,
            dead_letter_queue=dead_letter_queue,
        )

    def add_consumer(
        self,
        spec: FunctionSpec,
        function: lambda_.IFunction,
        *,
        report_batch_item_failures: bool,
        max_concurrency: int | None = None,
    ) -> sqs.Queue:
        dead_letters = self._queue(
            f"{spec.construct_id}DeadLetterQueue", names.DEAD_LETTER_RETENTION_DAYS
        )
        queue = self._queue(
            f"{spec.construct_id}Queue",
            names.PROGRESS_RETENTION_DAYS,
            visibility_timeout=Duration.seconds(names.visibility_timeout_seconds(spec)),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=dead_letters, max_receive_count=names.PROGRESS_MAX_RECEIVES
            ),
        )
        self.topic.add_subscription(subscriptions.SqsSubscription(queue, raw_message_delivery=True))
        function.add_event_source(
            event_sources.SqsEventSource(
                queue,
                batch_size=names.PROGRESS_BATCH_SIZE,
                report_batch_item_failures=report_batch_item_failures,
                max_concurrency=max_concurrency,
            )
        )
        self.queues[spec] = queue
        self.dead_letter_queues[spec] = dead_letters
        return queue
