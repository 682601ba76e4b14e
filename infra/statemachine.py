"""Facts read from the one ASL file the CDK app deploys and the local stack runs."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pipeline

ASL_PATH = Path(pipeline.__file__).resolve().parent / "statemachine" / "restore.asl.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@cache
def definition() -> dict[str, Any]:
    return dict(json.loads(ASL_PATH.read_text(encoding="utf-8")))


def placeholders() -> set[str]:
    """Every `${Name}` in the definition: each must get a DefinitionSubstitution."""
    return set(_PLACEHOLDER.findall(ASL_PATH.read_text(encoding="utf-8")))


def state_machine_timeout_seconds() -> int:
    return int(definition()["TimeoutSeconds"])


def execution_budget_seconds(approval_expiry_seconds: int, max_wait_attempts: int) -> int:
    """The longest a restore can legitimately take: the approval wait plus every poll loop
    running to its maximum number of attempts (Lambda run time is small beside the Waits)."""
    waits = [
        int(state["Seconds"])
        for state in definition()["States"].values()
        if state["Type"] == "Wait" and "Seconds" in state
    ]
    return approval_expiry_seconds + sum(waits) * max_wait_attempts
