"""An approval nobody gives expires: the card and thread say so and the lock is released."""

from __future__ import annotations

import pytest

from local_stack.scenario import Driver
from local_stack.stack import LocalStack, StackOptions
from pipeline.models import OperationStatus
from pipeline.store import OperationStore
from tests.e2e.flows import card_text, request_restore

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack_options() -> StackOptions:
    return StackOptions(time_scale=0, approval_timeout_seconds=5)


def test_unanswered_approval_expires(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    seed = driver.info["seed"]
    operation_id = request_restore(
        driver, f"{seed['snapshot']} {seed['existing_target']} --replace"
    )
    driver.card(operation_id)

    execution = driver.wait_for_execution_end(operation_id, timeout=30)

    assert execution["status"] == "FAILED"
    assert execution.get("error") == "ApprovalExpired"
    assert operations.get(operation_id).status == OperationStatus.EXPIRED
    assert operations.lock_holder(seed["existing_target"]) is None
    assert stack.wait_for_progress_delivered()  # the notifier updates the card from the queue
    assert "expired" in card_text(driver, operation_id)
