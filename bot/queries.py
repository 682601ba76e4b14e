"""`/restore status` and `/restore list`: read-only answers built from the operation store, and
`/restore list --kept` from RDS reads the Slack endpoint may do (DescribeDBClusters,
DescribeDBClusterSnapshots)."""

from __future__ import annotations

from datetime import datetime

from bot.deps import BotDependencies
from bot.render import MESSAGE_TEXT_MAX, checklist
from bot.text import (
    STATUS_EMOJI,
    STATUS_WORDS,
    clip,
    instances_line,
    operation_line,
    slack_date,
    snapshot_line,
    target_line,
    user,
    users,
)
from pipeline.models import ACTIVE_STATUSES, Operation, utc_now

RECENT_LIMIT = 10
KEPT_LIMIT = 25  # lines per section: an answer to read, not an inventory


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


def kept_answer(deps: BotDependencies, now: datetime | None = None) -> str:
    """Kept clusters (name, operation, status, keep-until) and the tool's final snapshots with
    their expiry, soonest first (pipeline.retention_inventory says what is whose)."""
    from pipeline.rds import tags_of
    from pipeline.retention_inventory import (
        ANNOUNCED_TAG,
        kept_clusters,
        snapshot_expiry,
        tool_snapshots,
    )
    from pipeline.retention_terms import KEEP_UNTIL_TAG, parse_keep_until
    from pipeline.stages.swap_steps import KEPT_BY_TAG

    moment = now or utc_now()
    client = deps.aws.rds()
    clusters = []
    for cluster in kept_clusters(client):
        tags = tags_of(cluster)
        until = parse_keep_until(tags.get(KEEP_UNTIL_TAG, ""))
        noticed = " (deletion announced)" if ANNOUNCED_TAG in tags else ""
        clusters.append(
            (
                until or moment,
                f"• `{cluster['DBClusterIdentifier']}` kept by `{tags[KEPT_BY_TAG]}`: "
                f"{cluster.get('Status', '?')}, until {_when(until)}{noticed}",
            )
        )
    snapshots = []
    for snapshot, operation_id in tool_snapshots(deps.pipeline, client):
        expires = snapshot_expiry(deps.pipeline, snapshot, operation_id)
        snapshots.append(
            (
                expires or moment,
                f"• `{snapshot['DBClusterSnapshotIdentifier']}` of `{operation_id}`: "
                f"{snapshot.get('Status', '?')}, deleted after {_when(expires)}",
            )
        )
    parts = [
        _section("*Kept clusters* (deleted with a final snapshot after keep-until)", clusters),
        _section("*Snapshots made by this tool* (deleted after their retention)", snapshots),
    ]
    return clip("\n\n".join(parts), MESSAGE_TEXT_MAX, rest=" (cut)")


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else "an unknown date"


def _section(title: str, rows: list[tuple[datetime, str]]) -> str:
    if not rows:
        return f"{title}\nNone."
    ordered = [line for _, line in sorted(rows, key=lambda row: row[0])]
    shown = ordered[:KEPT_LIMIT]
    more = len(ordered) - len(shown)
    return "\n".join([title, *shown, *([f"… and {more} more"] if more else [])])
