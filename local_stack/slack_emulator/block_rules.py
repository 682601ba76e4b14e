"""Block Kit limits, refused with Slack's `invalid_blocks` answer.

slack_sdk's own Block Kit models hold most of Slack's documented limits (parsing a block and
serialising it again runs their validators and raises SlackObjectFormationError); the checks
below them cover what those models do not check. Sources:
- blocks per message / view: https://docs.slack.dev/reference/block-kit/blocks ("up to 50 blocks
  in each message, and 100 blocks in modals or Home tabs")
- text object, 1 to 3,000 characters:
  https://docs.slack.dev/reference/block-kit/composition-objects/text-object
- section text 3,000, each of at most 10 fields 2,000:
  https://docs.slack.dev/reference/block-kit/blocks/section-block
- header plain_text 150: https://docs.slack.dev/reference/block-kit/blocks/header-block
- context: at most 10 elements: https://docs.slack.dev/reference/block-kit/blocks/context-block
- button text 75, value 2,000, action_id 255:
  https://docs.slack.dev/reference/block-kit/block-elements/button-element
- confirm dialog title 100, text 300, confirm/deny 30:
  https://docs.slack.dev/reference/block-kit/composition-objects/confirmation-dialog-object
- the answer's shape (`errors` plus `response_metadata.messages`, each naming a JSON pointer) is
  the one chat.postMessage gives, e.g. "must be less than 3001 characters
  [json-pointer:/blocks/0/text/text]".
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from local_stack.slack_emulator.errors import SlackMethodError

TEXT_OBJECT_MAX = 3000
SECTION_FIELD_MAX = 2000
# "The cumulative limit for all markdown blocks in a single payload is 12,000 characters."
# (https://docs.slack.dev/reference/block-kit/blocks/markdown-block). chat.postMessage names
# the refusal: "msg_blocks_too_long: Blocks submitted with this message are too long."
# (https://docs.slack.dev/reference/methods/chat.postMessage, Errors); chat.update's and
# chat.postEphemeral's error lists do not carry it. Slack refuses other blocks whose text adds
# up to about as much too (slackapi/bolt-js#2509, #2867: ~11,300 to ~13,300 characters), at a
# size it does not document, so the emulator checks only the documented one.
MARKDOWN_BLOCKS_TEXT_MAX = 12_000


def _too_long(limit: int, pointer: str) -> str:
    return f"must be less than {limit + 1} characters [json-pointer:{pointer}]"


def _text_objects(node: Any, pointer: str) -> list[tuple[str, str]]:
    """Every text object (`{"type": "plain_text"|"mrkdwn", "text": ...}`) with its pointer."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        if node.get("type") in ("plain_text", "mrkdwn") and "text" in node:
            found.append((pointer + "/text", str(node["text"])))
        for key, value in node.items():
            found.extend(_text_objects(value, f"{pointer}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_text_objects(value, f"{pointer}/{index}"))
    return found


def _explicit_errors(block: dict[str, Any], pointer: str) -> list[str]:
    """Limits slack_sdk's models leave unchecked."""
    errors = [
        _too_long(TEXT_OBJECT_MAX, where)
        for where, text in _text_objects(block, pointer)
        if len(text) > TEXT_OBJECT_MAX
    ]
    errors += [
        f"must be more than 0 characters [json-pointer:{where}]"
        for where, text in _text_objects(block, pointer)
        if not text
    ]
    if block.get("type") == "section":
        for index, field in enumerate(block.get("fields") or []):
            text = str(field.get("text", "")) if isinstance(field, dict) else ""
            if len(text) > SECTION_FIELD_MAX:
                errors.append(_too_long(SECTION_FIELD_MAX, f"{pointer}/fields/{index}/text"))
    if block.get("type") == "header":
        header = block.get("text")
        if not isinstance(header, dict) or header.get("type") != "plain_text":
            errors.append(f"must be a plain_text object [json-pointer:{pointer}/text]")
    return errors


def block_errors(block: Any, index: int) -> list[str]:
    pointer = f"/blocks/{index}"
    if not isinstance(block, dict) or "type" not in block:
        return [f"missing required field: type [json-pointer:{pointer}]"]
    errors = _explicit_errors(block, pointer)
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return [*errors, f"unsupported type: {block['type']} [json-pointer:{pointer}/type]"]
        parsed.to_dict()  # runs the models' validators, nested objects included
    except SlackObjectFormationError as exc:
        errors.append(f"{exc} [json-pointer:{pointer}]")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        errors.append(f"invalid block ({type(exc).__name__}) [json-pointer:{pointer}]")
    return errors


def validate_blocks(blocks: list[Any], *, maximum: int) -> None:
    """Raise Slack's `invalid_blocks` answer for blocks Slack would refuse."""
    errors: list[str] = []
    if len(blocks) > maximum:
        errors.append(f"must have at most {maximum} items [json-pointer:/blocks]")
    for index, block in enumerate(blocks):
        errors.extend(block_errors(block, index))
    if errors:
        raise SlackMethodError(
            "invalid_blocks",
            errors=errors,
            response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
        )


def check_blocks_length(blocks: list[Any]) -> None:
    """chat.postMessage's `msg_blocks_too_long` (MARKDOWN_BLOCKS_TEXT_MAX)."""
    markdown = sum(
        len(str(block.get("text", "")))
        for block in blocks
        if isinstance(block, dict) and block.get("type") == "markdown"
    )
    if markdown > MARKDOWN_BLOCKS_TEXT_MAX:
        raise SlackMethodError("msg_blocks_too_long")
