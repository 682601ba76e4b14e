"""Progress events → Slack: one thread reply per event and a fresh card checklist.

The notifier reads the FIFO progress queue through a Lambda event source mapping with
`ReportBatchItemFailures`. Records arrive in publish order within each operation (its message
group). When an event cannot be delivered now (Slack down, a 429 that outlasts the retries, a
concurrent delivery), it and every later record of the same operation in the batch are reported
as failures: SQS hands them out again, still in order, after the visibility timeout, while the
other operations' events go on. A long Slack outage therefore delays messages and loses none.

Duplicates are dropped (DeliveryLog). Slack's 429s are waited out (Retry-After) and 5xx or
connection errors retried a bounded number of times inside one delivery. The restore itself
never waits for Slack.

A refusal no retry can change (the message's blocks, a channel the app is not in or that was
archived, a deleted card) is logged and the event dropped: redelivering it would hold back every
later event of the operation for the queue's whole retention and then dead-letter them all, for
a message Slack will never take. The operation's outcome (its terminal event) is not left at
that: the requester is told directly, once (bot/requester.py): in a direct message, which lasts
and notifies, else ephemerally where they asked or through the command's response_url. A
failure always ends in a terminal event that carries its error, so telling that event is
telling the failure, once rather than once per failed stage.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bot.container import default_dependencies
from bot.delivery import DeliveryLog
from bot.deps import BotDependencies
from bot.render import progress_text
from bot.requester import message_requester, tell_requester
from bot.slack import PERMANENT_SLACK_ERRORS, slack_error_code
from bot.slack_messages import refresh_card, reply_in_thread
from pipeline.models import Operation, ProgressEvent, StageStatus

logger = logging.getLogger("aurora_restore.bot.notifier")

# Why the thread and card can no longer be reached, in the requester's words.
_UNREACHABLE = {
    "not_in_channel": "the app is no longer in that channel",
    "channel_not_found": "the app is no longer in that channel",
    "is_archived": "the channel was archived",
    "is_inactive": "the channel was archived",
    "message_not_found": "the card was deleted",
    "cant_update_message": "the card was deleted",
    "thread_not_found": "the card was deleted",
}


def delivery_log(deps: BotDependencies) -> DeliveryLog:
    return DeliveryLog(deps.aws.dynamodb, deps.pipeline.settings.operations_table)


def deliver(deps: BotDependencies, event: ProgressEvent, log: DeliveryLog) -> bool:
    """Deliver one event; False when it was a duplicate of a delivered one."""
    claim = log.claim(event.event_id)
    if claim is None:
        return False
    operation: Operation | None = None
    try:
        operation = deps.store.get(event.operation_id)
        if operation.slack_message_ts:
            if not claim.replied:
                reply_in_thread(deps, operation, progress_text(event))
                log.mark_replied(event.event_id)
            refresh_card(deps, operation)
        elif event.operation_status is not None or event.status == StageStatus.FAILED:
            # Ended before any card was posted: tell the requester where they asked.
            text = f"`{operation.operation_id}`: {progress_text(event)}"
            if not (
                tell_requester(deps, operation, text) or message_requester(deps, operation, text)
            ):
                logger.error("nobody could be told how %s ended", operation.operation_id)
        # Earlier events (before the card exists) are shown by the card's checklist once posted.
    except Exception as exc:
        code = slack_error_code(exc)
        if code not in PERMANENT_SLACK_ERRORS:
            log.release(event.event_id)
            raise
        logger.error(
            "Slack refused progress event %s of %s for good (%s); it is dropped, not retried",
            event.event_id,
            event.operation_id,
            code,
        )
        ended = event.operation_status is not None
        if ended and operation is not None and not claim.told_elsewhere:
            _tell_outcome_elsewhere(deps, operation, event, log, str(code))
    log.mark_delivered(event.event_id)
    return True


def _tell_outcome_elsewhere(
    deps: BotDependencies,
    operation: Operation,
    event: ProgressEvent,
    log: DeliveryLog,
    refusal: str,
) -> None:
    """The thread or card refused the outcome for good: tell the requester directly. Once: a
    retry after a transient failure here finds the claim marked."""
    channel = operation.slack_channel or operation.request.origin.get("channel_id", "")
    why = _UNREACHABLE.get(refusal, f"Slack answered `{refusal}`")
    text = (
        f":warning: I could not post this in the thread of your restore's card in <#{channel}> "
        f"({why}), so here it is:\n`{operation.operation_id}`: {progress_text(event)}"
    )
    try:
        told = message_requester(deps, operation, text) or tell_requester(deps, operation, text)
    except Exception:
        log.release(event.event_id)
        raise
    if told:
        log.mark_told_elsewhere(event.event_id)
    else:
        logger.error("nobody could be told how %s ended", operation.operation_id)


@dataclass(frozen=True)
class QueuedEvent:
    """One SQS record: its id (what a batch item failure names), its message group, and the
    progress event it carries (None when the body is not a progress event)."""

    message_id: str
    group: str
    event: ProgressEvent | None


def parse_record(record: Mapping[str, Any]) -> QueuedEvent:
    """An SQS record whose body is the event (raw delivery) or an SNS envelope around it."""
    message_id = str(record.get("messageId", ""))
    event: ProgressEvent | None
    try:
        event = ProgressEvent.model_validate_json(_event_json(str(record["body"])))
    except (KeyError, ValueError, ValidationError):
        event = None
    attributes = record.get("attributes") or {}
    group = attributes.get("MessageGroupId") or (event.operation_id if event else message_id)
    return QueuedEvent(message_id, str(group), event)


def _event_json(body: str) -> str:
    """Raw delivery gives the event itself; without it SNS wraps it in a notification."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if isinstance(document, dict) and document.get("Type") == "Notification":
        return str(document.get("Message", ""))
    return body


@dataclass
class BatchOutcome:
    delivered: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: list[str] = field(default_factory=list)  # message ids to hand out again, in order

    def response(self) -> dict[str, list[dict[str, str]]]:
        """The partial batch response Lambda's SQS event source mapping reads."""
        return {"batchItemFailures": [{"itemIdentifier": m} for m in self.failed]}


def deliver_batch(
    deps: BotDependencies, records: Iterable[Mapping[str, Any]], log: DeliveryLog
) -> BatchOutcome:
    """Deliver records in order; a failed record holds back the rest of its group only."""
    outcome = BatchOutcome()
    held_back: set[str] = set()
    for record in records:
        queued = parse_record(record)
        if queued.group in held_back:
            outcome.failed.append(queued.message_id)  # keeps its place behind the failure
            continue
        if queued.event is None:
            # Retrying can never make it a progress event, and a retried record would hold back
            # its group until it reached the dead-letter queue. Its body is not logged.
            outcome.rejected += 1
            logger.error("dropped SQS message %s: not a progress event", queued.message_id)
            continue
        try:
            delivered = deliver(deps, queued.event, log)
        except Exception as exc:  # any failure: this operation waits, the others go on
            held_back.add(queued.group)
            outcome.failed.append(queued.message_id)
            logger.warning(
                "progress event %s not delivered (%s); SQS will hand it out again",
                queued.event.event_id,
                type(exc).__name__,
            )
            continue
        if delivered:
            outcome.delivered += 1
        else:
            outcome.duplicates += 1
    return outcome


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    deps = default_dependencies()
    outcome = deliver_batch(deps, event.get("Records", []), delivery_log(deps))
    logger.info(
        "progress batch: %d delivered, %d duplicates, %d rejected, %d to retry",
        outcome.delivered,
        outcome.duplicates,
        outcome.rejected,
        len(outcome.failed),
    )
    return outcome.response()
