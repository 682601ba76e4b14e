"""The operation store against moto's DynamoDB: conditional transitions, audit order, locks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.errors import (
    AlreadyDecidedError,
    InvalidTransitionError,
    OperationExistsError,
    OperationNotFoundError,
    TargetLockedError,
)
from pipeline.models import OperationStatus, RestoreRequest, Stage, StageRecord, StageStatus
from pipeline.store import OperationStore

REQUEST = RestoreRequest(snapshot="prod-snap-1", target_cluster="staging-db", requester="U1")


def test_create_then_get_round_trips(store: OperationStore) -> None:
    created = store.create("ar-20260101000000-aaaaaa", REQUEST, required_approvals=2)
    loaded = store.get("ar-20260101000000-aaaaaa")
    assert loaded == created
    assert loaded.status == OperationStatus.PENDING_APPROVAL
    assert loaded.required_approvals == 2


def test_create_twice_is_refused(store: OperationStore) -> None:
    store.create("ar-20260101000000-aaaaaa", REQUEST)
    with pytest.raises(OperationExistsError):
        store.create("ar-20260101000000-aaaaaa", REQUEST)


def test_unknown_operation(store: OperationStore) -> None:
    with pytest.raises(OperationNotFoundError, match="ar-x"):
        store.get("ar-x")


def test_transition_first_writer_wins(store: OperationStore) -> None:
    op_id = "ar-20260101000000-aaaaaa"
    store.create(op_id, REQUEST)
    approved = store.transition(
        op_id,
        OperationStatus.APPROVED,
        expected={OperationStatus.PENDING_APPROVAL},
        decided_by="U2",
    )
    assert approved.decided_by == "U2"
    with pytest.raises(InvalidTransitionError) as raised:
        store.transition(
            op_id,
            OperationStatus.DENIED,
            expected={OperationStatus.PENDING_APPROVAL},
            decided_by="U3",
        )
    assert raised.value.current_status == OperationStatus.APPROVED
    assert store.get(op_id).decided_by == "U2"


def test_stage_records_and_fields(store: OperationStore) -> None:
    op_id = "ar-20260101000000-aaaaaa"
    store.create(op_id, REQUEST)
    store.record_stage(op_id, Stage.VALIDATE, StageRecord(status=StageStatus.STARTED))
    updated = store.update(op_id, slack_channel="C1", slack_message_ts="1.2")
    assert updated.stages[Stage.VALIDATE].status == StageStatus.STARTED
    assert updated.current_stage == Stage.VALIDATE
    assert (updated.slack_channel, updated.slack_message_ts) == ("C1", "1.2")


def test_approvals_are_counted_once_per_person(store: OperationStore) -> None:
    op_id = "ar-20260101000000-aaaaaa"
    store.create(op_id, REQUEST, required_approvals=2)
    assert store.add_approval(op_id, "U2").approvers == ["U2"]
    with pytest.raises(AlreadyDecidedError, match="already approved"):
        store.add_approval(op_id, "U2")
    assert store.add_approval(op_id, "U3").approvers == ["U2", "U3"]
    store.transition(op_id, OperationStatus.DENIED, expected={OperationStatus.PENDING_APPROVAL})
    with pytest.raises(AlreadyDecidedError, match="already decided"):
        store.add_approval(op_id, "U4")


def test_task_token_kept_out_of_the_model(store: OperationStore) -> None:
    op_id = "ar-20260101000000-aaaaaa"
    store.create(op_id, REQUEST)
    store.save_task_token(op_id, "secret-token")
    assert store.task_token(op_id) == "secret-token"
    assert "secret-token" not in store.get(op_id).model_dump_json()


def test_recent_queries_newest_first(store: OperationStore) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for minute, requester in enumerate(["U1", "U2", "U1"]):
        request = REQUEST.model_copy(update={"requester": requester})
        store.create(
            f"ar-2026010100000{minute}-aaaaaa", request, now=base + timedelta(minutes=minute)
        )
    assert [o.operation_id for o in store.recent()] == [
        "ar-20260101000002-aaaaaa",
        "ar-20260101000001-aaaaaa",
        "ar-20260101000000-aaaaaa",
    ]
    assert [o.operation_id for o in store.recent_for_requester("U1", limit=1)] == [
        "ar-20260101000002-aaaaaa"
    ]


def test_audit_events_in_order(store: OperationStore) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for second, action in enumerate(["requested", "approved", "started"]):
        store.audit("ar-1", "U1", action, {"n": second}, now=base + timedelta(seconds=second))
    assert [e.action for e in store.audit_events("ar-1")] == ["requested", "approved", "started"]


def test_lock_is_exclusive_until_released_or_expired(store: OperationStore) -> None:
    store.acquire_lock("staging-db", "op-a", ttl_seconds=600)
    with pytest.raises(TargetLockedError) as raised:
        store.acquire_lock("staging-db", "op-b", ttl_seconds=600)
    assert raised.value.holder == "op-a"
    assert store.release_lock("staging-db", "op-b") is False
    assert store.release_lock("staging-db", "op-a") is True
    store.acquire_lock("staging-db", "op-b", ttl_seconds=600)
    assert store.lock_holder("staging-db") == "op-b"


def test_expired_lock_can_be_taken_over(store: OperationStore) -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    store.acquire_lock("staging-db", "op-a", ttl_seconds=60, now=past)
    assert store.lock_holder("staging-db") is None
    store.acquire_lock("staging-db", "op-b", ttl_seconds=60)
    assert store.lock_holder("staging-db") == "op-b"
