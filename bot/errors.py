"""Turn errors into text a Slack user can act on; unknown errors get a correlation id to quote."""

from __future__ import annotations

import logging
import secrets

from pipeline.errors import (
    AlreadyDecidedError,
    AuroraRestoreError,
    AwsThrottledError,
    InvalidRequestError,
    InvalidTransitionError,
    OperationNotFoundError,
    ProtectedClusterError,
    RollbackRefusedError,
    SnapshotNotAvailableError,
    SnapshotNotFoundError,
    TargetExistsError,
    TargetLockedError,
)

logger = logging.getLogger("aurora_restore.bot")

# Domain errors whose message is already written for the person who asked.
_USER_FACING: tuple[type[AuroraRestoreError], ...] = (
    InvalidRequestError,
    SnapshotNotFoundError,
    SnapshotNotAvailableError,
    ProtectedClusterError,
    RollbackRefusedError,
    TargetExistsError,
    TargetLockedError,
    OperationNotFoundError,
    AlreadyDecidedError,
    InvalidTransitionError,
)
_HINTS: dict[type[AuroraRestoreError], str] = {
    TargetExistsError: "Add `--replace` to replace it (its final snapshot is kept), or pick a new name.",
    SnapshotNotFoundError: "Check the name (and `--source-region` for a snapshot in another region).",
    TargetLockedError: "Wait for that restore to finish, or cancel it with `/restore cancel <id>`.",
}


def correlation_id() -> str:
    return secrets.token_hex(4)


def friendly_error(exc: BaseException, *, action: str = "handle your request") -> str:
    """A message for the user. Unknown errors are logged (type only, no payloads) with an id."""
    if isinstance(exc, _USER_FACING):
        hint = next((h for kind, h in _HINTS.items() if isinstance(exc, kind)), "")
        return f":warning: {exc.message}" + (f"\n{hint}" if hint else "")
    if isinstance(exc, AwsThrottledError):
        return ":hourglass: AWS is busy right now; please try again in a minute."
    reference = correlation_id()
    logger.error(
        "unexpected error while trying to %s (reference %s): %s",
        action,
        reference,
        type(exc).__name__,
        exc_info=exc,
    )
    return (
        f":x: Sorry, something went wrong while trying to {action}. "
        f"If it keeps happening, give the operators this reference: `{reference}`."
    )
