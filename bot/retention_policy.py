"""The policy's `retention:`: how long a replace keeps the old cluster, stopped, and the tool's
snapshots, with overrides by target pattern.

The first override whose patterns match the target applies (the order of the file, as in a
firewall's rules); what it leaves out comes from the defaults above it. An override that an
earlier one hides completely could never apply, so it is refused rather than silently ignored.
The terms the bot takes from here travel with the request (pipeline.retention_terms): the
pipeline never reads this file.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.retention_terms import (
    KeptDays,
    NoticeHours,
    RetentionTerms,
    SnapshotDays,
    notice_problem,
)

# Cluster identifiers are letters, digits and hyphens (RDS): patterns say so, with * and ?.
_PATTERN = re.compile(r"[a-z0-9*?-]+")
_WILDCARDS = frozenset("?[")


class RetentionOverride(BaseModel):
    """Values for the targets matching any of `targets` (fnmatch patterns)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    targets: tuple[str, ...] = Field(min_length=1)
    kept_cluster_days: KeptDays | None = None
    notice_hours: NoticeHours | None = None
    final_snapshot_days: SnapshotDays | None = None

    @field_validator("targets")
    @classmethod
    def _patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        lowered = tuple(pattern.lower() for pattern in value)
        bad = [pattern for pattern in lowered if not _PATTERN.fullmatch(pattern)]
        if bad:
            raise ValueError(
                f"{', '.join(repr(p) for p in bad)}: a pattern is letters, digits, hyphens, "
                "* and ?, as cluster names are"
            )
        return lowered

    @model_validator(mode="after")
    def _sets_something(self) -> Self:
        if not self.model_fields_set - {"targets"}:
            raise ValueError(
                f"the override for {', '.join(self.targets)} sets nothing: give it "
                "kept_cluster_days, notice_hours or final_snapshot_days"
            )
        return self

    def matches(self, target: str) -> bool:
        return any(fnmatchcase(target.lower(), pattern) for pattern in self.targets)


def _hides(earlier: str, later: str) -> bool:
    """Whether every name `later` matches is matched by `earlier` too. Proven only for an
    `earlier` of literals and `*` (which then matches `later`'s own text exactly when it
    matches all of `later`'s names); with ? or [ the answer is no, never a false refusal."""
    if earlier == later:
        return True
    return _WILDCARDS.isdisjoint(earlier) and fnmatchcase(later, earlier)


class RetentionPolicy(BaseModel):
    """Defaults: a replaced target is kept 3 days (at most 7: Aurora starts a stopped cluster
    after seven), its deletion announced 24 hours before, the tool's snapshots kept 30 days."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kept_cluster_days: KeptDays = 3
    notice_hours: NoticeHours = 24
    final_snapshot_days: SnapshotDays = 30
    overrides: tuple[RetentionOverride, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problem = notice_problem(
            self.kept_cluster_days, self.notice_hours, self.final_snapshot_days
        )
        if problem:
            raise ValueError(f"retention: {problem}")
        for index, override in enumerate(self.overrides):
            where = f"retention.overrides[{index}] ({', '.join(override.targets)})"
            terms = self._merged(override)
            problem = notice_problem(
                terms["kept_cluster_days"], terms["notice_hours"], terms["final_snapshot_days"]
            )
            if problem:
                raise ValueError(f"{where}: {problem}")
            for before, earlier in enumerate(self.overrides[:index]):
                for pattern in override.targets:
                    hiding = next((p for p in earlier.targets if _hides(p, pattern)), None)
                    if hiding is not None:
                        raise ValueError(
                            f"{where}: `{pattern}` never applies: retention.overrides[{before}]'s "
                            f"`{hiding}` matches every name it does, and the first match wins. "
                            "Put the narrower override first"
                        )
        return self

    def _merged(self, override: RetentionOverride) -> dict[str, int]:
        return {
            name: getattr(override, name) or getattr(self, name)
            for name in ("kept_cluster_days", "notice_hours", "final_snapshot_days")
        }

    @property
    def defaults(self) -> RetentionTerms:
        """The terms of a target no override matches (and the pipeline's, for what carries
        none: infra.constants.retention_environment)."""
        return RetentionTerms(
            kept_cluster_days=self.kept_cluster_days,
            notice_hours=self.notice_hours,
            final_snapshot_days=self.final_snapshot_days,
        )

    def terms_for(self, target_cluster: str) -> RetentionTerms:
        """The first matching override's values over the defaults."""
        override = next((o for o in self.overrides if o.matches(target_cluster)), None)
        if override is None:
            return self.defaults
        return RetentionTerms(**self._merged(override))
