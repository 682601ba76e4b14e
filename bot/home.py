"""App Home: the user's recent restores, published when they open the bot's Home tab."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.deps import BotDependencies
from bot.errors import friendly_error
from bot.grammar import USAGE

if TYPE_CHECKING:
    from pipeline.models import Operation

HOME_LIMIT = 10  # with the header and the usage: 12 blocks, well under a Home tab's 100
# Slack's limit, as in bot/render.py; not imported from there: that would put pydantic on the ack path.
SECTION_TEXT_MAX = 3000  # https://docs.slack.dev/reference/block-kit/blocks/section-block


def home_view(operations: list[Operation]) -> dict[str, Any]:
    """Pure: the Home tab for these operations (newest first), one section each, so no number
    of long names can push one block past Slack's 3,000 characters."""
    from bot.text import clip, operation_line  # with the pipeline's models: lazy work only

    lines = [operation_line(op) for op in operations[:HOME_LIMIT]] or [
        "You have not asked for any restores yet."
    ]
    blocks: list[Block] = [HeaderBlock(text="Your Aurora restores")]
    blocks += [
        SectionBlock(text=MarkdownTextObject(text=clip(line, SECTION_TEXT_MAX))) for line in lines
    ]
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=USAGE)]))
    return View(type="home", blocks=blocks).to_dict()


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
