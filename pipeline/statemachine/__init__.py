"""The restore state machine definition (Amazon States Language), shared by infra and local stack."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


def definition_text() -> str:
    return resources.files(__package__).joinpath("restore.asl.json").read_text(encoding="utf-8")


def placeholders(text: str | None = None) -> set[str]:
    """Every `${Name}` the definition expects a substitution for."""
    return set(PLACEHOLDER.findall(text if text is not None else definition_text()))


def render(substitutions: dict[str, str], *, time_scale: float = 1.0) -> dict[str, Any]:
    """Substitute placeholders (as DefinitionSubstitutions does) and optionally scale waits.

    Scaling is for the local stack: Wait states and retry intervals shrink so a restore that takes
    an hour on AWS replays in seconds. A missing substitution is an error, never left in place.
    """
    text = definition_text()
    missing = placeholders(text) - substitutions.keys()
    if missing:
        raise KeyError(f"no substitution for {', '.join(sorted(missing))}")
    rendered = PLACEHOLDER.sub(lambda match: substitutions[match.group(1)], text)
    definition: dict[str, Any] = json.loads(rendered)
    if time_scale != 1.0:
        _scale(definition, time_scale)
    return definition


def _scale(definition: dict[str, Any], factor: float) -> None:
    for state in definition["States"].values():
        if state["Type"] == "Wait" and "Seconds" in state:
            # Whole seconds (ASL), never rounded down to none while RDS statuses still take
            # scaled time: a poll loop that does not wait exhausts its attempts too early.
            seconds = state["Seconds"] * factor
            state["Seconds"] = max(1, int(seconds)) if seconds > 0 else 0
        if factor >= 1:
            continue
        for retrier in state.get("Retry", []):
            # ASL requires a positive integer interval, so scaled retries wait one second, flat.
            retrier["IntervalSeconds"] = max(1, int(retrier.get("IntervalSeconds", 1) * factor))
            retrier["BackoffRate"] = 1.0
            retrier.pop("MaxDelaySeconds", None)
