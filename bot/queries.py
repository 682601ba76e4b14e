"""`/restore status` and `/restore list`: read-only answers built from the operation store."""

from __future__ import annotations

from bot.deps import BotDependencies
from bot.render import checklist
from bot.text import (
    STATUS_EMOJI,
    STATUS_WORDS,
    instances_line,
    operation_line,
    slack_date,
    snapshot_line,
    target_line,
    user,
    users,
)
from pipeline.models import ACTIVE_STATUSES, Operation

RECENT_LIMIT = 10


def describe(operation: Operation) -> str:
    request, plan = operation.request, operation.plan
    lines = [
        f"{STATUS_EMOJI[operation.status]} *`{operation.operation_id}`*: "
        f"{STATUS_WORDS[operation.status]}",
        f"• *Source snapshot*: {snapshot_line(request, plan)}",
        f"• *Target*: {target_line(request, plan)}",
        f"• *Instances*: {instances_line(request, plan)}",
        f"• *Requested by* {user(request.requester)} {slack_date(operation.created_at)}",
        f"• *Approvals*: {len(operation.approvers)} of {operation.required_approvals}: "
        f"{users(operation.approvers)}",
    ]
    if operation.cancelled_by:
        lines.append(f"• *Cancelled by* {user(operation.cancelled_by)}")
    if operation.error:
        lines.append(f"• *Error*: {operation.error}")
    if operation.stages:
        lines.append(checklist(operation))
    return "\n".join(lines)


def status_answer(deps: BotDependencies, user_id: str, operation_id: str | None) -> str:
    if operation_id is not None:
        return describe(deps.store.get(operation_id))
    mine = deps.store.recent_for_requester(user_id, limit=RECENT_LIMIT)
    if not mine:
        return "You have not asked for any restores yet. Try `/restore help`."
    return "*Your recent restores*\n" + "\n".join(operation_line(op) for op in mine)


def list_answer(deps: BotDependencies) -> str:
    recent = deps.store.recent(limit=RECENT_LIMIT * 2)
    if not recent:
        return "No restores yet."
    active = [op for op in recent if op.status in ACTIVE_STATUSES]
    finished = [op for op in recent if op.status not in ACTIVE_STATUSES][:RECENT_LIMIT]
    parts = []
    if active:
        parts.append("*Active restores*\n" + "\n".join(operation_line(op) for op in active))
    if finished:
        parts.append("*Recent restores*\n" + "\n".join(operation_line(op) for op in finished))
    return "\n\n".join(parts)
