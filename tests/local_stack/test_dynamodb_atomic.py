"""Concurrent conditional writes to one item: exactly one wins, as on DynamoDB."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from pipeline.aws import AwsClients

ROUNDS, CONTENDERS = 30, 6


def test_only_one_of_many_concurrent_conditional_updates_succeeds(aws: AwsClients) -> None:
    dynamodb = aws.dynamodb
    dynamodb.create_table(
        TableName="contended",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for round_number in range(ROUNDS):
        key = {"id": {"S": f"op-{round_number}"}}
        dynamodb.put_item(TableName="contended", Item={**key, "status": {"S": "PENDING"}})
        barrier = threading.Barrier(CONTENDERS)
        winners: list[str] = []

        def decide(
            name: str, key: dict = key, barrier: threading.Barrier = barrier, won: list = winners
        ) -> None:
            barrier.wait()
            try:
                dynamodb.update_item(
                    TableName="contended",
                    Key=key,
                    UpdateExpression="SET #s = :decided, decided_by = :who",
                    ConditionExpression="#s = :pending",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={
                        ":decided": {"S": "APPROVED"},
                        ":pending": {"S": "PENDING"},
                        ":who": {"S": name},
                    },
                )
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
            else:
                won.append(name)

        threads = [threading.Thread(target=decide, args=(f"u{n}",)) for n in range(CONTENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        assert len(winners) == 1, f"round {round_number}: {winners} all approved"
        item = dynamodb.get_item(TableName="contended", Key=key)["Item"]
        assert item["decided_by"]["S"] == winners[0]


@pytest.fixture(autouse=True)
def _many_switches() -> Iterator[None]:
    """Switch threads often, so a race in the emulation shows within the rounds above."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)
