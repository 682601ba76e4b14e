"""The local stack's fixed names: its account, state machine, Slack workspace and users, and the
policy's protected targets (shared by the stack, its deployment and the clients that drive it)."""

from __future__ import annotations

ACCOUNT = "123456789012"  # moto's default account
STATE_MACHINE_NAME = "aurora-restore"
USERS = {
    "requester": ("U0LREQUEST", "dana.requester"),
    "approver": ("U0LAPPROV1", "alex.approver"),
    "second_approver": ("U0LAPPROV2", "sam.approver"),
    "outsider": ("U0LOUTSIDE", "olly.outsider"),
}
CHANNEL = ("C0LRESTORE", "db-restores")
TEAM_ID = "T0LOCAL001"
# The policy's protected_targets, which a deployment also passes to the pipeline's functions.
PROTECTED_TARGETS = ["prod-*"]
