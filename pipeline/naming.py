"""AWS's naming rules for what a user types: cluster and snapshot identifiers, snapshot references,
regions, instance classes, operation ids and instance counts.

Plain Python (no pydantic) so the Slack ack path can check a `/restore` before answering without
paying for the models' imports; `pipeline.models` builds its validated types from these same
functions, so the ack and the pipeline can never disagree about what is valid.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple

CLUSTER_ID_RULE = (
    "1-63 letters, digits or hyphens, starting with a letter, "
    "with no two consecutive hyphens and no trailing hyphen"
)
SNAPSHOT_ID_RULE = (
    "a snapshot name (1-255 letters, digits or hyphens, starting with a letter, no two consecutive "
    "hyphens, no trailing hyphen), an automated snapshot name `rds:<name>`, a snapshot ARN, "
    "or `latest:<source-cluster>`"
)
# Matched with fullmatch and ASCII digits only: `$` also matches before a trailing newline, and
# `\d` matches any Unicode digit (`٣`), neither of which AWS accepts.
_IDENT = re.compile(r"[A-Za-z](?:[A-Za-z0-9]|-(?!-))*(?<!-)")
_SNAPSHOT_ARN = re.compile(
    r"arn:aws[a-z-]*:rds:(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]):(?P<account>[0-9]{12}):"
    r"cluster-snapshot:(?P<name>(?:rds:)?[A-Za-z][A-Za-z0-9-]*)"
)
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]")
# db.serverless is Aurora Serverless v2's class; whether RDS offers a class for the engine version
# is ValidateRequest's question (pipeline.prechecks).
_INSTANCE_CLASS = re.compile(r"db\.serverless|db\.[a-z0-9]+\.[a-z0-9]+")
_OPERATION_ID = re.compile(r"ar-[0-9]{14}-[0-9a-f]{6}")
LATEST_PREFIX = "latest:"
MAX_INSTANCES = 15  # Aurora allows one writer and up to 15 readers; we create at most 15 in all.
MAX_REQUESTER_LENGTH = 200


class SnapshotKind(StrEnum):
    MANUAL = "manual"
    AUTOMATED = "automated"
    ARN = "arn"
    LATEST = "latest"


class SnapshotRef(NamedTuple):
    """A parsed snapshot reference: the user's (stripped) text and what it names."""

    text: str
    kind: SnapshotKind
    name: str  # snapshot identifier, or the source cluster for `latest:`
    region: str | None = None  # only known for ARNs
    account: str | None = None

    @classmethod
    def parse(cls, text: str) -> SnapshotRef:
        """Raise ValueError saying what a reference may look like unless `text` is one."""
        text = text.strip()
        if text.startswith(LATEST_PREFIX):
            cluster = text[len(LATEST_PREFIX) :]
            if not is_identifier(cluster, 63):
                raise ValueError(
                    f"`{text}`: after `latest:` give a source cluster identifier ({CLUSTER_ID_RULE})"
                )
            return cls(text, SnapshotKind.LATEST, cluster.lower())
        if text.startswith("arn:"):
            match = _SNAPSHOT_ARN.fullmatch(text)
            if match is None or not _is_snapshot_name(match["name"]):
                raise ValueError(
                    f"`{text}` is not a cluster snapshot ARN such as "
                    "`arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:my-snap`"
                )
            return cls(text, SnapshotKind.ARN, match["name"], match["region"], match["account"])
        if text.startswith("rds:"):
            if not _is_snapshot_name(text):
                raise ValueError(
                    f"`{text}` is not a valid snapshot reference: use {SNAPSHOT_ID_RULE}"
                )
            return cls(text, SnapshotKind.AUTOMATED, text.lower())
        if not is_identifier(text, 255):
            raise ValueError(f"`{text}` is not a valid snapshot reference: use {SNAPSHOT_ID_RULE}")
        return cls(text, SnapshotKind.MANUAL, text.lower())


def is_identifier(value: str, max_length: int) -> bool:
    return 0 < len(value) <= max_length and _IDENT.fullmatch(value) is not None


def _is_snapshot_name(value: str) -> bool:
    """A manual snapshot name, or `rds:<name>` for an automated one (255 characters in all)."""
    if value.startswith("rds:"):
        return is_identifier(value[4:], 251)
    return is_identifier(value, 255)


def validate_snapshot_reference(value: str) -> str:
    return SnapshotRef.parse(value).text


def validate_cluster_id(value: str) -> str:
    if not is_identifier(value, 63):
        raise ValueError(f"`{value}` is not a valid cluster identifier: use {CLUSTER_ID_RULE}")
    return value.lower()


def validate_region(value: str) -> str:
    if _REGION.fullmatch(value) is None:
        raise ValueError(f"`{value}` is not an AWS region name such as `eu-west-1`")
    return value


def validate_instance_class(value: str) -> str:
    if _INSTANCE_CLASS.fullmatch(value) is None:
        raise ValueError(f"`{value}` is not a DB instance class such as `db.r6g.large`")
    return value


def validate_operation_id(value: str) -> str:
    if _OPERATION_ID.fullmatch(value) is None:
        raise ValueError(f"`{value}` is not an operation id such as `ar-20260101120000-1a2b3c`")
    return value


def validate_instance_count(value: int) -> int:
    if not 1 <= value <= MAX_INSTANCES:
        raise ValueError(f"must be between 1 and {MAX_INSTANCES}, got `{value}`")
    return value


def validate_requester(value: str) -> str:
    if not 0 < len(value) <= MAX_REQUESTER_LENGTH:
        raise ValueError(f"must be a Slack user id of 1-{MAX_REQUESTER_LENGTH} characters")
    return value
