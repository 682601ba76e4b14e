"""Small text helpers shared by cards, thread replies and command answers (pure)."""

from __future__ import annotations

from datetime import datetime

from pipeline.models import Operation, OperationStatus, Plan, RestoreRequest
from pipeline.stages.swap_steps import COMMITTED as SWAP_COMMITTED

STATUS_EMOJI: dict[OperationStatus, str] = {
    OperationStatus.PENDING_APPROVAL: ":hourglass:",
    OperationStatus.APPROVED: ":thumbsup:",
    OperationStatus.RUNNING: ":gear:",
    OperationStatus.SUCCEEDED: ":white_check_mark:",
    OperationStatus.FAILED: ":x:",
    OperationStatus.DENIED: ":no_entry:",
    OperationStatus.EXPIRED: ":alarm_clock:",
    OperationStatus.CANCELLED: ":heavy_multiplication_x:",
}
STATUS_WORDS: dict[OperationStatus, str] = {
    OperationStatus.PENDING_APPROVAL: "waiting for approval",
    OperationStatus.APPROVED: "approved, starting",
    OperationStatus.RUNNING: "running",
    OperationStatus.SUCCEEDED: "succeeded",
    OperationStatus.FAILED: "failed",
    OperationStatus.DENIED: "denied",
    OperationStatus.EXPIRED: "expired without a decision",
    OperationStatus.CANCELLED: "cancelled",
}


ELLIPSIS = "…"


def shorten(identifier: str, limit: int) -> str:
    """At most `limit` characters. A long identifier keeps its start and its end around an
    ellipsis: snapshot names and ARNs differ at the end (dates, suffixes), so both ends tell
    the reader which one it is."""
    if len(identifier) <= limit:
        return identifier
    if limit <= len(ELLIPSIS):
        return identifier[:limit]
    tail = (limit - len(ELLIPSIS)) // 2
    head = limit - len(ELLIPSIS) - tail
    return identifier[:head] + ELLIPSIS + identifier[len(identifier) - tail :]


def clip(text: str, limit: int, *, rest: str = "") -> str:
    """At most `limit` characters: the start of `text`, then an ellipsis and `rest` (where the
    whole text can be read) when it had to be cut."""
    if len(text) <= limit:
        return text
    tail = ELLIPSIS + rest
    return text[: max(0, limit - len(tail))] + tail[:limit]


def user(user_id: str) -> str:
    return f"<@{user_id}>"


def users(user_ids: list[str]) -> str:
    return ", ".join(user(u) for u in user_ids) if user_ids else "nobody yet"


def slack_date(moment: datetime) -> str:
    """A date Slack shows in the reader's time zone, with a UTC fallback."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def snapshot_line(request: RestoreRequest, plan: Plan | None) -> str:
    if plan is None:
        return f"`{request.snapshot}`"
    text = f"`{plan.source_snapshot_id}`"
    if request.snapshot != plan.source_snapshot_id:
        text += f" (from `{request.snapshot}`)"
    if plan.snapshot_created_at is not None:
        text += f", taken {slack_date(plan.snapshot_created_at)}"
    if plan.needs_copy:
        text += f"\nCopied from {plan.source_region} to {plan.target_region} first"
    return text


def target_line(request: RestoreRequest, plan: Plan | None) -> str:
    if plan is not None and plan.rollback:
        kept_for = (
            f" for {days(plan.retention.kept_cluster_days)} after the swap"
            if plan.retention
            else ""
        )
        return (
            f"`{plan.target_cluster}`: rolled back. `{plan.staging_cluster_id}`, kept by "
            f"`{plan.rollback_of}`, is started and takes its name back; the current cluster "
            f"is kept, stopped, as `{plan.kept_cluster_id}`{kept_for} (itself a rollback away)"
        )
    if plan is None:
        replace = " (replace if it exists)" if request.replace else ""
        return f"`{request.target_cluster}`{replace}"
    terms = plan.retention
    if plan.delete_target:
        kept = f" (both kept {days(terms.final_snapshot_days)})" if terms else ""
        return (
            f"`{plan.target_cluster}`: :warning: *the existing cluster will be deleted* (in "
            f"place), after a snapshot `{plan.safety_snapshot_id}` and a final snapshot "
            f"`{plan.final_snapshot_id}`{kept}"
        )
    if plan.swap_target:
        until = (
            f" for {days(terms.kept_cluster_days)} after the swap, then deleted with a final "
            f"snapshot kept {days(terms.final_snapshot_days)}"
            if terms
            else ""
        )
        return (
            f"`{plan.target_cluster}`: replaced through a swap. The restore goes beside it as "
            f"`{plan.restore_cluster}`; once that is ready the names are swapped and the current "
            f"cluster is kept, stopped, as `{plan.kept_cluster_id}` for rollback{until}"
        )
    return f"`{plan.target_cluster}` (new cluster)"


def days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def instances_line(request: RestoreRequest, plan: Plan | None) -> str:
    if plan is None:
        size = request.instance_class or "default class"
        return f"{request.instance_count} x {size}"
    return f"{plan.instance_count} x `{plan.instance_class}`"


def plan_summary(request: RestoreRequest, plan: Plan) -> str:
    """The dry-run answer: what would happen, plainly."""
    return "\n".join(
        [
            ":mag: *Dry run*: nothing was started. This is what `/restore` would do:",
            f"• *Source snapshot*: {snapshot_line(request, plan)}",
            f"• *Target*: {target_line(request, plan)}",
            f"• *Instances*: {instances_line(request, plan)}",
            f"• *Engine*: {plan.engine} {plan.engine_version}",
        ]
    )


def rollback_line(operation: Operation) -> str:
    """On the card of a replace (or a rollback) that kept a cluster: until when, and how, it
    can be rolled back ("" when nothing was kept)."""
    keep_until = operation.resources.get("keep_until")
    plan = operation.plan
    if plan is None or not plan.swap_target or keep_until is None:
        return ""
    until = datetime.fromisoformat(keep_until)
    return (
        f"\n:leftwards_arrow_with_hook: `{plan.kept_cluster_id}` is kept until "
        f"{slack_date(until)}: until then `/restore rollback {operation.operation_id}` swaps "
        "it back."
    )


# A snapshot ARN is ~300 characters; a line per operation stays short enough for a list.
LINE_SNAPSHOT_MAX = 80


def operation_line(operation: Operation) -> str:
    status = operation.status
    snapshot = shorten(operation.request.snapshot, LINE_SNAPSHOT_MAX)
    return (
        f"{STATUS_EMOJI[status]} `{operation.operation_id}` `{snapshot}` → "
        f"`{operation.target_cluster}`: {STATUS_WORDS[status]} "
        f"(asked by {user(operation.request.requester)}, {slack_date(operation.created_at)})"
    )


def swap_underway_reply(operation: Operation) -> str:
    """A cancel refused because the swap has begun (pipeline.swap_guard)."""
    target, op = operation.target_cluster, operation.operation_id
    back = f"once it has succeeded, `/restore rollback {op}` swaps the previous cluster back"
    if operation.resources.get(SWAP_COMMITTED) == "true":
        return (
            f":warning: `{op}` can no longer be cancelled: `{target}` already serves the "
            f"restored data, and what is left of the restore finishes within minutes; {back}."
        )
    return (
        f":warning: `{op}` can no longer be cancelled: the swap of `{target}` has begun, and "
        f"stopping it half-way would leave `{target}` without its cluster. It ends within "
        f"minutes (undone if a step fails, and then `{target}` is as it was); {back}."
    )
