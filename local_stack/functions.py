"""The Lambda functions the local stack deploys: the CDK app's catalogue (infra/constants.py),
under local function names, so both deploy the same handlers with the same ASL placeholders."""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra.constants import (
    ALL_FUNCTIONS,
    NOTIFIER,
    PROGRESS_METRICS,
    RETENTION_SWEEP,
    SLACK_ENDPOINT,
    FunctionSpec,
)


@dataclass(frozen=True)
class LocalFunction:
    """One function of the catalogue as the local stack deploys it, under its local name."""

    name: str
    handler: str
    placeholder: str | None = None  # the `${...}` in restore.asl.json this function's ARN fills
    construct_id: str = ""  # the CDK app's, which names its role's policy (iam_policies.json)


def local_name(function: FunctionSpec) -> str:
    """`SetupDatabase` → `aurora-restore-setup-database`."""
    return "aurora-restore-" + re.sub(r"(?<!^)(?=[A-Z])", "-", function.construct_id).lower()


# CloudWatch metrics have no reader on this machine, so the metrics function is not deployed.
FUNCTIONS: tuple[LocalFunction, ...] = tuple(
    LocalFunction(
        local_name(function), function.handler, function.placeholder, function.construct_id
    )
    for function in ALL_FUNCTIONS
    if function is not PROGRESS_METRICS
)
BOT_FUNCTION = local_name(SLACK_ENDPOINT)
NOTIFIER_FUNCTION = local_name(NOTIFIER)
RETENTION_FUNCTION = local_name(RETENTION_SWEEP)
