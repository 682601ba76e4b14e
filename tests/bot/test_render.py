"""Card rendering for every state, thread texts, and that no secret reaches a button."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.ids import ActionId, BlockId
from bot.render import checklist, progress_text, render_card
from pipeline.models import (
    Operation,
    OperationStatus,
    Plan,
    ProgressEvent,
    RestoreRequest,
    Stage,
    StageRecord,
    StageStatus,
)
from pipeline.retention_terms import RetentionTerms

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OP_ID = "ar-20260301120000-abcdef"
PLAN = Plan(
    source_snapshot_id="orders-snap",
    source_snapshot_arn="arn:aws:rds:us-east-1:123456789012:cluster-snapshot:orders-snap",
    source_region="us-east-1",
    snapshot_created_at=NOW - timedelta(days=1),
    engine="aurora-postgresql",
    engine_version="15.4",
    target_region="us-east-1",
    restore_snapshot_id="orders-snap",
    target_cluster="orders-staging",
    target_exists=True,
    delete_target=True,
    final_snapshot_id="orders-staging-final-x",
    instance_class="db.r6g.large",
    instance_count=2,
)


def operation(status: OperationStatus, **extra: object) -> Operation:
    fields: dict[str, object] = {
        "operation_id": OP_ID,
        "status": status,
        "request": RestoreRequest(
            snapshot="orders-snap", target_cluster="orders-staging", replace=True, requester="U0REQ"
        ),
        "plan": PLAN,
        "created_at": NOW,
        "updated_at": NOW,
        "approval_expires_at": NOW + timedelta(hours=1),
        **extra,
    }
    return Operation.model_validate(fields)


def texts(blocks: list[dict]) -> str:
    return json.dumps(blocks)


def buttons(blocks: list[dict]) -> list[dict]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_pending_card_states_the_plan_and_offers_confirmed_buttons() -> None:
    card = render_card(operation(OperationStatus.PENDING_APPROVAL, required_approvals=2))
    body = texts(card.blocks)
    for fact in (
        "orders-snap",
        "orders-staging",
        "existing cluster will be deleted",
        "orders-staging-final-x",
        "2 x `db.r6g.large`",
        "<@U0REQ>",
        "0 of 2",
        "needs 2 different approvers",
        "<!date^",
    ):
        assert fact in body
    approve, deny = buttons(card.blocks)
    assert (approve["action_id"], deny["action_id"]) == (ActionId.APPROVE, ActionId.DENY)
    assert approve["value"] == deny["value"] == OP_ID  # only the operation id
    assert (
        "confirm" in approve
        and "deleting the existing cluster" in approve["confirm"]["text"]["text"]
    )
    assert "waiting for approval" in card.text


SWAP_PLAN = PLAN.model_copy(
    update={
        "delete_target": False,
        "final_snapshot_id": None,
        "swap_target": True,
        "staging_cluster_id": "orders-staging-new-abcdef",
        "kept_cluster_id": "orders-staging-old-abcdef",
    }
)
TERMS = RetentionTerms(kept_cluster_days=2, final_snapshot_days=14)


@pytest.mark.parametrize(
    ("plan", "says"),
    [
        (
            SWAP_PLAN.model_copy(update={"retention": TERMS}),
            "as `orders-staging-old-abcdef` for rollback for 2 days after the swap, then deleted "
            "with a final snapshot kept 14 days",
        ),
        (
            SWAP_PLAN.model_copy(
                update={"retention": TERMS.model_copy(update={"kept_cluster_days": 1})}
            ),
            "for rollback for 1 day after the swap",
        ),
        (
            PLAN.model_copy(update={"retention": TERMS}),
            "`orders-staging-final-x` (both kept 14 days)",
        ),
        (  # a rollback keeps the cluster it replaces on its own terms
            SWAP_PLAN.model_copy(
                update={"retention": TERMS, "rollback_of": "ar-20260228120000-123456"}
            ),
            "as `orders-staging-old-abcdef` for 2 days after the swap (itself a rollback away)",
        ),
    ],
)
def test_the_card_says_how_long_a_replace_keeps_the_old_cluster(plan: Plan, says: str) -> None:
    card = render_card(operation(OperationStatus.PENDING_APPROVAL, plan=plan))
    assert says in texts(card.blocks)


def test_a_plan_stored_before_retention_was_planned_names_no_duration() -> None:
    body = texts(render_card(operation(OperationStatus.PENDING_APPROVAL, plan=SWAP_PLAN)).blocks)
    assert "for rollback" in body and "after the swap" not in body


@pytest.mark.parametrize(
    ("status", "extra", "says"),
    [
        (OperationStatus.APPROVED, {"decided_by": "U0APP"}, "Approved by <@U0APP>"),
        (
            OperationStatus.DENIED,
            {"decided_by": "U0APP"},
            "Denied by <@U0APP>. Nothing was changed",
        ),
        (OperationStatus.EXPIRED, {}, "the request expired"),
        (OperationStatus.CANCELLED, {"cancelled_by": "U0REQ"}, "Cancelled by <@U0REQ>"),
        (OperationStatus.RUNNING, {"decided_by": "U0APP"}, "Running"),
        (
            OperationStatus.SUCCEEDED,
            {"decided_by": "U0APP", "resources": {"cluster_id": "orders-staging"}},
            "`orders-staging` is ready",
        ),
        (
            OperationStatus.FAILED,
            {"decided_by": "U0APP", "error": "RestoreFailed: boom"},
            "RestoreFailed: boom",
        ),
    ],
)
def test_decided_cards_replace_the_buttons_with_the_outcome(
    status: OperationStatus, extra: dict[str, object], says: str
) -> None:
    card = render_card(operation(status, **extra))
    assert buttons(card.blocks) == []
    assert says in texts(card.blocks)
    assert any(b.get("block_id") == BlockId.OUTCOME for b in card.blocks)


def test_running_card_has_a_live_checklist() -> None:
    stages = {
        Stage.VALIDATE: StageRecord(
            status=StageStatus.SUCCEEDED, started_at=NOW, ended_at=NOW + timedelta(seconds=4)
        ),
        Stage.COPY_SNAPSHOT: StageRecord(status=StageStatus.SKIPPED, started_at=NOW, ended_at=NOW),
        Stage.DELETE_TARGET: StageRecord(
            status=StageStatus.SUCCEEDED,
            started_at=NOW,
            ended_at=NOW + timedelta(minutes=6, seconds=5),
        ),
        Stage.RESTORE_CLUSTER: StageRecord(status=StageStatus.STARTED, started_at=NOW),
    }
    op = operation(OperationStatus.RUNNING, decided_by="U0APP", stages=stages)
    lines = checklist(op).splitlines()
    assert lines[0] == ":white_check_mark: Validate request (4s)"
    assert lines[1] == ":white_check_mark: Approval"  # implied by the decision
    assert ":fast_forward: Copy snapshot" in lines[2]
    assert lines[3] == ":white_check_mark: Delete existing target (6m 5s)"
    assert lines[4] == ":hourglass_flowing_sand: Restore cluster and instances"
    assert lines[5].startswith(":white_circle: Set up database users")
    card = render_card(op)
    assert any(b.get("block_id") == BlockId.CHECKLIST for b in card.blocks)


def test_failed_stage_shows_its_reason() -> None:
    stages = {
        Stage.RESTORE_CLUSTER: StageRecord(
            status=StageStatus.FAILED, started_at=NOW, ended_at=NOW, detail="quota exceeded"
        )
    }
    op = operation(
        OperationStatus.FAILED, decided_by="U0APP", stages=stages, error="quota exceeded"
    )
    assert ":x: Restore cluster and instances (0s): quota exceeded" in checklist(op)


def test_cancelled_before_approval_shows_no_checklist() -> None:
    card = render_card(operation(OperationStatus.CANCELLED, cancelled_by="U0REQ"))
    assert not any(b.get("block_id") == BlockId.CHECKLIST for b in card.blocks)


def test_card_without_a_plan_falls_back_to_the_request() -> None:
    card = render_card(operation(OperationStatus.PENDING_APPROVAL, plan=None))
    assert "replace if it exists" in texts(card.blocks)


@pytest.mark.parametrize(
    ("status", "duration", "extra", "expected"),
    [
        (
            StageStatus.STARTED,
            None,
            {},
            ":hourglass_flowing_sand: *Restore cluster and instances* started: creating",
        ),
        (
            StageStatus.SUCCEEDED,
            754.0,
            {},
            ":white_check_mark: *Restore cluster and instances* done in 12m 34s: creating",
        ),
        (
            StageStatus.FAILED,
            None,
            {"operation_status": OperationStatus.FAILED},
            ":x: *Restore cluster and instances* failed: creating\n:x: *Restore failed.*",
        ),
        (
            StageStatus.SKIPPED,
            None,
            {},
            ":fast_forward: *Restore cluster and instances* skipped: creating",
        ),
    ],
)
def test_progress_texts(
    status: StageStatus, duration: float | None, extra: dict, expected: str
) -> None:
    event = ProgressEvent.for_stage(
        OP_ID, Stage.RESTORE_CLUSTER, status, "creating", duration_seconds=duration, **extra
    )
    assert progress_text(event) == expected


def test_progress_text_lists_resources() -> None:
    event = ProgressEvent.for_stage(
        OP_ID, Stage.RESTORE_CLUSTER, StageStatus.SUCCEEDED, "", resources={"cluster_id": "c1"}
    )
    assert "• cluster_id: `c1`" in progress_text(event)


SWAP_PLAN = PLAN.model_copy(
    update={
        "delete_target": False,
        "final_snapshot_id": None,
        "swap_target": True,
        "staging_cluster_id": "orders-staging-new-abcdef",
        "kept_cluster_id": "orders-staging-old-abcdef",
    }
)


def test_a_succeeded_replace_says_until_when_and_how_it_can_be_rolled_back() -> None:
    until = NOW + timedelta(days=7)
    card = render_card(
        operation(
            OperationStatus.SUCCEEDED,
            plan=SWAP_PLAN,
            decided_by="U0APP",
            resources={
                "kept_cluster": "orders-staging-old-abcdef",
                "keep_until": until.isoformat(),
            },
        )
    )
    shown = texts(card.blocks)
    assert f"/restore rollback {OP_ID}" in shown
    assert f"<!date^{int(until.timestamp())}^" in shown and "orders-staging-old-abcdef" in shown
    # An in-place replace kept nothing: no rollback is offered.
    in_place = render_card(operation(OperationStatus.SUCCEEDED, decided_by="U0APP"))
    assert "/restore rollback" not in texts(in_place.blocks)


def test_a_rollback_card_shows_only_its_own_stages() -> None:
    plan = SWAP_PLAN.model_copy(
        update={
            "rollback_of": "ar-20260228120000-123456",
            "staging_cluster_id": "orders-staging-old-123456",
            "incoming_resource_id": "cluster-ABC",
        }
    )
    running = operation(OperationStatus.RUNNING, plan=plan, decided_by="U0APP")
    lines = checklist(running).splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "Validate request",
        "Approval",
        "Start the kept cluster",
        "Swap in the restored cluster",
        "Clean up",
        "Finish",
    ]
    pending = render_card(operation(OperationStatus.PENDING_APPROVAL, plan=plan))
    shown = texts(pending.blocks)
    assert "Roll back `ar-20260228120000-123456`" in shown
    assert "`orders-staging-old-123456`, kept by `ar-20260228120000-123456`" in shown
