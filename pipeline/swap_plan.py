"""The names of a replace through a swap, a pure function of the target and the operation.

A replace restores beside the target under a staging name, proves the new cluster (available,
instances up, database stage done), and only then swaps: the old target and its instances take
kept names, the new cluster and its instances the target's. The kept cluster is stopped, not
deleted, so a rollback is a swap back. Every name carries the operation id's random part, so
two restores of one target never collide, and each is a valid RDS identifier (1 to 63 letters,
digits or hyphens) when the target is short enough: `ensure_swappable` says when it is not.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import InvalidRequestError

MAX_IDENTIFIER = 63


def operation_suffix(operation_id: str) -> str:
    """The random part of an operation id (`ar-<time>-<hex>`), short enough for names."""
    return operation_id.rsplit("-", 1)[-1]


def staging_cluster_id(target: str, operation_id: str) -> str:
    return f"{target}-new-{operation_suffix(operation_id)}"


def kept_cluster_id(target: str, operation_id: str) -> str:
    return f"{target}-old-{operation_suffix(operation_id)}"


def safety_snapshot_id(target: str, operation_id: str) -> str:
    """The manual snapshot an in-place replace takes before it touches any instance; short,
    for CreateDBClusterSnapshot takes "from 1 to 63 letters, numbers, or hyphens" (botocore)."""
    return f"{target}-before-{operation_suffix(operation_id)}"


def ensure_snapshot_name(name: str, target: str) -> None:
    if len(name) > MAX_IDENTIFIER:
        raise InvalidRequestError(
            f"target_cluster: `{target}` is too long for an in-place replace (its safety "
            f"snapshot `{name}` would exceed {MAX_IDENTIFIER} characters): restore into a "
            "shorter target name"
        )


def numbered_members(cluster_id: str, count: int) -> list[str]:
    return [f"{cluster_id}-{number}" for number in range(1, count + 1)]


@dataclass(frozen=True)
class SwapNames:
    """Who is called what before and after the swap."""

    target: str
    staging: str
    kept: str
    new_instances: list[str]  # the names the restored instances end with (`<target>-N`)
    staging_instances: list[str]  # the names they are created with
    old_instances: list[str]  # the target's instances when the plan was made
    kept_instances: list[str]  # the names those end with

    @classmethod
    def build(
        cls, target: str, operation_id: str, *, instance_count: int, existing: list[str]
    ) -> SwapNames:
        staging = staging_cluster_id(target, operation_id)
        kept = kept_cluster_id(target, operation_id)
        return cls(
            target=target,
            staging=staging,
            kept=kept,
            new_instances=numbered_members(target, instance_count),
            staging_instances=numbered_members(staging, instance_count),
            old_instances=sorted(existing),
            kept_instances=numbered_members(kept, len(existing)),
        )

    def ensure_valid(self) -> None:
        """Refuse a target too long for its swap names (an in-place replace needs none)."""
        names = [self.staging, self.kept, *self.staging_instances, *self.kept_instances]
        too_long = [name for name in names if len(name) > MAX_IDENTIFIER]
        if too_long:
            raise InvalidRequestError(
                f"target_cluster: `{self.target}` is too long to be replaced through a swap "
                f"(`{max(too_long, key=len)}` would exceed {MAX_IDENTIFIER} characters): restore "
                "into a shorter target name"
            )
