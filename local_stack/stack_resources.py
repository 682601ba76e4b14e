"""The local stack's AWS resources, as infra deploys them (the tables, the data key, the progress
topic and queues, the Slack endpoint's lazy-work failure queue), and the process environment
that points every client at the emulation."""

from __future__ import annotations

import io
import json
import zipfile

from infra.constants import PROGRESS_MAX_RECEIVES
from local_stack.functions import BOT_FUNCTION
from local_stack.lambda_runtime import LambdaRuntime
from local_stack.queue_poller import queue_arn
from pipeline.aws import AwsClients
from pipeline.store_schema import create_tables

PROGRESS_TOPIC = "aurora-restore-progress.fifo"
NOTIFIER_QUEUE = "aurora-restore-notifier.fifo"
NOTIFIER_DEAD_LETTER_QUEUE = "aurora-restore-notifier-dead-letters.fifo"
LAZY_WORK_FAILURES_QUEUE = "aurora-restore-slack-lazy-work-failures"
SESSION_TOKEN = "local"  # noqa: S105 (the harness's fake session token)


def create_resources(clients: AwsClients, runtime: LambdaRuntime) -> dict[str, str]:
    names = {
        "operations_table": "aurora-restore-operations",
        "audit_table": "aurora-restore-audit",
    }
    create_tables(clients.dynamodb, names["operations_table"], names["audit_table"])
    # The data key (infra's DataKey): snapshot copies, the progress topic and every queue.
    key = clients.client("kms").create_key(Description="aurora-restore data")
    names["kms_key_id"] = key["KeyMetadata"]["Arn"]
    names.update(_create_progress_delivery(clients, names["kms_key_id"]))
    names.update(_create_lazy_work_failures(clients, runtime, names["kms_key_id"]))
    return names


def _create_lazy_work_failures(
    clients: AwsClients, runtime: LambdaRuntime, key_arn: str
) -> dict[str, str]:
    """As infra.slack_access deploys it: the Slack endpoint's on-failure destination, where its
    lazy work goes once Lambda's retries are exhausted (sent with the endpoint's role)."""
    sqs = clients.client("sqs")
    url = sqs.create_queue(
        QueueName=LAZY_WORK_FAILURES_QUEUE, Attributes={"KmsMasterKeyId": key_arn}
    )["QueueUrl"]
    runtime.send_failures_to(
        BOT_FUNCTION, lambda record: sqs.send_message(QueueUrl=url, MessageBody=record)
    )
    return {
        "lazy_work_failures_queue_url": url,
        "lazy_work_failures_queue_arn": queue_arn(sqs, url),
    }


def _create_progress_delivery(clients: AwsClients, key_arn: str) -> dict[str, str]:
    """As infra/messaging.py deploys it: FIFO topic → FIFO queue (raw delivery) with a FIFO
    dead-letter queue, all encrypted with the data key; the queue poller plays Lambda's event
    source mapping."""
    sqs = clients.client("sqs")
    encrypted = {"KmsMasterKeyId": key_arn}
    topic_arn = clients.sns.create_topic(
        Name=PROGRESS_TOPIC, Attributes={"FifoTopic": "true", **encrypted}
    )["TopicArn"]
    dead_letters = sqs.create_queue(
        QueueName=NOTIFIER_DEAD_LETTER_QUEUE, Attributes={"FifoQueue": "true", **encrypted}
    )["QueueUrl"]
    redrive = {
        "deadLetterTargetArn": queue_arn(sqs, dead_letters),
        "maxReceiveCount": PROGRESS_MAX_RECEIVES,
    }
    queue_url = sqs.create_queue(
        QueueName=NOTIFIER_QUEUE,
        Attributes={"FifoQueue": "true", "RedrivePolicy": json.dumps(redrive), **encrypted},
    )["QueueUrl"]
    notifier_queue_arn = queue_arn(sqs, queue_url)
    clients.sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=notifier_queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return {
        "topic_arn": topic_arn,
        "progress_queue_url": queue_url,
        "progress_queue_arn": notifier_queue_arn,
        "progress_dead_letter_queue_url": dead_letters,
    }


def process_aws_env(endpoint_url: str, port: int, region: str) -> dict[str, str]:
    # Fake credentials and an endpoint for every boto3 client in the process (Bolt's own too),
    # so nothing can reach a real AWS account from the local stack.
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ENDPOINT_URL": endpoint_url,
        # One quick SDK retry, then the state machine's Retry: faults injected by the tests meet
        # the same retry layers as on AWS, without botocore's multi-second backoff.
        "AWS_MAX_ATTEMPTS": "2",
        # Every function shares this process (and its clients): adaptive mode's client-side rate
        # limiter would let one injected throttle slow every later call of every function.
        "AWS_RETRY_MODE": "standard",
        "MOTO_PORT": str(port),  # moto's Step Functions interpreter calls Lambda on this port
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "AuroraRestoreLocal",
    }


def empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "The local stack runs this function's handler in process.")
    return buffer.getvalue()
