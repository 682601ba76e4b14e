"""DynamoDB's item operations made atomic in moto, as they are on AWS.

DynamoDB applies each write, with its condition, atomically: "a conditional write succeeds only if
the item attributes meet one or more expected conditions", and two concurrent writes to one item
cannot both see the state before the other
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate).
moto reads the item, checks the condition and writes in separate Python steps, so two threads can
both pass `status = PENDING_APPROVAL` and both approve: a double decision no real table allows.
One lock around moto's item operations restores that guarantee for the local stack and the tests.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

# Item reads too: on AWS a read never sees half of another request's write to that item.
ITEM_OPERATIONS = (
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "get_item",
    "query",
    "scan",
)
_lock = threading.RLock()
_installed: dict[str, Callable[..., Any]] = {}


def install() -> None:
    """Serialise moto's DynamoDB item operations (idempotent; lasts for the process)."""
    if _installed:
        return
    for name in ITEM_OPERATIONS:
        original = getattr(DynamoDBBackend, name)
        _installed[name] = original
        setattr(DynamoDBBackend, name, _atomic(original))


def _atomic(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def serialised(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return operation(*args, **kwargs)

    return serialised
