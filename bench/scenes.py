"""Situations the benchmarks start from, set up through the stack's real interfaces."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from local_stack.scenario import APPROVE, Driver
from local_stack.stack import LocalStack

IDLE_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class PendingRestore:
    operation_id: str
    target: str
    card: dict[str, Any]  # the approval card as the channel shows it (buttons still there)


def drain(stack: LocalStack) -> None:
    """Wait (bounded) until no asynchronous Lambda invocation is queued or running."""
    if not stack.runtime.wait_idle(timeout=IDLE_TIMEOUT_SECONDS):
        raise RuntimeError(f"asynchronous work still running after {IDLE_TIMEOUT_SECONDS}s")


def pending_restore(stack: LocalStack, driver: Driver, target: str) -> PendingRestore:
    """A restore waiting for approval, with its card posted: it holds the lock on `target`."""
    info = stack.info
    reply, response_url = driver.request(
        info["users"]["requester"], f"{info['seed']['snapshot']} {target}"
    )
    if reply.status != 200:
        raise RuntimeError(f"/restore answered {reply.status}: {reply.body}")
    operation_id = driver.operation_id_from(response_url)
    card = driver.card(operation_id)
    drain(stack)
    return PendingRestore(operation_id, target, card)


def first_of_two_approvals(stack: LocalStack, driver: Driver, pending: PendingRestore) -> None:
    """Approve once a restore that needs two approvers: the card stays pending, with buttons."""
    reply = driver.click(stack.info["users"]["approver"], pending.card, APPROVE)
    if reply.status != 200:
        raise RuntimeError(f"the click answered {reply.status}: {reply.body}")
    drain(stack)


def elapsed_since(start: float) -> float:
    return time.perf_counter() - start
