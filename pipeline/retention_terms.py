"""How long a replace keeps what it sets aside, decided once and carried with the restore.

The bot takes the terms from the policy for the target (bot.policy.retention_for) and puts them
in the request; the plan stores them; the swap writes the kept cluster's keep-until tag from
them and the tool's snapshots get a keep-until tag of their own (pipeline.retention). The
pipeline never reads the policy: a request or plan without terms (made before retention moved
to the policy) falls back to the deployment's defaults (pipeline.settings.default_retention).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

KEEP_UNTIL_TAG = "aurora-restore:keep-until"
KEEP_UNTIL_FORMAT = "%Y-%m-%dT%H:%MZ"  # the keep-until tag's value, UTC (pipeline.retention)
# "If you don't manually start your DB cluster after seven days, your DB cluster is
# automatically started" (Aurora user guide, Stopping and starting an Aurora DB cluster): a kept
# cluster kept longer would run, and be billed, again.
MAX_KEPT_DAYS = 7
MAX_NOTICE_HOURS = 7 * 24
MAX_SNAPSHOT_DAYS = 3650  # ten years: a longer value is a typo (and beyond datetime's range)


def _kept_days(value: int) -> int:
    if value < 1:
        raise ValueError(
            f"{value} days: every replace keeps the old cluster, stopped, for at least 1 day; "
            "it is what a rollback of the swap goes back to"
        )
    if value > MAX_KEPT_DAYS:
        raise ValueError(
            f"{value} days: at most {MAX_KEPT_DAYS}, since Aurora starts a stopped cluster "
            "again after seven days (and bills it)"
        )
    return value


def _notice_hours(value: int) -> int:
    if not 1 <= value <= MAX_NOTICE_HOURS:
        raise ValueError(f"{value} hours: the notice is 1 to {MAX_NOTICE_HOURS} hours")
    return value


def _snapshot_days(value: int) -> int:
    if not 1 <= value <= MAX_SNAPSHOT_DAYS:
        raise ValueError(f"{value} days: the tool's snapshots are kept 1 to {MAX_SNAPSHOT_DAYS}")
    return value


KeptDays = Annotated[int, AfterValidator(_kept_days)]
NoticeHours = Annotated[int, AfterValidator(_notice_hours)]
SnapshotDays = Annotated[int, AfterValidator(_snapshot_days)]


def notice_problem(kept_cluster_days: int, notice_hours: int, final_snapshot_days: int) -> str:
    """Why the notice would be longer than what it announces is kept ('' when it is not)."""
    shortest = min(kept_cluster_days, final_snapshot_days) * 24
    if notice_hours <= shortest:
        return ""
    return (
        f"notice_hours {notice_hours} is more than the {shortest} hours kept "
        f"(kept_cluster_days {kept_cluster_days}, final_snapshot_days {final_snapshot_days}): "
        "the deletion is announced at most as long before it as the cluster or snapshot is kept"
    )


class RetentionTerms(BaseModel):
    """A replace keeps the old cluster, stopped, `kept_cluster_days` after the swap; says so in
    the thread `notice_hours` before each deletion; keeps the tool's snapshots (final and safety
    snapshots) `final_snapshot_days` after they are made."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kept_cluster_days: KeptDays = 3
    notice_hours: NoticeHours = 24
    final_snapshot_days: SnapshotDays = 30

    @model_validator(mode="after")
    def _notice_first(self) -> RetentionTerms:
        problem = notice_problem(
            self.kept_cluster_days, self.notice_hours, self.final_snapshot_days
        )
        if problem:
            raise ValueError(problem)
        return self

    def cluster_keep_until(self, swapped_at: datetime) -> datetime:
        return _minute(swapped_at + timedelta(days=self.kept_cluster_days))

    def snapshot_keep_until(self, made_at: datetime) -> datetime:
        return _minute(made_at + timedelta(days=self.final_snapshot_days))


def _minute(moment: datetime) -> datetime:
    """To the minute, as the tag keeps it, so what is shown is what the tag says."""
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def format_keep_until(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(KEEP_UNTIL_FORMAT)


def parse_keep_until(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, KEEP_UNTIL_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def keep_until_tag(moment: datetime) -> dict[str, str]:
    return {"Key": KEEP_UNTIL_TAG, "Value": format_keep_until(moment)}
