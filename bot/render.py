"""Block Kit builders: pure functions of an operation (or a progress event), tested directly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.ids import ActionId, BlockId
from bot.text import (
    STATUS_EMOJI,
    STATUS_WORDS,
    clip,
    duration,
    instances_line,
    rollback_line,
    shorten,
    slack_date,
    snapshot_line,
    target_line,
    user,
    users,
)
from pipeline.models import Operation, OperationStatus, ProgressEvent, Stage, StageStatus

# Slack refuses a message (invalid_blocks) whose blocks break these, so every text that carries
# user input or an error is fitted to them: section text 3,000 and each field 2,000
# (https://docs.slack.dev/reference/block-kit/blocks/section-block), header 150
# (.../blocks/header-block), confirm dialog text 300
# (.../composition-objects/confirmation-dialog-object); a message's `text` is cut at 40,000
# (https://api.slack.com/changelog/2018-04-truncating-really-long-messages).
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
CONFIRM_TEXT_MAX = 300
MESSAGE_TEXT_MAX = 40_000
# A failure's reason on the card is cut to a readable length; the thread reply carries it whole.
CARD_ERROR_MAX = 500
CHECKLIST_DETAIL_MAX = 300
_IN_THREAD = " (the whole error is in the thread)"

STAGE_EMOJI: dict[StageStatus | None, str] = {
    None: ":white_circle:",
    StageStatus.STARTED: ":hourglass_flowing_sand:",
    StageStatus.SUCCEEDED: ":white_check_mark:",
    StageStatus.FAILED: ":x:",
    StageStatus.SKIPPED: ":fast_forward:",
}
_CHECKLIST_STATUSES = {
    OperationStatus.APPROVED,
    OperationStatus.RUNNING,
    OperationStatus.SUCCEEDED,
    OperationStatus.FAILED,
    OperationStatus.CANCELLED,
}


@dataclass(frozen=True)
class Card:
    text: str  # the notification / accessibility fallback
    blocks: list[dict[str, Any]]


def render_card(operation: Operation) -> Card:
    """The approval card for any state: buttons only while pending, the outcome after."""
    request, plan = operation.request, operation.plan
    status = operation.status
    blocks: list[Block] = [
        HeaderBlock(
            text=shorten(f"Aurora restore into {operation.target_cluster}", HEADER_TEXT_MAX)
        ),
        SectionBlock(
            block_id=BlockId.DETAILS,
            fields=[
                _field("Source snapshot", snapshot_line(request, plan)),
                _field("Target", target_line(request, plan)),
                _field("Instances", instances_line(request, plan)),
                _field("Requested by", user(request.requester)),
                _field("Operation", f"`{operation.operation_id}`"),
                _field("Approvals", _approvals(operation)),
            ],
        ),
        SectionBlock(text=MarkdownTextObject(text=_status_line(operation))),
    ]
    if _shows_checklist(operation):
        blocks.append(
            SectionBlock(
                block_id=BlockId.CHECKLIST,
                text=MarkdownTextObject(text=clip(checklist(operation), SECTION_TEXT_MAX)),
            )
        )
    if status == OperationStatus.PENDING_APPROVAL:
        blocks.append(_decision_buttons(operation))
    else:
        blocks.append(DividerBlock())
        blocks.append(
            ContextBlock(
                block_id=BlockId.OUTCOME, elements=[MarkdownTextObject(text=_outcome(operation))]
            )
        )
    text = (
        f"{STATUS_EMOJI[status]} Restore `{request.snapshot}` → `{operation.target_cluster}` "
        f"({operation.operation_id}): {STATUS_WORDS[status]}"
    )
    return Card(text=text, blocks=[block.to_dict() for block in blocks])


def _shows_checklist(operation: Operation) -> bool:
    # A request cancelled or failed before anyone approved it never ran: no checklist then.
    if operation.status not in _CHECKLIST_STATUSES:
        return False
    return (
        operation.decided_by is not None
        or bool(operation.stages)
        or operation.status
        in {
            OperationStatus.APPROVED,
            OperationStatus.RUNNING,
            OperationStatus.SUCCEEDED,
        }
    )


def _field(title: str, value: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(f"*{title}*\n{value}", FIELD_TEXT_MAX))


def _approvals(operation: Operation) -> str:
    return f"{len(operation.approvers)} of {operation.required_approvals}: {users(operation.approvers)}"


def _status_line(operation: Operation) -> str:
    status = operation.status
    line = f"{STATUS_EMOJI[status]} *{STATUS_WORDS[status].capitalize()}*"
    if status == OperationStatus.PENDING_APPROVAL and operation.approval_expires_at is not None:
        line += f". The request expires {slack_date(operation.approval_expires_at)}."
    if status == OperationStatus.PENDING_APPROVAL and operation.required_approvals > 1:
        line += f" This target needs {operation.required_approvals} different approvers."
    if status == OperationStatus.FAILED and operation.error:
        line += ": " + clip(operation.error, CARD_ERROR_MAX, rest=_IN_THREAD)
    return clip(line, SECTION_TEXT_MAX)


def _decision_buttons(operation: Operation) -> ActionsBlock:
    approve = ButtonElement(
        text="Approve",
        action_id=ActionId.APPROVE,
        value=operation.operation_id,
        style="primary",
        confirm=ConfirmObject(
            title="Approve this restore?",
            text=confirm_text(operation),
            confirm="Approve",
            deny="Back",
        ),
    )
    deny = ButtonElement(
        text="Deny", action_id=ActionId.DENY, value=operation.operation_id, style="danger"
    )
    return ActionsBlock(block_id=BlockId.DECISION, elements=[approve, deny])


def confirm_text(operation: Operation) -> str:
    """What Approve asks to confirm, within the dialog's 300 characters: a long snapshot
    reference (an ARN) is shortened in the middle, the target and the deletion never."""
    plan = operation.plan
    deleting = ""
    if plan is not None and plan.delete_target:
        deleting = ", *deleting the existing cluster* after a snapshot"
    elif plan is not None and plan.rollback:
        return clip(
            f"Roll back `{plan.rollback_of}`: `{plan.staging_cluster_id}` takes "
            f"`{operation.target_cluster}`'s name back; the current one is kept, stopped.",
            CONFIRM_TEXT_MAX,
        )
    elif plan is not None and plan.swap_target:
        deleting = ", swapping names; the existing cluster is kept, stopped"
    frame = f"Restore `` into `{operation.target_cluster}`{deleting}."
    snapshot = shorten(operation.request.snapshot, CONFIRM_TEXT_MAX - len(frame))
    return f"Restore `{snapshot}` into `{operation.target_cluster}`{deleting}."


def _outcome(operation: Operation) -> str:
    status = operation.status
    decided = f" by {user(operation.decided_by)}" if operation.decided_by else ""
    if status == OperationStatus.DENIED:
        return f":no_entry: Denied{decided}. Nothing was changed."
    if status == OperationStatus.EXPIRED:
        return ":alarm_clock: Nobody decided in time; the request expired and nothing was changed."
    if status == OperationStatus.CANCELLED:
        by = f" by {user(operation.cancelled_by)}" if operation.cancelled_by else ""
        return f":heavy_multiplication_x: Cancelled{by}."
    if status == OperationStatus.SUCCEEDED:
        cluster = operation.resources.get("cluster_id", operation.target_cluster)
        return f":white_check_mark: Approved{decided}. `{cluster}` is ready." + rollback_line(
            operation
        )
    if status == OperationStatus.FAILED:
        return f":x: Failed. Approved{decided}." if operation.decided_by else ":x: Failed."
    return f":thumbsup: Approved{decided}. Progress is posted in the thread."


_NOT_IN_A_ROLLBACK = frozenset(
    {Stage.COPY_SNAPSHOT, Stage.DELETE_TARGET, Stage.RESTORE_CLUSTER, Stage.SETUP_DATABASE}
)


def _stages(operation: Operation) -> list[Stage]:
    plan = operation.plan
    wanted: list[Stage] = []
    for stage in Stage:
        if stage == Stage.RETENTION:
            continue  # after the restore, in the thread only (pipeline.retention)
        rollback = plan is not None and plan.rollback
        if rollback and stage in _NOT_IN_A_ROLLBACK:
            continue  # a rollback copies, deletes, restores and sets up nothing
        optional = (
            (stage == Stage.START_KEPT and not rollback)
            or (stage == Stage.COPY_SNAPSHOT and not (plan and plan.needs_copy))
            or (stage == Stage.DELETE_TARGET and not (plan and plan.delete_target))
            or (stage == Stage.SWAP and not (plan and plan.swap_target))
        )
        if optional and stage not in operation.stages:
            continue  # a stage this plan does not need, and nobody reported
        wanted.append(stage)
    return wanted


def checklist(operation: Operation) -> str:
    """One line per stage: done (with duration), running, failed, skipped or still to come."""
    lines = []
    for stage in _stages(operation):
        record = operation.stages.get(stage)
        status = record.status if record else None
        if record is None and stage in (Stage.VALIDATE, Stage.APPROVAL) and operation.decided_by:
            status = StageStatus.SUCCEEDED  # implied: the operation got past approval
        line = f"{STAGE_EMOJI[status]} {stage.label}"
        if record is not None and record.duration_seconds is not None:
            line += f" ({duration(record.duration_seconds)})"
        if record is not None and status == StageStatus.FAILED and record.detail:
            line += ": " + clip(record.detail, CHECKLIST_DETAIL_MAX, rest=_IN_THREAD)
        lines.append(line)
    return "\n".join(lines)


def progress_text(event: ProgressEvent) -> str:
    """The thread reply for one progress event."""
    title = f"*{event.stage.label}*"
    emoji = STAGE_EMOJI[event.status]
    if event.stage == Stage.APPROVAL and event.status == StageStatus.STARTED:
        emoji = ":raising_hand:"  # it asks people to act, with their mentions in the detail
    if event.status == StageStatus.STARTED:
        text = f"{emoji} {title} started"
    elif event.status == StageStatus.SUCCEEDED:
        took = duration(event.duration_seconds)
        text = f"{emoji} {title} done" + (f" in {took}" if took else "")
    elif event.status == StageStatus.FAILED:
        text = f"{emoji} {title} failed"
    else:
        text = f"{emoji} {title} skipped"
    if event.detail:
        text += f": {event.detail}"
    if event.resources:
        text += "\n" + "\n".join(f"• {name}: `{value}`" for name, value in event.resources.items())
    if event.operation_status is not None:
        final = event.operation_status
        text += f"\n{STATUS_EMOJI[final]} *Restore {STATUS_WORDS[final]}.*"
    return clip(text, MESSAGE_TEXT_MAX, rest=" (cut: a Slack message holds 40,000 characters)")
