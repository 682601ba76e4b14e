"""decide_click, table-driven on plain data: what a click on approve, deny or cancel does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.policy import (
    ClickAction,
    ClickDecision,
    ClickVerdict,
    Policy,
    decide_click,
    missing_approvals,
)
from pipeline.models import Operation, OperationStatus, RestoreRequest, Stage

POLICY = Policy.model_validate(
    {
        "requesters": {"users": ["U0REQ"]},
        "approvers": {"users": ["U0APP1", "U0APP2"], "usergroups": ["S0DBA"]},
    }
)
MOMENT = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
PENDING, APPROVED, RUNNING = (
    OperationStatus.PENDING_APPROVAL,
    OperationStatus.APPROVED,
    OperationStatus.RUNNING,
)
APPROVE, DENY, CANCEL = ClickAction.APPROVE, ClickAction.DENY, ClickAction.CANCEL


def operation(
    status: OperationStatus, approvers: tuple[str, ...] = (), required: int = 1
) -> Operation:
    return Operation(
        operation_id="ar-20260102030400-abcdef",
        status=status,
        request=RestoreRequest(snapshot="snap-1", target_cluster="new-db", requester="U0REQ"),
        approvers=list(approvers),
        required_approvals=required,
        created_at=MOMENT,
        updated_at=MOMENT,
    )


@pytest.mark.parametrize(
    ("status", "approvers", "clicker", "groups", "action", "token", "verdict"),
    [
        (PENDING, (), "U0APP1", set(), APPROVE, True, ClickVerdict.RECORD_APPROVAL),
        (PENDING, (), "U0OTHER", {"S0DBA"}, APPROVE, True, ClickVerdict.RECORD_APPROVAL),
        (PENDING, (), "U0APP1", set(), APPROVE, False, ClickVerdict.NOT_READY),
        (PENDING, (), "U0OTHER", set(), APPROVE, True, ClickVerdict.REFUSED),  # no approver
        (PENDING, (), "U0REQ", set(), APPROVE, True, ClickVerdict.REFUSED),  # self-approval
        (PENDING, ("U0APP1",), "U0APP1", set(), APPROVE, True, ClickVerdict.REFUSED),  # twice
        (PENDING, ("U0APP1",), "U0APP1", set(), DENY, True, ClickVerdict.DENY),  # changed mind
        (PENDING, (), "U0OTHER", set(), DENY, True, ClickVerdict.REFUSED),
        (APPROVED, (), "U0APP1", set(), APPROVE, True, ClickVerdict.SETTLED),
        (OperationStatus.DENIED, (), "U0APP1", set(), DENY, True, ClickVerdict.SETTLED),
        (PENDING, (), "U0REQ", set(), CANCEL, True, ClickVerdict.CANCEL_PENDING),
        (PENDING, (), "U0APP2", set(), CANCEL, True, ClickVerdict.CANCEL_PENDING),
        (PENDING, (), "U0OTHER", set(), CANCEL, True, ClickVerdict.REFUSED),
        (APPROVED, (), "U0REQ", set(), CANCEL, True, ClickVerdict.CANCEL_RUNNING),
        (RUNNING, (), "U0OTHER", {"S0DBA"}, CANCEL, True, ClickVerdict.CANCEL_RUNNING),
        (OperationStatus.SUCCEEDED, (), "U0REQ", set(), CANCEL, True, ClickVerdict.ENDED),
    ],
)
def test_decide_click(
    status: OperationStatus,
    approvers: tuple[str, ...],
    clicker: str,
    groups: set[str],
    action: ClickAction,
    token: bool,
    verdict: ClickVerdict,
) -> None:
    decision = decide_click(
        operation(status, approvers),
        clicker,
        action,
        policy=POLICY,
        groups_of_clicker=lambda: groups,
        has_task_token=token,
    )
    assert decision.verdict == verdict
    assert bool(decision.message) == (verdict == ClickVerdict.REFUSED)


@pytest.mark.parametrize(
    ("stage", "verdict"),
    [
        (Stage.SETUP_DATABASE, ClickVerdict.CANCEL_RUNNING),
        (Stage.SWAP, ClickVerdict.REFUSED),  # half-swapped names would have nobody to fix them
        (Stage.DELETE_COPY, ClickVerdict.CANCEL_RUNNING),
    ],
)
def test_a_restore_cannot_be_cancelled_while_its_names_are_swapped(
    stage: Stage, verdict: ClickVerdict
) -> None:
    running = operation(RUNNING).model_copy(update={"current_stage": stage})
    decision = decide_click(
        running, "U0REQ", CANCEL, policy=POLICY, groups_of_clicker=lambda: set()
    )
    assert decision.verdict == verdict
    if verdict == ClickVerdict.REFUSED:
        assert "cannot be cancelled half-way" in decision.message


def test_a_settled_operation_asks_nobody_for_the_clickers_groups() -> None:
    def no_lookup() -> set[str]:
        raise AssertionError("the groups were looked up")

    decision = decide_click(
        operation(OperationStatus.CANCELLED),
        "U0APP1",
        APPROVE,
        policy=POLICY,
        groups_of_clicker=no_lookup,
    )
    assert decision == ClickDecision(ClickVerdict.SETTLED)


@pytest.mark.parametrize(
    ("approvers", "required", "missing"),
    [((), 1, 1), (("U0APP1",), 1, 0), (("U0APP1",), 2, 1), (("U0APP1", "U0APP2"), 2, 0)],
)
def test_missing_approvals(approvers: tuple[str, ...], required: int, missing: int) -> None:
    assert missing_approvals(operation(PENDING, approvers, required)) == missing
