"""Lazy work that crashes three times is kept in the Slack endpoint's on-failure destination, sent
with the endpoint's own role (its CDK policy, enforced by the local stack), as Lambda does."""

from __future__ import annotations

import json

from local_stack.functions import BOT_FUNCTION
from local_stack.stack import LocalStack


class ColdStartFailure(RuntimeError):
    """What a bad setting read at cold start raises before Bolt can catch anything."""


def test_lazy_work_that_keeps_crashing_ends_in_the_failure_queue(stack: LocalStack) -> None:
    calls: list[dict] = []

    def crashing_endpoint(event: dict, context: object) -> dict:
        calls.append(event)
        raise ColdStartFailure("AURORA_RESTORE_STATE_MACHINE_ARN is not set")

    stack.runtime.register(BOT_FUNCTION, crashing_endpoint)  # a broken deployment of the endpoint
    lazy_event = {"lazy_request": {"type": "command", "command": "/restore"}}

    stack.runtime.invoke_async(BOT_FUNCTION, lazy_event)
    assert stack.runtime.wait_idle(timeout=30)

    assert len(calls) == 3  # the invocation and Lambda's two retries
    sqs = stack.clients.client("sqs")
    received = sqs.receive_message(
        QueueUrl=stack.info["lazy_work_failures_queue_url"], WaitTimeSeconds=1
    ).get("Messages", [])
    assert len(received) == 1
    record = json.loads(received[0]["Body"])
    assert record["requestPayload"] == lazy_event
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(f":function:{BOT_FUNCTION}:$LATEST")
    assert record["responsePayload"]["errorType"] == "ColdStartFailure"
