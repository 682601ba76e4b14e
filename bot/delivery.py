"""Exactly-once delivery of progress events to Slack on top of at-least-once SNS and SQS.

One marker item per event id in the operations table, moved by conditional writes:
`delivering` (claimed, with a lease) → `delivered`. A failed delivery releases its claim so the
retry delivers it; a duplicate of a delivered event is dropped. `replied` remembers that the
thread reply was posted, so a retry after a failed card update does not post it twice, and
`told_elsewhere` that the requester was told of the outcome directly (the thread or card being
refused), so a retry does not tell them twice. The FIFO
queue deduplicates only within five minutes and redelivers after a timeout; these markers are
what make a late duplicate harmless.

Not Powertools idempotency: it keeps one record per key that is in progress or done, and deletes
it when the function raises. A delivery has steps that must not repeat when a later one fails (the
thread reply before the card update, telling the requester directly): deleting the record on the
card's failure would post the reply again on the retry. These markers keep each step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.aws_errors import aws_call, is_code
from pipeline.errors import RetryableError
from pipeline.store_schema import OPERATION_KEY, TTL_ATTRIBUTE

MARKER_PREFIX = "delivery#"
LEASE_SECONDS = 120  # longer than one delivery with all its Slack retries
KEEP_SECONDS = 14 * 24 * 3600
_CONDITION_FAILED = "ConditionalCheckFailedException"


class DeliveryInProgressError(RetryableError):
    """Another invocation is delivering this event right now; retry later."""


@dataclass(frozen=True)
class Claim:
    event_id: str
    replied: bool
    told_elsewhere: bool = False


class DeliveryLog:
    def __init__(
        self, dynamodb: Any, table: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._clock = clock

    def _key(self, event_id: str) -> dict[str, Any]:
        return {OPERATION_KEY: {"S": MARKER_PREFIX + event_id}}

    def claim(self, event_id: str) -> Claim | None:
        """Claim the event for delivery; None when it was already delivered (a duplicate)."""
        now = int(self._clock())
        try:
            with aws_call("claim progress event"):
                answer = self._db.update_item(
                    TableName=self._table,
                    Key=self._key(event_id),
                    UpdateExpression="SET #state = :delivering, claimed_at = :now, #ttl = :ttl",
                    ConditionExpression=(
                        "attribute_not_exists(#pk) OR #state = :pending "
                        "OR (#state = :delivering AND claimed_at < :stale)"
                    ),
                    ExpressionAttributeNames={
                        "#pk": OPERATION_KEY,
                        "#state": "state",
                        "#ttl": TTL_ATTRIBUTE,
                    },
                    ExpressionAttributeValues={
                        ":delivering": {"S": "delivering"},
                        ":pending": {"S": "pending"},
                        ":now": {"N": str(now)},
                        ":stale": {"N": str(now - LEASE_SECONDS)},
                        ":ttl": {"N": str(now + KEEP_SECONDS)},
                    },
                    ReturnValues="ALL_NEW",
                )
        except Exception as exc:
            if not is_code(exc.__cause__ or exc, _CONDITION_FAILED):
                raise
            state = self._state(event_id)
            if state == "delivered":
                return None
            raise DeliveryInProgressError(f"event {event_id} is being delivered") from exc
        attributes = answer["Attributes"]
        return Claim(
            event_id,
            replied=bool(attributes.get("replied", {}).get("BOOL", False)),
            told_elsewhere=bool(attributes.get("told_elsewhere", {}).get("BOOL", False)),
        )

    def mark_replied(self, event_id: str) -> None:
        self._set(event_id, "SET replied = :yes", {":yes": {"BOOL": True}})

    def mark_told_elsewhere(self, event_id: str) -> None:
        self._set(event_id, "SET told_elsewhere = :yes", {":yes": {"BOOL": True}})

    def mark_delivered(self, event_id: str) -> None:
        self._set(event_id, "SET #state = :s", {":s": {"S": "delivered"}})

    def release(self, event_id: str) -> None:
        """Give the claim back after a failure, so the retry delivers the event."""
        self._set(event_id, "SET #state = :s", {":s": {"S": "pending"}})

    def _set(self, event_id: str, expression: str, values: dict[str, Any]) -> None:
        names = {"#state": "state"} if "#state" in expression else {}
        with aws_call("record progress delivery"):
            self._db.update_item(
                TableName=self._table,
                Key=self._key(event_id),
                UpdateExpression=expression,
                ExpressionAttributeValues=values,
                **({"ExpressionAttributeNames": names} if names else {}),
            )

    def _state(self, event_id: str) -> str | None:
        with aws_call("read progress delivery"):
            answer = self._db.get_item(
                TableName=self._table, Key=self._key(event_id), ConsistentRead=True
            )
        state = answer.get("Item", {}).get("state", {}).get("S")
        return str(state) if state else None
