"""The Approve and Deny buttons: ack at once, decide in lazy work, refresh the card, tell the
clicker (ephemerally) what happened or why they may not decide."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from slack_bolt import Ack, App, Respond

from bot.deps import BotDependencies
from bot.errors import friendly_error
from bot.ids import ActionId


def register(app: App, deps: BotDependencies) -> None:
    def acknowledge_click(ack: Ack) -> None:
        ack()

    def lazy(decision: Literal["approve", "deny"]) -> Callable[..., None]:
        action_name = f"{decision} the restore"

        def record_decision(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
            # Imported here, by the lazy work: the ack path (and a cold start) stays light.
            from bot import approval_clicks
            from bot.slack_messages import refresh_card

            decide = approval_clicks.approve if decision == "approve" else approval_clicks.deny
            clicker = str(body["user"]["id"])
            operation_id = str(action.get("value", ""))
            try:
                result = decide(deps, operation_id, clicker)
                refresh_card(deps, deps.store.get(operation_id))
                text = result.reply
            except Exception as exc:
                text = friendly_error(exc, action=action_name)
            respond(text=text, response_type="ephemeral", replace_original=False)

        record_decision.__name__ = f"record_{action_name.replace(' ', '_')}"
        return record_decision

    app.action(ActionId.APPROVE)(ack=acknowledge_click, lazy=[lazy("approve")])
    app.action(ActionId.DENY)(ack=acknowledge_click, lazy=[lazy("deny")])
