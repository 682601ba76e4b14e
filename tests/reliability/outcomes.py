"""Checks that an operation ended in one consistent outcome: the store, the execution, the audit
log, the target lock and the card in Slack all tell the same story."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bot.render import render_card
from local_stack.scenario import Driver, wait_for
from local_stack.transcript import block_text
from pipeline.models import TERMINAL_STATUSES, Operation, OperationStatus
from pipeline.store import OperationStore
from tests.e2e.flows import request_restore

T = TypeVar("T")
TERMINAL_AUDIT_ACTIONS = frozenset(f"operation.{status.lower()}" for status in TERMINAL_STATUSES)

# How each terminal status of an operation shows in its execution: (status, error).
EXECUTION_ENDS: dict[OperationStatus, set[tuple[str, str | None]]] = {
    OperationStatus.SUCCEEDED: {("SUCCEEDED", None)},
    OperationStatus.FAILED: {("FAILED", "RestoreFailed")},
    OperationStatus.DENIED: {("FAILED", "ApprovalDenied")},
    OperationStatus.EXPIRED: {("FAILED", "ApprovalExpired")},
    # Cancelled before approval the state machine records it; once running, the bot stops it
    # (moto reports no error for a stopped execution; AWS reports the one StopExecution gave).
    OperationStatus.CANCELLED: {
        ("FAILED", "RestoreCancelled"),
        ("ABORTED", "RestoreCancelled"),
        ("ABORTED", None),
    },
}


def all_at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run the calls in parallel threads released together, for the tightest race we can make."""
    gate = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        gate.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def new_operation(driver: Driver, text: str) -> str:
    """Request a restore and wait for its approval card."""
    operation_id = request_restore(driver, text)
    driver.card(operation_id)
    return operation_id


def card_text(driver: Driver, operation_id: str) -> str:
    history = driver.web.conversations_history(channel=driver.info["channel_id"], limit=200)
    for message in history["messages"]:
        if f"`{operation_id}`" in str(message.get("blocks", "")):
            return block_text(message.get("blocks") or [])
    raise AssertionError(f"no card for {operation_id}")


def card_exists(driver: Driver, operation_id: str) -> bool:
    history = driver.web.conversations_history(channel=driver.info["channel_id"], limit=200)
    return any(f"`{operation_id}`" in str(m.get("blocks", "")) for m in history["messages"])


def buttons_of(driver: Driver, operation_id: str) -> list[dict[str, Any]]:
    history = driver.web.conversations_history(channel=driver.info["channel_id"], limit=200)
    for message in history["messages"]:
        if f"`{operation_id}`" in str(message.get("blocks", "")):
            return [
                element
                for block in message.get("blocks", [])
                if block.get("type") == "actions"
                for element in block.get("elements", [])
            ]
    return []


def assert_one_consistent_outcome(
    driver: Driver, operations: OperationStore, operation_id: str, timeout: float = 60
) -> Operation:
    """Wait for the end, then check every record of it agrees; returns the operation."""
    execution = driver.wait_for_execution_end(operation_id, timeout=timeout)

    def ended() -> Operation | None:
        current = operations.get(operation_id)
        return current if current.status.is_terminal else None

    operation = wait_for(f"{operation_id} to reach a terminal status", ended, timeout)
    ends = EXECUTION_ENDS[operation.status]
    assert (execution["status"], execution.get("error")) in ends, (operation.status, execution)
    assert operations.lock_holder(operation.target_cluster) != operation_id
    terminal = [
        event.action
        for event in operations.audit_events(operation_id)
        if event.action in TERMINAL_AUDIT_ACTIONS
    ]
    assert terminal == [f"operation.{operation.status.lower()}"], terminal
    if operations.get(operation_id).slack_message_ts is None:
        # It ended before its card was posted: no card, and none posted later.
        assert not buttons_of(driver, operation_id) and not card_exists(driver, operation_id)
        return operations.get(operation_id)
    # The card shows what the store holds (the notifier refreshes it asynchronously).
    wait_for(
        f"the card of {operation_id} to show the stored outcome",
        lambda: (
            card_text(driver, operation_id)
            == block_text(render_card(operations.get(operation_id)).blocks)
        ),
        timeout,
    )
    assert not buttons_of(driver, operation_id)
    return operations.get(operation_id)
