"""SNS progress events → Slack: one thread reply per event and a fresh card checklist.

Duplicates are dropped (DeliveryLog). Slack's 429s are waited out (Retry-After) and 5xx or
connection errors retried a bounded number of times; if Slack stays down the handler raises, so
Lambda/SNS deliver the event again later. The restore itself never waits for Slack.
"""

from __future__ import annotations

from typing import Any

from bot.blocks import progress_text
from bot.cards import refresh_card, reply_in_thread
from bot.config import default_dependencies
from bot.delivery import DeliveryLog
from bot.deps import BotDependencies
from pipeline.models import ProgressEvent, StageStatus


def delivery_log(deps: BotDependencies) -> DeliveryLog:
    return DeliveryLog(deps.aws.dynamodb, deps.pipeline.settings.operations_table)


def deliver(deps: BotDependencies, event: ProgressEvent, log: DeliveryLog) -> bool:
    """Deliver one event; False when it was a duplicate of a delivered one."""
    claim = log.claim(event.event_id)
    if claim is None:
        return False
    try:
        operation = deps.store.get(event.operation_id)
        if operation.slack_message_ts:
            if not claim.replied:
                reply_in_thread(deps, operation, progress_text(event))
                log.mark_replied(event.event_id)
            refresh_card(deps, operation)
        elif event.operation_status is not None or event.status == StageStatus.FAILED:
            # Ended before any card was posted: tell the requester where they asked.
            channel = operation.request.origin.get("channel_id")
            if channel:
                deps.slack().chat_postEphemeral(
                    channel=channel,
                    user=operation.request.requester,
                    text=f"`{operation.operation_id}`: {progress_text(event)}",
                )
        # Earlier events (before the card exists) are shown by the card's checklist once posted.
    except Exception:
        log.release(event.event_id)
        raise
    log.mark_delivered(event.event_id)
    return True


def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    deps = default_dependencies()
    log = delivery_log(deps)
    delivered = duplicates = 0
    for record in event.get("Records", []):
        progress = ProgressEvent.model_validate_json(record["Sns"]["Message"])
        if deliver(deps, progress, log):
            delivered += 1
        else:
            duplicates += 1
    return {"delivered": delivered, "duplicates": duplicates}
