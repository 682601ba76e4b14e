"""Authorisation decisions, table-driven, and the policy file's validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.policy import (
    Decision,
    Policy,
    Reason,
    can_approve,
    can_cancel,
    can_request,
    check_target,
    required_approvals,
)

POLICY = Policy.model_validate(
    {
        "requesters": {"users": ["U0REQ"], "usergroups": ["S0DEV"]},
        "approvers": {"users": ["U0APP1", "U0APP2"], "usergroups": ["S0DBA"]},
        "protected_targets": ["prod-*", "*-primary"],
        "two_approver_targets": ["critical-*"],
    }
)
SELF_APPROVING = POLICY.model_copy(update={"allow_self_approval": True})


@pytest.mark.parametrize(
    ("user", "groups", "reason"),
    [
        ("U0REQ", set(), Reason.ALLOWED),
        ("U0OTHER", {"S0DEV"}, Reason.ALLOWED),
        ("U0OTHER", {"S0SALES"}, Reason.NOT_A_REQUESTER),
        ("U0APP1", set(), Reason.NOT_A_REQUESTER),  # approving is not requesting
    ],
)
def test_can_request(user: str, groups: set[str], reason: Reason) -> None:
    decision = can_request(POLICY, user, groups)
    assert (decision.allowed, decision.reason) == (reason == Reason.ALLOWED, reason)


@pytest.mark.parametrize(
    ("target", "replace", "reason"),
    [
        ("prod-db", True, Reason.PROTECTED_TARGET),
        ("orders-primary", True, Reason.PROTECTED_TARGET),
        ("PROD-DB", True, Reason.PROTECTED_TARGET),
        ("prod-db", False, Reason.ALLOWED),  # a new name next to prod is not a replacement
        ("staging-db", True, Reason.ALLOWED),
    ],
)
def test_protected_targets_are_never_replaced(target: str, replace: bool, reason: Reason) -> None:
    assert check_target(POLICY, target, replace=replace).reason == reason


@pytest.mark.parametrize(
    ("policy", "clicker", "groups", "approved", "reason"),
    [
        (POLICY, "U0APP1", set(), [], Reason.ALLOWED),
        (POLICY, "U0DBA", {"S0DBA"}, [], Reason.ALLOWED),
        (POLICY, "U0OUT", set(), [], Reason.NOT_AN_APPROVER),
        (POLICY, "U0OUT", {"S0DEV"}, [], Reason.NOT_AN_APPROVER),
        (POLICY, "U0REQ", set(), [], Reason.NOT_AN_APPROVER),
        (POLICY, "U0APP1", set(), ["U0APP1"], Reason.ALREADY_APPROVED),
        (POLICY, "U0APP2", set(), ["U0APP1"], Reason.ALLOWED),
    ],
)
def test_can_approve(
    policy: Policy, clicker: str, groups: set[str], approved: list[str], reason: Reason
) -> None:
    decision = can_approve(
        policy,
        clicker=clicker,
        groups_of_clicker=groups,
        requester="U0REQ",
        approvals_so_far=approved,
    )
    assert decision.reason == reason
    assert decision.allowed is (reason == Reason.ALLOWED)
    assert decision.message


@pytest.mark.parametrize(
    ("policy", "reason"), [(POLICY, Reason.SELF_APPROVAL), (SELF_APPROVING, Reason.ALLOWED)]
)
def test_self_approval_only_when_the_policy_allows_it(policy: Policy, reason: Reason) -> None:
    decision = can_approve(
        policy, clicker="U0APP1", groups_of_clicker=(), requester="U0APP1", approvals_so_far=()
    )
    assert decision.reason == reason


@pytest.mark.parametrize(
    ("clicker", "groups", "allowed"),
    [
        ("U0REQ", set(), True),
        ("U0APP2", set(), True),
        ("U0X", {"S0DBA"}, True),
        ("U0X", set(), False),
    ],
)
def test_can_cancel(clicker: str, groups: set[str], allowed: bool) -> None:
    decision = can_cancel(POLICY, clicker=clicker, groups_of_clicker=groups, requester="U0REQ")
    assert decision.allowed is allowed
    assert decision.reason == (Reason.ALLOWED if allowed else Reason.NOT_REQUESTER_OR_APPROVER)


@pytest.mark.parametrize(("target", "count"), [("critical-orders", 2), ("staging", 1)])
def test_two_approver_targets(target: str, count: int) -> None:
    assert required_approvals(POLICY, target) == count


def test_decisions_are_frozen() -> None:
    decision = can_request(POLICY, "U0REQ")
    assert isinstance(decision, Decision)
    with pytest.raises(AttributeError):
        decision.allowed = False  # type: ignore[misc]


def test_example_policy_file_is_valid() -> None:
    text = (Path(__file__).parents[2] / "config" / "policy.example.yaml").read_text()
    policy = Policy.from_yaml(text)
    assert not policy.allow_self_approval
    assert policy.approvers.users


@pytest.mark.parametrize(
    "bad",
    [
        {"requesters": {"users": ["alice"]}, "approvers": {}},
        {"requesters": {}, "approvers": {"usergroups": ["U0NOTAGROUP"]}},
        {"requesters": {}, "approvers": {}, "approval_expiry_seconds": 4},
        {"requesters": {}, "approvers": {}, "surprise": True},
    ],
)
def test_bad_policies_fail_loudly(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Policy.model_validate(bad)
