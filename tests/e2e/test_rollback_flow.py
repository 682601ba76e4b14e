"""A replace, then `/restore rollback <operation-id>` through Slack on the local stack: approved
like a restore, it starts the kept cluster and swaps it back in."""

from __future__ import annotations

import pytest

from local_stack.scenario import APPROVE, Driver, wait_for
from pipeline.models import OperationStatus
from pipeline.store import OperationStore
from tests.e2e.flows import card_text, click, request_restore, wait_for_thread

pytestmark = pytest.mark.e2e


def _cluster(driver: Driver, cluster_id: str) -> dict:
    return dict(driver.rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0])


def _members(driver: Driver, cluster_id: str) -> list[str]:
    return sorted(
        m["DBInstanceIdentifier"] for m in _cluster(driver, cluster_id)["DBClusterMembers"]
    )


def _card_with(driver: Driver, operation_id: str, fragment: str) -> str:
    """The card once it shows `fragment` (the notifier updates it asynchronously)."""

    def probe() -> str | None:
        try:
            text = card_text(driver, operation_id)
        except AssertionError:  # not posted yet
            return None
        return text if fragment in text else None

    return wait_for(f"the card of {operation_id} with {fragment!r}", probe, 30)


def _approve_and_finish(driver: Driver, operation_id: str) -> dict:
    click(driver, operation_id, APPROVE, driver.info["users"]["approver"])
    return driver.wait_for_execution_end(operation_id)


def test_a_replace_is_rolled_back_through_slack(driver: Driver, operations: OperationStore) -> None:
    seed = driver.info["seed"]
    target = seed["existing_target"]
    original = _cluster(driver, target)
    original_members = _members(driver, target)
    replace = request_restore(driver, f"{seed['snapshot']} {target} --replace --instances 2")
    assert _approve_and_finish(driver, replace)["status"] == "SUCCEEDED"
    restored = _cluster(driver, target)
    # The card of the replace says until when, and how, it can be rolled back.
    assert "is kept until" in _card_with(driver, replace, f"/restore rollback {replace}")

    rollback = request_restore(driver, f"rollback {replace}")

    assert rollback != replace
    assert "rolled back" in _card_with(driver, rollback, f"kept by {replace}")
    assert _approve_and_finish(driver, rollback)["status"] == "SUCCEEDED"
    # The target is the original cluster again, with its instances' own names ...
    back = _cluster(driver, target)
    assert back["DbClusterResourceId"] == original["DbClusterResourceId"]
    assert back["Endpoint"] == original["Endpoint"]
    assert _members(driver, target) == original_members
    names = {c["DBClusterIdentifier"] for c in driver.rds.describe_db_clusters()["DBClusters"]}
    assert f"{target}-old-{replace.rsplit('-', 1)[-1]}" not in names
    # ... and the cluster the replace restored is kept, stopped, for a rollback of the rollback.
    kept_id = f"{target}-old-{rollback.rsplit('-', 1)[-1]}"
    kept = _cluster(driver, kept_id)
    assert kept["DbClusterResourceId"] == restored["DbClusterResourceId"]
    assert kept["Status"] == "stopped"
    assert {t["Key"]: t["Value"] for t in kept["TagList"]}["aurora-restore:kept-by"] == rollback
    texts = wait_for_thread(driver, rollback, "Restore succeeded")
    assert any("Start the kept cluster" in text for text in texts)
    assert not any("Restore cluster and instances" in text for text in texts)
    assert any(f"is again the cluster `{replace}` kept" in text for text in texts)
    stored = operations.get(rollback)
    assert stored.status == OperationStatus.SUCCEEDED
    assert stored.request.rollback_of == replace
    assert operations.lock_holder(target) is None
    _card_with(driver, rollback, f"/restore rollback {rollback}")  # itself a rollback away


def test_a_restore_that_replaced_nothing_cannot_be_rolled_back(driver: Driver) -> None:
    seed = driver.info["seed"]
    created = request_restore(driver, f"{seed['snapshot']} staging-rollback-new")
    assert _approve_and_finish(driver, created)["status"] == "SUCCEEDED"

    reply, response_url = driver.request(driver.info["users"]["requester"], f"rollback {created}")

    assert reply.status == 200, reply.body

    def refusal() -> str | None:
        texts = [str(answer.get("text", "")) for answer in driver.responses(response_url)]
        return next((text for text in texts if "roll back" in text), None)

    said = wait_for("the bot's answer to the rollback", refusal, 20)
    assert f"`{created}` did not replace its target through a swap" in said
    assert "reference" not in said  # a reason the requester can act on, not a correlation id
