"""Progress reaches Slack exactly once and in order per thread, through a Slack outage that lasts
the whole run and under Slack's per-channel rate limit (FIFO topic → FIFO queue → notifier)."""

from __future__ import annotations

import re

import pytest

from local_stack.scenario import APPROVE, Driver, wait_for
from local_stack.stack import LocalStack
from pipeline.models import STAGE_TITLES, OperationStatus, Stage, StageStatus
from pipeline.store import OperationStore
from tests.e2e.flows import request_restore, thread_texts, wait_for_thread

pytestmark = pytest.mark.e2e

# How progress_text titles a reply: `*<stage title>* started|done|failed|skipped`.
REPLY = re.compile(r"\*(?P<title>[^*]+)\* (?P<word>started|done|failed|skipped)\b")
STAGE_BY_TITLE = {title: stage for stage, title in STAGE_TITLES.items()}
STATUS_BY_WORD = {
    "started": StageStatus.STARTED,
    "done": StageStatus.SUCCEEDED,
    "failed": StageStatus.FAILED,
    "skipped": StageStatus.SKIPPED,
}
STAGE_ORDER = list(Stage)
# Validation ends before the card (and so the thread) exists; the card's checklist shows it.
# The approval stage starts once the card is up (asking the approvers) and is a reply like any.
BEFORE_THE_CARD = {Stage.VALIDATE}

Reply = tuple[Stage, StageStatus]


def thread_progress(texts: list[str]) -> list[Reply]:
    """The (stage, status) of every progress reply in a thread, in the order Slack shows them."""
    replies = []
    for text in texts:
        match = REPLY.search(text)
        if match:
            replies.append((STAGE_BY_TITLE[match["title"]], STATUS_BY_WORD[match["word"]]))
    return replies


def published(operations: OperationStore, operation_id: str) -> list[Reply]:
    """What the pipeline announced after the card, from the audit trail (`<stage>.<status>`)."""
    stages, statuses = {str(s) for s in Stage}, {str(s) for s in StageStatus}
    found = []
    for event in operations.audit_events(operation_id):
        stage, _, status = event.action.partition(".")
        if stage in stages and status in statuses and Stage(stage) not in BEFORE_THE_CARD:
            found.append((Stage(stage), StageStatus(status)))
    return found


def assert_once_in_order_and_complete(
    driver: Driver, operations: OperationStore, operation_id: str
) -> None:
    replies = thread_progress(thread_texts(driver, operation_id))
    assert len(replies) == len(set(replies)), f"a reply was posted twice: {replies}"
    in_stage_order = sorted(
        replies, key=lambda r: (STAGE_ORDER.index(r[0]), r[1] != StageStatus.STARTED)
    )
    assert replies == in_stage_order
    after_card = [reply for reply in replies if reply[0] not in BEFORE_THE_CARD]
    assert after_card == published(operations, operation_id)
    assert after_card[-1] == (Stage.FINISH, StageStatus.SUCCEEDED)


def test_slack_down_for_the_whole_run_delays_progress_and_loses_none(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    seed = driver.info["seed"]
    operation_id = request_restore(driver, f"{seed['snapshot']} outage-rehearsal")
    card = driver.card(operation_id)
    wait_for_thread(driver, operation_id, "Approval needed")
    channel, thread = driver.info["channel_id"], card["ts"]
    before = len(stack.slack.replies(channel, thread))

    stack.slack.set_unavailable(True)
    reply = driver.click(driver.info["users"]["approver"], card, APPROVE)
    assert reply.status == 200, reply.body
    execution = driver.wait_for_execution_end(operation_id)

    # The restore never waits for Slack.
    assert execution["status"] == "SUCCEEDED"
    assert operations.get(operation_id).status == OperationStatus.SUCCEEDED
    poller = stack.progress_poller
    assert poller is not None
    # The notifier reported its failure and the queue keeps the events for a later attempt.
    wait_for("a failed delivery while Slack is down", lambda: poller.failed_records > 0, 30)
    assert len(stack.slack.replies(channel, thread)) == before  # nothing got through

    stack.slack.set_unavailable(False)
    assert stack.wait_for_progress_delivered(timeout=60)
    assert_once_in_order_and_complete(driver, operations, operation_id)


def test_under_slacks_rate_limit_concurrent_restores_each_get_every_reply_once_in_order(
    driver: Driver, stack: LocalStack, operations: OperationStore
) -> None:
    seed = driver.info["seed"]
    operation_ids = [
        request_restore(driver, f"{seed['snapshot']} rate-limited-{n}") for n in range(2)
    ]
    cards = {operation_id: driver.card(operation_id) for operation_id in operation_ids}
    for operation_id in operation_ids:
        wait_for_thread(driver, operation_id, "Approval needed")

    stack.slack.set_rate_limit(1)  # one chat.postMessage per second in the channel, then 429
    for operation_id in operation_ids:
        reply = driver.click(driver.info["users"]["approver"], cards[operation_id], APPROVE)
        assert reply.status == 200, reply.body
    for operation_id in operation_ids:
        assert driver.wait_for_execution_end(operation_id)["status"] == "SUCCEEDED"
    assert stack.wait_for_progress_delivered(timeout=120)

    for operation_id in operation_ids:
        assert_once_in_order_and_complete(driver, operations, operation_id)
    replies = [c for c in stack.slack.calls_to("chat.postMessage") if c.get("thread_ts")]
    posted = sum(len(thread_texts(driver, operation_id)) for operation_id in operation_ids)
    assert len(replies) > posted  # some posts were answered 429 and retried, none repeated
