"""One approval expiry, the policy's: checked against the execution timeout and the target lock
when the policy is loaded, and held by the lock for the whole wait (real store, moto)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.container import load_policy
from bot.deps import BotDependencies
from bot.policy import Policy
from bot.restore_flow import operation_id_for, start_restore
from pipeline.errors import ConfigurationError, TargetLockedError
from pipeline.models import RestoreRequest, utc_now
from pipeline.settings import PipelineSettings
from pipeline.statemachine import (
    definition_text,
    restore_budget_seconds,
    retry_budget_seconds,
    timeout_seconds,
)
from tests.bot.conftest import POLICY, REQUESTER, SNAPSHOT

LONG_WAIT = 26 * 3600  # longer than the 24-hour lock TTL on its own


def policy_with_expiry(seconds: int) -> Policy:
    return POLICY.model_copy(update={"approval_expiry_seconds": seconds})


def test_a_lock_outlives_an_approval_wait_longer_than_the_lock_ttl(
    deps: BotDependencies,
) -> None:
    settings = deps.pipeline.settings
    assert settings.lock_ttl_seconds < LONG_WAIT
    waiting = BotDependencies(
        settings=deps.settings,
        policy=policy_with_expiry(LONG_WAIT),
        signing_secret=deps.signing_secret,
        bot_token=deps.bot_token,
        pipeline=deps.pipeline,
    )
    requested = utc_now()
    operation_id = operation_id_for("lock-test", requested)
    request = RestoreRequest(snapshot=SNAPSHOT, target_cluster="new-db", requester=REQUESTER)

    answer = start_restore(waiting, request, operation_id=operation_id)
    assert "Restore requested" in answer

    # Twenty-five hours on the request still waits for approval: the target stays taken.
    during_the_wait = requested + timedelta(hours=25)
    with pytest.raises(TargetLockedError):
        deps.store.acquire_lock("new-db", "ar-second", ttl_seconds=60, now=during_the_wait)


def policy_text(seconds: int) -> str:
    return json.dumps(policy_with_expiry(seconds).model_dump(mode="json"))


def test_a_policy_whose_wait_the_execution_cannot_hold_is_refused_at_load(
    deps: BotDependencies,
) -> None:
    settings: PipelineSettings = deps.pipeline.settings
    longest = timeout_seconds() - restore_budget_seconds(settings.wait_budgets())
    week = 7 * 24 * 3600  # the policy model's own maximum
    with pytest.raises(ConfigurationError, match="state machine's own timeout") as caught:
        load_policy(lambda: policy_text(week), lambda: settings)
    assert f"below {longest}" in str(caught.value)

    assert load_policy(lambda: policy_text(longest - 1), lambda: settings).approval_expiry_seconds


def test_a_lock_ttl_shorter_than_the_longest_restore_is_refused_at_load(
    deps: BotDependencies,
) -> None:
    short = deps.pipeline.settings.model_copy(update={"lock_ttl_seconds": 600})
    with pytest.raises(ConfigurationError, match="lock_ttl_seconds 600"):
        load_policy(lambda: policy_text(3600), lambda: short)


def test_the_longest_restore_counts_every_retry_after_approval() -> None:
    throttled = {
        "Retry": [
            {
                "ErrorEquals": ["X"],
                "IntervalSeconds": 5,
                "MaxAttempts": 8,
                "BackoffRate": 2.0,
                "MaxDelaySeconds": 300,
            }
        ]
    }
    assert retry_budget_seconds(throttled) == 5 + 10 + 20 + 40 + 80 + 160 + 300 + 300
    assert retry_budget_seconds({"Retry": [{"ErrorEquals": ["X"]}]}) == 1 + 2 + 4  # ASL defaults
    states = json.loads(definition_text())["States"]
    budgets = {loop: 120 for loop in ("copy", "safety", "delete", "cluster", "instances")}
    budgets |= {"swap": 120, "undo": 120, "start": 120}
    # Every wait but a rollback's start, which is on another branch than the copy and restore.
    waits = [s["Seconds"] for name, s in states.items() if s["Type"] == "Wait"]
    waits_only = (sum(waits) - states["WaitStart"]["Seconds"]) * 120
    after_approval = ["BeginRestore", "CheckCopy", "SetupDatabase", "RecordFailure"]
    retries = restore_budget_seconds(budgets) - waits_only
    assert retries >= sum(retry_budget_seconds(states[name]) for name in after_approval)
    # The approval's own states are not part of the restore.
    everything = sum(retry_budget_seconds(s) for s in states.values())
    assert retries < everything
