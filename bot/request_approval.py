"""The state machine's `.waitForTaskToken` task: keep the token, post the approval card once,
then start the approval stage.

Input `{operation_id, task_token}`. The token is stored with the operation and nowhere else; the
card's buttons carry only the operation id. A retried invocation refreshes the existing card
instead of posting a second one.

The approvers are asked (with their mentions) by the approval stage's progress event, so the
request travels the durable, ordered progress path (FIFO topic and queue, retried until Slack
takes it) rather than a best-effort post, and the stage's duration is the approval latency.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.container import default_dependencies
from bot.deps import BotDependencies
from bot.slack_messages import post_card, refresh_card
from bot.task_answers import TaskError, send_task_failure
from bot.text import slack_date
from pipeline.errors import FatalError, RetryableError
from pipeline.models import Operation, OperationStatus, Stage
from pipeline.naming import validate_operation_id


class ApprovalCardError(FatalError):
    """The approval card could not be posted (the bot is not in the channel, say)."""


class SlackUnavailableError(RetryableError):
    """Slack kept answering 429/5xx or could not be reached; the state machine retries the task."""


logger = logging.getLogger("aurora_restore.bot.request_approval")
# The app's display name (manifest.yaml, bot_user.display_name), for the /invite hint.
APP_MENTION = "@aurora-restore"
# Slack's answers for a channel the app is not in: a public one it has not joined, or a private
# one (or a DM between people) it cannot even see. The manifest asks for chat:write, not
# chat:write.public, so the app posts only where it was invited.
_NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})
# Slack's answers that say "later", not "never": the task is retried with backoff.
_TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "service_unavailable", "fatal_error"}
)


def request_approval(deps: BotDependencies, operation_id: str, task_token: str) -> None:
    store = deps.store
    store.save_task_token(operation_id, task_token)
    operation = store.get(operation_id)
    if operation.status.is_terminal:
        # Denied or cancelled before the card existed: answer the workflow now.
        error = (
            TaskError.DENIED if operation.status == OperationStatus.DENIED else TaskError.CANCELLED
        )
        send_task_failure(deps, task_token, error, f"operation is {operation.status}")
        _courtesy(operation_id, "update the card", lambda: refresh_card(deps, operation))
        return
    if operation.slack_message_ts:  # a retry: the card is already there
        _courtesy(operation_id, "update the card", lambda: refresh_card(deps, operation))
        if operation.status == OperationStatus.PENDING_APPROVAL:
            _start_approval_stage(deps, operation)
        return
    channel = operation.request.origin.get("channel_id")
    if not channel:
        raise ApprovalCardError(f"operation {operation_id} has no Slack channel to ask in")
    try:
        ts = post_card(deps, operation, channel)
    except OSError as exc:  # connection refused, timed out, DNS: after the client's own retries
        raise SlackUnavailableError(
            f"could not reach Slack to post the approval card: {exc}"
        ) from exc
    except SlackApiError as exc:
        code = exc.response.get("error", "unknown_error")
        if code in _TRANSIENT_ERRORS or exc.response.status_code >= 500:
            raise SlackUnavailableError(
                f"Slack did not accept the approval card yet ({code}); retrying"
            ) from exc
        if code in _NOT_A_MEMBER:
            raise ApprovalCardError(
                f"the approval card could not be posted in <#{channel}>: the app is not a member "
                f"of that channel ({code}). Invite it with `/invite {APP_MENTION}` (or ask in a "
                "channel it is in) and run `/restore` again. Nothing was changed."
            ) from exc
        raise ApprovalCardError(
            f"could not post the approval card in channel {channel}: Slack answered {code}"
        ) from exc
    operation = store.update(operation_id, slack_channel=channel, slack_message_ts=ts)
    if operation.status != OperationStatus.PENDING_APPROVAL:
        # Decided (or cancelled) while the card was being posted: the decision could not update
        # a card whose ts was not stored yet, so show the outcome instead of live buttons.
        _courtesy(operation_id, "update the card", lambda: refresh_card(deps, operation))
        return
    _start_approval_stage(deps, operation)


def _start_approval_stage(deps: BotDependencies, operation: Operation) -> None:
    """Recorded once (a retry's second start is a no-op); its event asks the approvers."""
    prompt = _ask_approvers(deps, operation.approval_expires_at)
    deps.pipeline.reporter.started(operation.operation_id, Stage.APPROVAL, prompt)


def _courtesy(operation_id: str, doing: str, call: Callable[[], object]) -> None:
    """Once the card is up, a Slack hiccup on a follow-up message must not fail the restore."""
    try:
        call()
    except (SlackApiError, OSError) as exc:
        code = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        logger.warning("could not %s for %s: %s", doing, operation_id, code)


def _ask_approvers(deps: BotDependencies, expires_at: Any) -> str:
    approvers = deps.policy.approvers
    names = [f"<@{u}>" for u in sorted(approvers.users)]
    names += [f"<!subteam^{g}>" for g in sorted(approvers.usergroups)]
    when = f" before {slack_date(expires_at)}" if expires_at is not None else ""
    return (
        f"Approval needed from {', '.join(names) or 'an approver'}{when}. "
        "Progress will follow in this thread."
    )


def handler(event: dict[str, Any], context: Any) -> None:
    request_approval(
        default_dependencies(),
        validate_operation_id(str(event["operation_id"])),
        str(event["task_token"]),
    )
