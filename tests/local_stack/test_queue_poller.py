"""The local stand-in for Lambda's SQS event source mapping: batches, partial batch failures,
whole-batch failures, the retry delay and the redrive to the dead-letter queue, on a moto FIFO
queue with a function registered in the in-process Lambda runtime."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from local_stack.lambda_runtime import LambdaRuntime
from local_stack.queue_poller import QueuePoller, queue_arn, queued_messages
from local_stack.scenario import wait_for
from pipeline.aws import AwsClients

FUNCTION = "consumer"
RETRY_DELAY = 0.2


@dataclass
class Queues:
    sqs: Any
    url: str
    arn: str
    dead_letters: str

    def send(self, group: str, *bodies: str) -> None:
        for body in bodies:
            self.sqs.send_message(
                QueueUrl=self.url,
                MessageBody=body,
                MessageGroupId=group,
                MessageDeduplicationId=body,
            )


@pytest.fixture
def queues(aws: AwsClients) -> Queues:
    sqs = aws.client("sqs")
    dead_letters = sqs.create_queue(QueueName="dlq.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    redrive = {"deadLetterTargetArn": queue_arn(sqs, dead_letters), "maxReceiveCount": 3}
    url = sqs.create_queue(
        QueueName="work.fifo",
        Attributes={"FifoQueue": "true", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    return Queues(sqs, url, queue_arn(sqs, url), dead_letters)


@pytest.fixture
def run_poller(queues: Queues) -> Iterator[Callable[[Callable[[dict], Any]], QueuePoller]]:
    started: list[QueuePoller] = []

    def run(function: Callable[[dict], Any]) -> QueuePoller:
        runtime = LambdaRuntime(account="123456789012", region="us-east-1")
        runtime.register(FUNCTION, lambda event, _context: function(event))
        poller = QueuePoller(
            sqs=queues.sqs,
            queue_url=queues.url,
            queue_arn=queues.arn,
            function_name=FUNCTION,
            runtime=runtime,
            retry_delay=RETRY_DELAY,
        )
        started.append(poller.start())
        return poller

    yield run
    for poller in started:
        poller.stop()


def drained(queues: Queues) -> bool:
    return queued_messages(queues.sqs, queues.url) == 0


def test_reported_failures_come_back_in_order_and_the_rest_is_deleted(queues, run_poller):
    queues.send("a", "a1", "a2", "a3")
    queues.send("b", "b1", "b2")
    seen: list[str] = []
    fail_once = {"a2"}
    lock = threading.Lock()

    def consume(event: dict) -> dict:
        failures: list[dict[str, str]] = []
        held_back: set[str] = set()
        for record in event["Records"]:
            assert record["eventSource"] == "aws:sqs"
            assert record["eventSourceARN"] == queues.arn
            group = record["attributes"]["MessageGroupId"]
            body = record["body"]
            if group in held_back or body in fail_once:
                fail_once.discard(body)
                held_back.add(group)
                failures.append({"itemIdentifier": record["messageId"]})
                continue
            with lock:
                seen.append(body)
        return {"batchItemFailures": failures}

    poller = run_poller(consume)
    wait_for("the queue to drain", lambda: drained(queues) and len(seen) == 5, 10)
    assert [body for body in seen if body.startswith("a")] == ["a1", "a2", "a3"]
    assert [body for body in seen if body.startswith("b")] == ["b1", "b2"]
    assert poller.failed_records == 2  # a2, and a3 held back behind it


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(RuntimeError("the function crashed"), id="function-error"),
        pytest.param({"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}, id="bad-id"),
    ],
)
def test_a_failed_invocation_or_a_bad_answer_fails_the_whole_batch(queues, run_poller, answer):
    queues.send("a", "a1", "a2")
    calls: list[list[str]] = []

    def consume(event: dict) -> Any:
        calls.append([record["body"] for record in event["Records"]])
        if len(calls) == 1:
            if isinstance(answer, Exception):
                raise answer
            return answer
        return None  # an empty answer is success for every record

    run_poller(consume)
    wait_for("the queue to drain", lambda: drained(queues) and len(calls) >= 2, 10)
    assert calls[0] == calls[1] == ["a1", "a2"]


def test_a_message_failing_every_receive_moves_to_the_dead_letter_queue(queues, run_poller):
    queues.send("a", "poison")

    def consume(event: dict) -> dict:
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    poller = run_poller(consume)
    wait_for("the dead-letter queue", lambda: queued_messages(queues.sqs, queues.dead_letters), 10)
    assert drained(queues)
    assert poller.invocations == 3  # the redrive policy's maxReceiveCount
