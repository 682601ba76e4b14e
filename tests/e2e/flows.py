"""Steps a person takes in Slack, and what they then read, for the end-to-end tests."""

from __future__ import annotations

from typing import Any

from local_stack.scenario import Driver, wait_for
from local_stack.transcript import block_text, read_thread


def request_restore(driver: Driver, text: str, *, user: str | None = None) -> str:
    """Type `/restore text`; returns the operation id the bot answered with."""
    reply, response_url = driver.request(user or driver.info["users"]["requester"], text)
    assert reply.status == 200, reply.body
    return driver.operation_id_from(response_url)


def click(driver: Driver, operation_id: str, action_id: str, user: str) -> None:
    reply = driver.click(user, driver.card(operation_id), action_id)
    assert reply.status == 200, reply.body


def card_of(driver: Driver, operation_id: str) -> dict[str, Any]:
    history = driver.web.conversations_history(channel=driver.info["channel_id"], limit=200)
    for message in history["messages"]:
        if operation_id in str(message.get("blocks", "")):
            return dict(message)
    raise AssertionError(f"no card for {operation_id}")


def card_text(driver: Driver, operation_id: str) -> str:
    return block_text(card_of(driver, operation_id).get("blocks") or [])


def thread_texts(driver: Driver, operation_id: str) -> list[str]:
    card = card_of(driver, operation_id)
    replies = read_thread(driver.web, driver.info["channel_id"], card["ts"])[1:]
    return [reply.get("text", "") for reply in replies]


def wait_for_thread(
    driver: Driver, operation_id: str, fragment: str, timeout: float = 30
) -> list[str]:
    """Wait until a thread reply contains `fragment` (the notifier runs asynchronously)."""

    def probe() -> list[str] | None:
        texts = thread_texts(driver, operation_id)
        return texts if any(fragment in text for text in texts) else None

    return wait_for(f"a thread reply with {fragment!r}", probe, timeout)
