"""A cancel and the swap exclude each other, by conditional writes on the operation's item.

Stopping the workflow half-way through the swap would leave the target without its name (the
old cluster renamed away, the new one not yet in its place) and no stage left to finish or undo
it. So the swap records its start only while the operation is still running, and a cancel is
written only while that start is not recorded: whichever write comes first wins. Once the swap
has begun it runs to its end (or its undo), and `/restore rollback` is the way back.
"""

from __future__ import annotations

from typing import Any

from pipeline.context import PipelineContext
from pipeline.models import Operation, OperationStatus, utc_now
from pipeline.stages.swap_steps import SWAP_STARTED

# The condition a cancel is written under (pipeline.store's condition form).
SWAP_NOT_STARTED: tuple[str, dict[str, str], dict[str, Any]] = (
    "attribute_not_exists(#swap_resources.#swap_started)",
    {"#swap_resources": "resources", "#swap_started": SWAP_STARTED},
    {},
)


def swap_underway(operation: Operation) -> bool:
    """The swap has begun and the operation has not ended: it must not be stopped now."""
    return SWAP_STARTED in operation.resources and not operation.status.is_terminal


def mark_swap_started(ctx: PipelineContext, operation: Operation) -> None:
    """Record the swap's start, only while the operation runs: a cancel written meanwhile
    raises InvalidTransitionError here, before anything is renamed."""
    fresh = ctx.store.get(operation.operation_id)
    ctx.store.update_while(
        operation.operation_id,
        {OperationStatus.RUNNING},
        resources={**fresh.resources, SWAP_STARTED: utc_now().isoformat()},
    )
