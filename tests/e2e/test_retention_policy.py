"""Retention as the policy gives it to a target, through the local stack: an override for the
target decides how long a `--replace` keeps the old cluster (its keep-until tag, the card, the
thread) and how long the tool's snapshots are kept, and `/restore list --kept` shows those dates.

The policy's defaults (2 days, 48 h notice, 20 days) differ from the pipeline's built-in ones
(3 days, 24 h, 30 days) and from the override, so a restore planned on the wrong terms fails
here whichever terms it fell back to.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from local_stack.scenario import APPROVE, Driver, wait_for
from local_stack.stack import StackOptions
from pipeline.retention_terms import RetentionTerms, parse_keep_until
from pipeline.store import OperationStore
from tests.e2e.flows import card_text, click, request_restore, wait_for_thread

pytestmark = pytest.mark.e2e

TARGET = "staging-orders"  # the local stack's seeded existing target
OVERRIDE = RetentionTerms(kept_cluster_days=6, notice_hours=12, final_snapshot_days=9)
RETENTION = {
    "kept_cluster_days": 2,
    "notice_hours": 48,
    "final_snapshot_days": 20,
    "overrides": [
        {"targets": ["qa-*"], "kept_cluster_days": 1, "notice_hours": 6},  # matches nothing here
        {"targets": ["staging-orders", "staging-billing"], **OVERRIDE.model_dump()},
    ],
}


@pytest.fixture
def stack_options() -> StackOptions:
    return StackOptions(time_scale=0, policy_extra={"retention": RETENTION})


def minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def card_with(driver: Driver, operation_id: str, fragment: str) -> str:
    """The card once it shows `fragment` (posted and updated asynchronously)."""

    def probe() -> str | None:
        try:
            text = card_text(driver, operation_id)
        except AssertionError:  # not posted yet
            return None
        return text if fragment in text else None

    return wait_for(f"the card of {operation_id} with {fragment!r}", probe, 30)


def keep_until_of(driver: Driver, cluster_id: str) -> datetime:
    cluster = driver.rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
    tags = {t["Key"]: t["Value"] for t in cluster.get("TagList", [])}
    until = parse_keep_until(tags["aurora-restore:keep-until"])
    assert until is not None, tags
    return until


def replace(driver: Driver, flags: str) -> tuple[str, str]:
    """The operation id, and its card as the approver read it."""
    operation_id = request_restore(
        driver, f"{driver.info['seed']['snapshot']} {TARGET} {flags} --instances 2"
    )
    pending = card_with(driver, operation_id, "[Approve]")
    click(driver, operation_id, APPROVE, driver.info["users"]["approver"])
    assert driver.wait_for_execution_end(operation_id)["status"] == "SUCCEEDED"
    wait_for_thread(driver, operation_id, "Restore succeeded")
    return operation_id, pending


def list_kept(driver: Driver) -> str:
    listed = driver.request(driver.info["users"]["requester"], "list --kept")[1]
    answer = wait_for("the kept list", lambda: driver.responses(listed) or None, 20)
    return str(answer[0]["text"])


def test_a_replace_keeps_the_old_cluster_as_long_as_the_targets_override_says(
    driver: Driver, operations: OperationStore
) -> None:
    assert driver.info["seed"]["existing_target"] == TARGET
    before = minute(datetime.now(UTC))

    operation_id, pending = replace(driver, "--replace")

    after = datetime.now(UTC)
    kept = f"{TARGET}-old-{operation_id.rsplit('-', 1)[-1]}"
    keep_until = keep_until_of(driver, kept)
    assert before + timedelta(days=6) <= keep_until <= after + timedelta(days=6)
    shown = f"{keep_until:%Y-%m-%d %H:%M} UTC"
    # The thread's swap reply and the card's rollback line give the tag's date.
    swapped = wait_for_thread(driver, operation_id, "the old cluster is kept, stopped")
    assert any(f"as `{kept}` until {shown}" in text for text in swapped), swapped
    card = card_with(driver, operation_id, f"{kept} is kept until")
    assert f"<!date^{int(keep_until.timestamp())}^" in card and f"|{shown}>" in card
    # What the approver read: the override's days, not the policy's defaults.
    assert (
        f"kept, stopped, as {kept} for rollback for 6 days after the swap, then deleted with a "
        "final snapshot kept 9 days" in pending
    ), pending
    stored = operations.get(operation_id)
    assert stored.request.retention == OVERRIDE
    assert stored.plan is not None and stored.plan.retention == OVERRIDE


def test_restore_list_kept_shows_the_expiry_the_policys_terms_gave(driver: Driver) -> None:
    before = minute(datetime.now(UTC))
    swapped, _ = replace(driver, "--replace")
    after = datetime.now(UTC)
    kept = f"{TARGET}-old-{swapped.rsplit('-', 1)[-1]}"
    in_place, _ = replace(driver, "--replace --in-place")
    safety_id = f"{TARGET}-before-{in_place.rsplit('-', 1)[-1]}"
    final_id = f"{TARGET}-final-{in_place}"

    answer = list_kept(driver)

    cluster_until = keep_until_of(driver, kept)
    assert before + timedelta(days=6) <= cluster_until <= after + timedelta(days=6)
    assert (
        f"`{kept}` kept by `{swapped}`: stopped, until {cluster_until:%Y-%m-%d %H:%M} UTC" in answer
    ), answer
    for snapshot_id in (safety_id, final_id):
        described = driver.rds.describe_db_cluster_snapshots(
            DBClusterSnapshotIdentifier=snapshot_id
        )["DBClusterSnapshots"][0]
        made = described["SnapshotCreateTime"]
        # The override's 9 days from when it was made (the safety snapshot's tag is written by
        # the stage that asks for it, a moment before RDS records its creation).
        line = next(line for line in answer.splitlines() if f"`{snapshot_id}`" in line)
        listed = datetime.strptime(line.rsplit("deleted after ", 1)[1], "%Y-%m-%d %H:%M UTC")
        listed = listed.replace(tzinfo=UTC)
        expected = minute(made + timedelta(days=9))
        assert expected - timedelta(minutes=1) <= listed <= expected, (snapshot_id, line)
        assert f"of `{in_place}`" in line
