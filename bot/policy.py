"""Who may request, approve and cancel restores: a validated policy file and pure decisions.

The decision functions take everything they need as arguments (usergroup membership is resolved
by the caller), so they are fast, deterministic and tested table-driven.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.retention_policy import RetentionPolicy
from pipeline.models import Operation, OperationStatus, Stage
from pipeline.retention_terms import RetentionTerms

_USER_PREFIXES = ("U", "W")
_USERGROUP_PREFIX = "S"


class Principals(BaseModel):
    """Slack user ids (`U…`/`W…`) and user group ids (`S…`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    users: frozenset[str] = frozenset()
    usergroups: frozenset[str] = frozenset()

    @field_validator("users")
    @classmethod
    def _user_ids(cls, value: frozenset[str]) -> frozenset[str]:
        bad = sorted(u for u in value if not u.startswith(_USER_PREFIXES))
        if bad:
            raise ValueError(f"Slack user ids start with U or W: {', '.join(bad)}")
        return value

    @field_validator("usergroups")
    @classmethod
    def _group_ids(cls, value: frozenset[str]) -> frozenset[str]:
        bad = sorted(g for g in value if not g.startswith(_USERGROUP_PREFIX))
        if bad:
            raise ValueError(f"Slack user group ids start with S: {', '.join(bad)}")
        return value

    def includes(self, user: str, groups_of_user: Iterable[str] = ()) -> bool:
        return user in self.users or not self.usergroups.isdisjoint(groups_of_user)


class Policy(BaseModel):
    """The policy file (YAML); see config/policy.example.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requesters: Principals
    approvers: Principals
    protected_targets: tuple[str, ...] = ()  # fnmatch patterns: never replaced
    two_approver_targets: tuple[str, ...] = ()  # fnmatch patterns: two distinct approvers
    # at least 5 s: short expiries are for rehearsals and the local stack's tests
    approval_expiry_seconds: int = Field(default=3600, ge=5, le=7 * 24 * 3600)
    allow_self_approval: bool = False
    # How long a replace keeps the old cluster and the tool's snapshots, by target.
    retention: RetentionPolicy = RetentionPolicy()

    @property
    def usergroups(self) -> frozenset[str]:
        return self.requesters.usergroups | self.approvers.usergroups

    @classmethod
    def from_yaml(cls, text: str) -> Policy:
        return cls.model_validate(yaml.safe_load(text) or {})


def matches_any(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(name, pattern.lower()) for pattern in patterns)


class Reason(StrEnum):
    ALLOWED = "allowed"
    NOT_A_REQUESTER = "not_a_requester"
    PROTECTED_TARGET = "protected_target"
    NOT_AN_APPROVER = "not_an_approver"
    SELF_APPROVAL = "self_approval"
    ALREADY_APPROVED = "already_approved"
    NOT_REQUESTER_OR_APPROVER = "not_requester_or_approver"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: Reason
    message: str


def _allow(message: str = "allowed") -> Decision:
    return Decision(True, Reason.ALLOWED, message)


def _refuse(reason: Reason, message: str) -> Decision:
    return Decision(False, reason, message)


def can_request(policy: Policy, user: str, groups_of_user: Iterable[str] = ()) -> Decision:
    if policy.requesters.includes(user, groups_of_user):
        return _allow()
    return _refuse(
        Reason.NOT_A_REQUESTER,
        "You are not allowed to request restores. Ask an admin to add you (or one of your user "
        "groups) to the policy's requesters.",
    )


def check_target(policy: Policy, target_cluster: str, *, replace: bool) -> Decision:
    """Protected targets are refused before any approval is asked for."""
    if replace and matches_any(target_cluster.lower(), policy.protected_targets):
        return _refuse(
            Reason.PROTECTED_TARGET,
            f"`{target_cluster}` is a protected cluster and can never be replaced. "
            "Restore into a new cluster name instead.",
        )
    return _allow()


def required_approvals(policy: Policy, target_cluster: str) -> int:
    return 2 if matches_any(target_cluster.lower(), policy.two_approver_targets) else 1


def retention_for(policy: Policy, target_cluster: str) -> RetentionTerms:
    """The retention a restore into `target_cluster` is planned with (carried by its request)."""
    return policy.retention.terms_for(target_cluster)


def can_approve(
    policy: Policy,
    *,
    clicker: str,
    groups_of_clicker: Iterable[str],
    requester: str,
    approvals_so_far: Iterable[str],
) -> Decision:
    """May `clicker` approve or deny a request made by `requester`?"""
    if not policy.approvers.includes(clicker, groups_of_clicker):
        return _refuse(
            Reason.NOT_AN_APPROVER,
            "Only approvers named in the restore policy can approve or deny restores.",
        )
    if clicker == requester and not policy.allow_self_approval:
        return _refuse(
            Reason.SELF_APPROVAL,
            "You asked for this restore, so someone else has to approve or deny it. "
            "Use `/restore cancel` to withdraw it.",
        )
    if clicker in set(approvals_so_far):
        return _refuse(
            Reason.ALREADY_APPROVED,
            "You have already approved this restore; it needs a second, different approver.",
        )
    return _allow()


def can_cancel(
    policy: Policy, *, clicker: str, groups_of_clicker: Iterable[str], requester: str
) -> Decision:
    if clicker == requester or policy.approvers.includes(clicker, groups_of_clicker):
        return _allow()
    return _refuse(
        Reason.NOT_REQUESTER_OR_APPROVER,
        "Only the person who asked for this restore or an approver can cancel it.",
    )


class ClickAction(StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    CANCEL = "cancel"


class ClickVerdict(StrEnum):
    SETTLED = "settled"  # approve/deny: decided already, nothing more to do
    ENDED = "ended"  # cancel: the operation has ended already
    REFUSED = "refused"  # the policy does not let this person do it (the decision's message)
    NOT_READY = "not_ready"  # approve: the workflow has not handed over its task token yet
    RECORD_APPROVAL = "record_approval"
    DENY = "deny"
    CANCEL_PENDING = "cancel_pending"  # before approval: the workflow is told, nothing ran
    CANCEL_RUNNING = "cancel_running"  # approved or running: its execution is stopped


@dataclass(frozen=True)
class ClickDecision:
    verdict: ClickVerdict
    message: str = ""  # why, for REFUSED


def decide_click(
    operation: Operation,
    clicker: str,
    action: ClickAction,
    *,
    policy: Policy,
    groups_of_clicker: Callable[[], Iterable[str]],
    has_task_token: bool = True,
) -> ClickDecision:
    """What a click on approve, deny or cancel does, from the operation as read.

    `groups_of_clicker` is called only when the policy needs the groups, so a click on a settled
    operation asks Slack for nothing; given the same answers the decision is always the same."""
    if action == ClickAction.CANCEL:
        if operation.status.is_terminal:
            return ClickDecision(ClickVerdict.ENDED)
        decision = can_cancel(
            policy,
            clicker=clicker,
            groups_of_clicker=groups_of_clicker(),
            requester=operation.request.requester,
        )
        if not decision.allowed:
            return ClickDecision(ClickVerdict.REFUSED, decision.message)
        if operation.status == OperationStatus.RUNNING and operation.current_stage == Stage.SWAP:
            # Stopping the execution now would leave the names half-swapped, with nothing to
            # put them back: the swap finishes, or puts every name back itself, in minutes.
            return ClickDecision(
                ClickVerdict.REFUSED,
                f"`{operation.target_cluster}` is being swapped with its restored cluster and "
                "cannot be cancelled half-way; it finishes, or puts every name back if it "
                "fails, within minutes.",
            )
        if operation.status == OperationStatus.PENDING_APPROVAL:
            return ClickDecision(ClickVerdict.CANCEL_PENDING)
        return ClickDecision(ClickVerdict.CANCEL_RUNNING)
    if operation.status != OperationStatus.PENDING_APPROVAL:
        return ClickDecision(ClickVerdict.SETTLED)
    decision = can_approve(
        policy,
        clicker=clicker,
        groups_of_clicker=groups_of_clicker(),
        requester=operation.request.requester,
        # An approver who already approved may still change their mind and deny.
        approvals_so_far=operation.approvers if action == ClickAction.APPROVE else [],
    )
    if not decision.allowed:
        return ClickDecision(ClickVerdict.REFUSED, decision.message)
    if action == ClickAction.DENY:
        return ClickDecision(ClickVerdict.DENY)
    if not has_task_token:
        return ClickDecision(ClickVerdict.NOT_READY)
    return ClickDecision(ClickVerdict.RECORD_APPROVAL)


def missing_approvals(operation: Operation) -> int:
    """How many more distinct approvals the operation needs before it is approved."""
    return max(operation.required_approvals - len(operation.approvers), 0)
