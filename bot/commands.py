"""`/restore`: the ack answers within Slack's 3 seconds from pure code (the grammar); the lazy work
(policy, AWS, Slack lookups) answers through response_url and reports its own errors.

The policy is read by the lazy work, not the ack: on AWS it is an SSM parameter, and loading it
(with YAML and pydantic) would more than double a cold container's first answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App, BoltRequest, Respond

from bot.deps import BotDependencies
from bot.errors import friendly_error
from bot.grammar import (
    USAGE,
    CancelCommand,
    Command,
    GrammarError,
    HelpCommand,
    ListCommand,
    RestoreCommand,
    RollbackCommand,
    StatusCommand,
    parse,
)
from bot.ids import SLASH_COMMAND

EPHEMERAL = "ephemeral"


def _parse(command: dict[str, Any]) -> Command:
    origin = {
        "channel_id": str(command.get("channel_id", "")),
        "team_id": str(command.get("team_id", "")),
        "user_name": str(command.get("user_name", "")),
    }
    return parse(str(command.get("text", "")), requester=str(command["user_id"]), origin=origin)


def register(app: App, deps: BotDependencies) -> None:
    def acknowledge_within_3_seconds(ack: Ack, command: dict[str, Any]) -> None:
        try:
            parsed = _parse(command)
        except GrammarError as exc:
            ack(text=exc.reply, response_type=EPHEMERAL)
            return
        ack(text=_first_answer(parsed).text, response_type=EPHEMERAL)

    def answer_restore_command(
        command: dict[str, Any], respond: Respond, request: BoltRequest
    ) -> None:
        try:
            parsed = _parse(command)
            text = _lazy_answer(deps, parsed, command, request)
        except GrammarError:
            return  # already answered by the ack
        except Exception as exc:
            text = friendly_error(exc, action="answer `/restore`")
        if text:
            respond(text=text, response_type=EPHEMERAL, replace_original=False)

    def needs_lazy_work(command: dict[str, Any]) -> bool:
        try:
            parsed = _parse(command)
        except GrammarError:
            return False
        return _first_answer(parsed).needs_lazy_work

    # Help, mistakes and refusals are answered completely by the ack: no lazy invocation for them.
    app.command(SLASH_COMMAND, matchers=[needs_lazy_work])(
        ack=acknowledge_within_3_seconds, lazy=[answer_restore_command]
    )
    app.command(SLASH_COMMAND)(acknowledge_within_3_seconds)


@dataclass(frozen=True)
class FirstAnswer:
    text: str
    needs_lazy_work: bool


def _first_answer(parsed: Command) -> FirstAnswer:
    """What the ack says; pure and fast (no AWS, no Slack calls)."""
    if isinstance(parsed, HelpCommand):
        return FirstAnswer(USAGE, needs_lazy_work=False)
    if isinstance(parsed, RestoreCommand):
        verb = "Planning a dry run" if parsed.dry_run else "Checking your request"
        text = f":hourglass_flowing_sand: {verb}: `{parsed.snapshot}` → `{parsed.target_cluster}`…"
        return FirstAnswer(text, needs_lazy_work=True)
    if isinstance(parsed, CancelCommand):
        text = f":hourglass_flowing_sand: Cancelling `{parsed.operation_id}`…"
        return FirstAnswer(text, needs_lazy_work=True)
    if isinstance(parsed, RollbackCommand):
        text = f":hourglass_flowing_sand: Checking the rollback of `{parsed.operation_id}`…"
        return FirstAnswer(text, needs_lazy_work=True)
    return FirstAnswer(":hourglass_flowing_sand: Looking that up…", needs_lazy_work=True)


def _lazy_answer(
    deps: BotDependencies, parsed: Command, command: dict[str, Any], request: BoltRequest
) -> str | None:
    from bot import approval_clicks, queries
    from bot.restore_flow import operation_id_for, start_restore, start_rollback
    from bot.slack_messages import refresh_card

    user_id = str(command["user_id"])
    if isinstance(parsed, HelpCommand):
        return None
    if isinstance(parsed, RestoreCommand):
        key = str(command.get("trigger_id") or f"{user_id}:{command.get('text', '')}")
        operation_id = operation_id_for(key, _requested_at(request))
        return start_restore(
            deps,
            parsed.request,
            operation_id=operation_id,
            response_url=str(command.get("response_url") or "") or None,
            requested_at=_requested_at(request),
        )
    if isinstance(parsed, RollbackCommand):
        key = str(command.get("trigger_id") or f"{user_id}:{command.get('text', '')}")
        return start_rollback(
            deps,
            parsed,
            operation_id=operation_id_for(key, _requested_at(request)),
            response_url=str(command.get("response_url") or "") or None,
            requested_at=_requested_at(request),
        )
    if isinstance(parsed, StatusCommand):
        return queries.status_answer(deps, user_id, parsed.operation_id)
    if isinstance(parsed, ListCommand):
        return queries.kept_answer(deps) if parsed.kept else queries.list_answer(deps)
    result = approval_clicks.cancel(deps, parsed.operation_id, user_id)
    if result.changed:
        refresh_card(deps, deps.store.get(parsed.operation_id))
    return result.reply


def _requested_at(request: BoltRequest) -> datetime:
    """Slack's request timestamp: the same for every retry of one command."""
    values = request.headers.get("x-slack-request-timestamp") or []
    try:
        return datetime.fromtimestamp(int(values[0]), UTC)
    except (IndexError, ValueError):
        return datetime.now(UTC)
