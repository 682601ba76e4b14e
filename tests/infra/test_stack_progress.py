"""Progress delivery in the synthesized template: the FIFO topic, its queues, dead letters."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import constants
from tests.infra.stack_queries import (
    env_of,
    function_named,
    progress_queues,
    queue_id,
)

pytestmark = pytest.mark.infra
CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"


def test_progress_is_a_fifo_topic_feeding_one_fifo_queue_per_consumer(synthesized):
    topic_id = synthesized.logical_id(synthesized.stack.progress_topic)
    topic = synthesized.resources[topic_id]["Properties"]
    assert topic["FifoTopic"] is True
    assert topic["TopicName"].endswith(".fifo")  # what pipeline.progress keys FIFO on
    subscriptions = [
        s["Properties"]
        for s in synthesized.of_type("AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": topic_id}
    ]
    # Lambda cannot subscribe to a FIFO topic: every consumer reads a raw-delivery queue.
    assert {s["Protocol"] for s in subscriptions} == {"sqs"}
    assert all(s["RawMessageDelivery"] is True for s in subscriptions)
    consumers = progress_queues(synthesized)
    notifier, _ = function_named(synthesized, constants.NOTIFIER)
    metrics, _ = function_named(synthesized, constants.PROGRESS_METRICS)
    assert set(consumers) == {notifier, metrics}
    assert sorted(queue_id(s["Endpoint"]) for s in subscriptions) == sorted(consumers.values())
    env = env_of(synthesized, constants.RESTORE_CLUSTER)
    assert env["AURORA_RESTORE_PROGRESS_TOPIC_ARN"] == {"Ref": topic_id}


@pytest.mark.parametrize("spec", [constants.NOTIFIER, constants.PROGRESS_METRICS])
def test_progress_queues_keep_messages_through_long_outages_then_dead_letter_them(
    synthesized, spec
):
    key = {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.key), "Arn"]}
    function_id, function = function_named(synthesized, spec)
    queue = synthesized.resources[progress_queues(synthesized)[function_id]]["Properties"]
    assert queue["FifoQueue"] is True and queue["KmsMasterKeyId"] == key
    assert queue["MessageRetentionPeriod"] == 4 * 24 * 3600
    timeout = function["Properties"]["Timeout"]
    # Retries are spaced by the visibility timeout (at least 6x the function's timeout, as the
    # SQS event source asks) and outlast a Slack outage of hours before dead-lettering.
    assert queue["VisibilityTimeout"] >= 6 * timeout
    redrive = queue["RedrivePolicy"]
    assert redrive["maxReceiveCount"] >= 50
    assert redrive["maxReceiveCount"] * queue["VisibilityTimeout"] >= 6 * 3600
    dead_letters = synthesized.resources[queue_id(redrive["deadLetterTargetArn"])]["Properties"]
    assert dead_letters["FifoQueue"] is True and dead_letters["KmsMasterKeyId"] == key
    assert dead_letters["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_the_notifier_reports_batch_item_failures_in_small_bounded_batches(synthesized):
    notifier, _ = function_named(synthesized, constants.NOTIFIER)
    (mapping,) = [
        m["Properties"]
        for m in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": notifier}
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= mapping["BatchSize"] <= 10  # the most a FIFO queue hands out at once
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == constants.NOTIFIER_MAX_CONCURRENCY


def test_progress_queues_refuse_plain_http_and_take_messages_only_from_the_topic(synthesized):
    topic = {"Ref": synthesized.logical_id(synthesized.stack.progress_topic)}
    queues = synthesized.of_type("AWS::SQS::Queue")
    # Two consumers, each with its dead-letter queue, and the lazy work's failure queue (which
    # takes messages from Lambda's destination, through the endpoint's role, not from the topic).
    assert len(queues) == 5
    policies = {
        p["Properties"]["Queues"][0]["Ref"]: p["Properties"]["PolicyDocument"]["Statement"]
        for p in synthesized.of_type("AWS::SQS::QueuePolicy").values()
    }
    assert set(policies) == set(queues)
    for queue, statements in policies.items():
        assert statements[0] == {
            "Action": "sqs:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": {"Fn::GetAtt": [queue, "Arn"]},
        }
        for statement in statements[1:]:
            assert statement["Action"] == "sqs:SendMessage"
            assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
            assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": topic}}


def test_the_policy_reaches_the_bot_as_a_parameter(synthesized):
    (parameter,) = synthesized.of_type("AWS::SSM::Parameter").values()
    assert parameter["Properties"]["Value"] == synthesized.config.policy_text()
    env = env_of(synthesized, constants.SLACK_ENDPOINT)
    assert env["AURORA_RESTORE_POLICY_PARAMETER"] == {
        "Ref": next(iter(synthesized.of_type("AWS::SSM::Parameter")))
    }
