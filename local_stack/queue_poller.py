"""Lambda's SQS event source mapping, for the local stack: poll a queue, pass batches to a
function, delete what succeeded.

As on AWS: at most ten records per invocation, in the event shape Lambda passes (`Records` with
`messageId`, `body`, `attributes`, ...); the function's `batchItemFailures` name the records that
stay in the queue; a function error, or an answer naming a record not in the batch, fails the
whole batch. Failed records come back when their visibility timeout ends, counted against the
queue's redrive policy by SQS (moto) itself.

moto counts visibility timeouts in whole seconds, too coarse for a scaled-down stack: the poller
receives with a generous lease and makes failed records visible again itself, `retry_delay`
seconds after they were received (the queue's visibility timeout at the stack's time scale).

The mapping polls with the function's execution role, as Lambda's does: the role needs
sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes on the queue ("Creating and
configuring an Amazon SQS event source mapping",
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html, and the SQS Developer
Guide's "Configuring an Amazon SQS queue to trigger an AWS Lambda function"). A refused call
leaves the messages in the queue and the mapping enabled: it keeps polling (less often) and logs
the refusal; `last_error` holds it. AWS documents no automatic disabling of an SQS mapping (it
does for Amazon MQ, EVENT_SOURCE_AUTHZ_ERROR: .../lambda/latest/dg/services-mq-errors.html).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from local_stack.lambda_runtime import LambdaRuntime

log = logging.getLogger(__name__)

MAX_BATCH = 10  # the most SQS hands out per receive, and a FIFO event source per invocation
LEASE_SECONDS = 120  # longer than any local invocation: moto never releases a batch on its own
IDLE_WAIT_SECONDS = 0.05  # between empty receives; also how soon `stop()` is noticed
REFUSED_WAIT_SECONDS = 0.5  # after SQS refused a call (the role may not consume the queue)


@dataclass
class _Retry:
    receipt_handle: str
    due: float  # time.monotonic() when the message becomes visible again


class QueuePoller:
    """One background thread per queue; `start()`, then `stop()` (bounded)."""

    def __init__(
        self,
        *,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        function_name: str,
        runtime: LambdaRuntime,
        retry_delay: float,
        batch_size: int = MAX_BATCH,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._region = queue_arn.split(":")[3]
        self._function = function_name
        self._runtime = runtime
        self._retry_delay = retry_delay
        self._batch_size = min(batch_size, MAX_BATCH)
        self._retries: list[_Retry] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.invocations = 0
        self.failed_records = 0
        self.last_error: str | None = None  # the last call SQS refused, until one succeeds

    def start(self) -> QueuePoller:
        self._thread = threading.Thread(
            target=self._run, name=f"sqs-poller-{self._function}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        """Stop after the batch in hand (if any); undelivered messages stay in the queue."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def polling(self) -> bool:
        """The mapping is enabled: its poller runs until `stop()`."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = IDLE_WAIT_SECONDS
            try:
                with self._runtime.acting_as(self._function):  # the function's role polls
                    busy = self._poll_once()
                self.last_error = None
            except ClientError as exc:  # refused (AccessDenied): the messages stay queued
                self._refused(exc)
                busy, wait = False, REFUSED_WAIT_SECONDS
            except Exception:  # the stack is stopping, or moto hiccuped: try again shortly
                log.debug("polling %s failed", self._queue_url, exc_info=True)
                busy = False
            if not busy:
                self._stop.wait(wait)

    def _refused(self, exc: ClientError) -> None:
        error = exc.response.get("Error", {})
        described = f"{error.get('Code', '')}: {error.get('Message', '')}"
        if described != self.last_error:  # once per refusal, not once per poll
            log.warning("the %s event source mapping was refused: %s", self._function, described)
        self.last_error = described

    def _poll_once(self) -> bool:
        """Release due retries, then hand one batch to the function; False when there was none."""
        self._release_due_retries()
        received_at = time.monotonic()
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=0,  # no long polls: `stop()` must not wait for one to end
            VisibilityTimeout=LEASE_SECONDS + math.ceil(self._retry_delay),
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return False
        failed = self._invoke(messages)
        for message in messages:
            if message["MessageId"] in failed:
                due = received_at + self._retry_delay
                self._retries.append(_Retry(message["ReceiptHandle"], due))
            else:
                self._sqs.delete_message(
                    QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        self.failed_records += len(failed)
        return True

    def _invoke(self, messages: list[dict[str, Any]]) -> set[str]:
        """The ids of the records that failed (all of them when the invocation failed)."""
        batch_ids = {message["MessageId"] for message in messages}
        event = {"Records": [self._record(message) for message in messages]}
        self.invocations += 1
        result = self._runtime.invoke(self._function, event)
        if result.error_type is not None:
            log.warning(
                "%s failed a batch of %d: %s", self._function, len(messages), result.error_type
            )
            return batch_ids
        try:
            answer = json.loads(result.payload or b"null")
        except ValueError:
            return batch_ids
        items = answer.get("batchItemFailures") if isinstance(answer, dict) else None
        if not items:
            return set()
        failed = {str(item.get("itemIdentifier") or "") for item in items}
        # Lambda treats an answer naming anything outside the batch as a failure of all of it.
        return failed if failed <= batch_ids else batch_ids

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value["DataType"],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._queue_arn,
            "awsRegion": self._region,
        }

    def _release_due_retries(self) -> None:
        now = time.monotonic()
        due = [retry for retry in self._retries if retry.due <= now]
        self._retries = [retry for retry in self._retries if retry.due > now]
        for retry in due:
            try:
                self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url,
                    ReceiptHandle=retry.receipt_handle,
                    VisibilityTimeout=0,
                )
            except Exception:  # noqa: S112 - the lease's end releases it all the same, later
                continue


def queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def queued_messages(sqs: Any, queue_url: str) -> int:
    """Messages in the queue: waiting, in flight (received, not yet deleted) or delayed."""
    counts = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(value) for value in counts.values())
