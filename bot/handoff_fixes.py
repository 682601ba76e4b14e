"""What it takes to fix a refused approval hand-off (SendTaskSuccess), by AWS error code: the
sentence the approver is shown, since clicking again cannot help until someone does it."""

from __future__ import annotations

from pipeline.errors import AuroraRestoreError

# What the workflow's refusals need, by AWS error code (SendTaskSuccess's errors).
FIXES = {
    "AccessDenied": "an operator allows the Slack endpoint's IAM role `states:SendTaskSuccess` "
    "on this state machine (the deployment's IAM policy)",
    "KmsAccessDeniedException": "an operator lets the Slack endpoint use the state machine's "
    "KMS key (its key policy, or the role's)",
    "KmsInvalidStateException": "an operator enables the state machine's KMS key again",
}


def who_fixes(exc: AuroraRestoreError) -> str:
    code = (exc.aws_error or "").split(":", 1)[0].strip()
    fix = FIXES.get("AccessDenied" if code.startswith("AccessDenied") else code)
    return fix or "an operator looks into it (the Slack endpoint's log has this error)"
