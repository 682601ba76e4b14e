"""The policy's retention, table-driven: the terms a target gets (first match wins, the rest from
the defaults) and the validation of the file, each error naming the field and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.policy import Policy, retention_for
from pipeline.retention_terms import RetentionTerms

BASE: dict[str, Any] = {"requesters": {"users": ["U0REQ"]}, "approvers": {"users": ["U0APP"]}}
REPO = Path(__file__).resolve().parents[2]


def policy(retention: dict[str, Any]) -> Policy:
    return Policy.model_validate({**BASE, "retention": retention})


OVERRIDDEN = policy(
    {
        "kept_cluster_days": 4,
        "final_snapshot_days": 60,
        "overrides": [
            {"targets": ["staging-eu-*"], "kept_cluster_days": 1, "notice_hours": 6},
            {"targets": ["staging-*", "*-scratch"], "kept_cluster_days": 2},
            {"targets": ["*-eu"], "final_snapshot_days": 7},  # overlaps, yet never hidden
        ],
    }
)


@pytest.mark.parametrize(
    ("target", "terms"),
    [
        (
            "staging-eu-1",
            RetentionTerms(kept_cluster_days=1, notice_hours=6, final_snapshot_days=60),
        ),
        ("staging-us-1", RetentionTerms(kept_cluster_days=2, final_snapshot_days=60)),
        ("STAGING-US-1", RetentionTerms(kept_cluster_days=2, final_snapshot_days=60)),
        ("orders-scratch", RetentionTerms(kept_cluster_days=2, final_snapshot_days=60)),
        ("staging-eu", RetentionTerms(kept_cluster_days=2, final_snapshot_days=60)),  # 2nd first
        ("orders-eu", RetentionTerms(kept_cluster_days=4, final_snapshot_days=7)),
        ("orders-db", RetentionTerms(kept_cluster_days=4, final_snapshot_days=60)),  # defaults
    ],
)
def test_the_first_matching_override_gives_the_terms(target: str, terms: RetentionTerms) -> None:
    assert retention_for(OVERRIDDEN, target) == terms


def test_without_a_retention_section_the_defaults_apply() -> None:
    plain = Policy.model_validate(BASE)
    assert retention_for(plain, "any-db") == RetentionTerms(
        kept_cluster_days=3, notice_hours=24, final_snapshot_days=30
    )


def test_the_example_policy_is_valid() -> None:
    example = Policy.from_yaml((REPO / "config" / "policy.example.yaml").read_text())
    assert example.retention.overrides  # it shows how an override is written


@pytest.mark.parametrize(
    ("retention", "field", "message"),
    [
        ({"kept_cluster_days": 0}, "retention.kept_cluster_days", "keeps the old cluster"),
        ({"kept_cluster_days": 8}, "retention.kept_cluster_days", "starts a stopped cluster"),
        ({"notice_hours": 0}, "retention.notice_hours", "1 to 168 hours"),
        ({"final_snapshot_days": 0}, "retention.final_snapshot_days", "kept 1 to 3650"),
        ({"final_snapshot_days": 99999}, "retention.final_snapshot_days", "kept 1 to 3650"),
        ({"notice_hours": 96}, "retention", "notice_hours 96 is more than the 72 hours"),
        ({"keep_days": 3}, "retention.keep_days", "Extra inputs"),
        (
            {"overrides": [{"targets": ["scratch-*"], "kept_cluster_days": 0}]},
            "retention.overrides.0.kept_cluster_days",
            "at least 1 day",
        ),
        (
            {"overrides": [{"targets": ["scratch-*"], "kept_cluster_days": 1, "notice_hours": 30}]},
            "retention.overrides[0] (scratch-*)",
            "notice_hours 30 is more than the 24 hours",
        ),
        ({"overrides": [{"targets": [], "kept_cluster_days": 1}]}, "targets", "at least 1"),
        ({"overrides": [{"targets": ["scratch-*"]}]}, "retention.overrides.0", "sets nothing"),
        (
            {"overrides": [{"targets": ["scratch_db"], "kept_cluster_days": 1}]},
            "retention.overrides.0.targets",
            "letters, digits, hyphens",
        ),
        (
            {
                "overrides": [
                    {"targets": ["staging-*"], "kept_cluster_days": 1},
                    {"targets": ["other-*", "staging-eu-*"], "kept_cluster_days": 2},
                ]
            },
            "retention.overrides[1] (other-*, staging-eu-*)",
            "`staging-eu-*` never applies: retention.overrides[0]'s `staging-*`",
        ),
        (
            {
                "overrides": [
                    {"targets": ["db-?"], "kept_cluster_days": 1},
                    {"targets": ["db-?"], "kept_cluster_days": 2},
                ]
            },
            "retention.overrides[1]",
            "never applies",
        ),
        (
            {
                "overrides": [
                    {"targets": ["*"], "final_snapshot_days": 10},
                    {"targets": ["prod-db"], "kept_cluster_days": 2},
                ]
            },
            "retention.overrides[1]",
            "`*` matches every name it does",
        ),
    ],
)
def test_a_bad_retention_is_refused_naming_the_field(
    retention: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        policy(retention)
    text = str(caught.value)
    assert field in text and message in text, text


@pytest.mark.parametrize(
    "overrides",
    [
        [["db-?"], ["db-*"]],  # db-ab is only the second's
        [["*-eu"], ["prod-*"]],  # prod-us is only the second's
        [["prod-eu-*"], ["prod-*"]],  # narrower first: both apply
    ],
)
def test_overlapping_overrides_that_each_apply_are_accepted(overrides: list[list[str]]) -> None:
    policy({"overrides": [{"targets": targets, "kept_cluster_days": 2} for targets in overrides]})
