"""Block Kit action and block ids. Button values carry only the operation id, never a token."""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    APPROVE = "restore-approval-approve"
    DENY = "restore-approval-deny"


class BlockId(StrEnum):
    DECISION = "restore-approval-decision"
    CHECKLIST = "restore-checklist"
    DETAILS = "restore-details"
    OUTCOME = "restore-outcome"


SLASH_COMMAND = "/restore"
