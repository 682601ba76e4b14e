"""App Home: the user's recent restores, published when they open the bot's Home tab."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_sdk.models.blocks import ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.deps import BotDependencies
from bot.errors import friendly_error
from bot.grammar import USAGE

if TYPE_CHECKING:
    from pipeline.models import Operation

HOME_LIMIT = 10


def home_view(operations: list[Operation]) -> dict[str, Any]:
    """Pure: the Home tab for these operations (newest first)."""
    from bot.text import operation_line  # with the pipeline's models: lazy work only

    lines = (
        "\n".join(operation_line(op) for op in operations)
        or "You have not asked for any restores yet."
    )
    view = View(
        type="home",
        blocks=[
            HeaderBlock(text="Your Aurora restores"),
            SectionBlock(text=MarkdownTextObject(text=lines)),
            ContextBlock(elements=[MarkdownTextObject(text=USAGE)]),
        ],
    )
    return view.to_dict()


def register(app: App, deps: BotDependencies) -> None:
    def publish_home(event: dict[str, Any]) -> None:
        user_id = str(event["user"])
        try:
            operations = deps.store.recent_for_requester(user_id, limit=HOME_LIMIT)
            view = home_view(operations)
        except Exception as exc:
            view = View(
                type="home",
                blocks=[
                    SectionBlock(
                        text=MarkdownTextObject(
                            text=friendly_error(exc, action="load your restores")
                        )
                    )
                ],
            ).to_dict()
        deps.slack().views_publish(user_id=user_id, view=view)

    def acknowledge_event(ack: Any) -> None:
        ack()

    app.event("app_home_opened")(ack=acknowledge_event, lazy=[publish_home])
