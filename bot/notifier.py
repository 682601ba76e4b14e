"""Progress events → Slack: one thread reply per event and a fresh card checklist.

The notifier reads the FIFO progress queue through a Lambda event source mapping with
`ReportBatchItemFailures`. Records arrive in publish order within each operation (its message
group). When an event cannot be delivered now (Slack down, a 429 that outlasts the retries, a
concurrent delivery), it and every later record of the same operation in the batch are reported
as failures (Powertools' SqsFifoPartialProcessor, skip_group_on_error): SQS hands them out
again, still in order, after the visibility timeout, while the other operations' events go on. A long Slack outage therefore delays messages and loses none.

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

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from bot.container import default_dependencies
from bot.delivery import DeliveryLog
from bot.deps import BotDependencies
from bot.render import progress_text
from bot.requester import message_requester, tell_requester
from bot.slack import PERMANENT_SLACK_ERRORS, slack_error_code
from bot.slack_messages import refresh_card, reply_in_thread
from pipeline.models import Operation, ProgressEvent, StageStatus
from pipeline.progress_records import progress_event_from_sqs_body

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


def parse_event(body: str) -> ProgressEvent | None:
    """The progress event an SQS body carries, or None when it is not one."""
    try:
        return progress_event_from_sqs_body(body)
    except ValueError:
        return None


@dataclass
class BatchTally:
    delivered: int = 0
    duplicates: int = 0
    rejected: int = 0


def deliver_batch(
    deps: BotDependencies, event: Mapping[str, Any], log: DeliveryLog
) -> tuple[PartialItemFailureResponse, BatchTally]:
    """Deliver records in order; a failed record holds back the rest of its message group (its
    operation) only: Powertools' FIFO processor with skip_group_on_error names it and every later
    record of the group in `batchItemFailures`, and goes on with the other groups."""
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    # A batch whose every record failed (Slack down) is answered record by record like any
    # other, not raised: the function's Errors alarm is for crashes, and SQS keeps the order.
    processor.raise_on_entire_batch_failure = False
    tally = BatchTally()

    def deliver_record(record: SQSRecord) -> None:
        progress = parse_event(str(record.get("body") or ""))
        if progress is None:
            # Retrying can never make it a progress event, and a retried record would hold back
            # its group until it reached the dead-letter queue. Its body is not logged.
            tally.rejected += 1
            logger.error("dropped SQS message %s: not a progress event", record.message_id)
            return
        try:
            delivered = deliver(deps, progress, log)
        except Exception as exc:  # any failure: this operation waits, the others go on
            logger.warning(
                "progress event %s not delivered (%s); SQS will hand it out again",
                progress.event_id,
                type(exc).__name__,
            )
            raise
        if delivered:
            tally.delivered += 1
        else:
            tally.duplicates += 1

    response = process_partial_response(
        event=dict(event), record_handler=deliver_record, processor=processor
    )
    return response, tally


def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    deps = default_dependencies()
    response, tally = deliver_batch(deps, event, delivery_log(deps))
    logger.info(
        "progress batch: %d delivered, %d duplicates, %d rejected, %d to retry",
        tally.delivered,
        tally.duplicates,
        tally.rejected,
        len(response["batchItemFailures"]),
    )
    return response
