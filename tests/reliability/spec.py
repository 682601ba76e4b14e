"""The identifier rules restated independently of pipeline/models.py, for property assertions.

ASCII only and matched in full: what AWS documents, with no room for a trailing newline or a
non-ASCII digit to slip through.
"""

from __future__ import annotations

import re

IDENTIFIER = re.compile(r"[A-Za-z](?:-?[A-Za-z0-9])*", re.ASCII)
REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]", re.ASCII)
INSTANCE_CLASS = re.compile(r"db\.serverless|db\.[a-z0-9]+\.[a-z0-9]+", re.ASCII)  # Serverless v2
OPERATION_ID = re.compile(r"ar-[0-9]{14}-[0-9a-f]{6}", re.ASCII)
SNAPSHOT_ARN = re.compile(
    r"arn:aws[a-z-]*:rds:(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]):(?P<account>[0-9]{12}):"
    r"cluster-snapshot:(?P<name>.+)",
    re.ASCII,
)
# What a message for a person must never contain: pydantic's and Python's own vocabulary.
INTERNAL_WORDS = (
    "pydantic",
    "validation error for",
    "Value error,",
    "input_value",
    "input_type",
    "Traceback",
    "Exception",
    "NoneType",
)


def is_identifier(text: str, max_length: int) -> bool:
    return len(text) <= max_length and IDENTIFIER.fullmatch(text) is not None


def is_snapshot_name(text: str) -> bool:
    """A manual snapshot name, or `rds:<name>` for an automated one."""
    if text.startswith("rds:"):
        return is_identifier(text[4:], 251)
    return is_identifier(text, 255)


def assert_user_facing(message: str) -> None:
    assert message.strip(), "an empty error message"
    for word in INTERNAL_WORDS:
        assert word not in message, f"{word!r} in a message for a person: {message!r}"
