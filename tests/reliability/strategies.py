"""Hypothesis strategies for `/restore` input: anything a person might type, and valid requests."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

from pipeline.models import RestoreRequest
from pipeline.naming import MAX_INSTANCES

SUBCOMMANDS = ("status", "list", "cancel", "help")
OPTIONS = ("--replace", "--dry-run", "--instances", "--source-region", "--instance-class")
LETTERS = string.ascii_letters
ALPHANUMERIC = string.ascii_letters + string.digits
# Whitespace a Slack client can put between words, Unicode included: the grammar splits on all.
SEPARATORS = st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", "\u2003", "\u3000"])


def identifiers(max_length: int) -> st.SearchStrategy[str]:
    """Valid RDS identifiers: a letter, then letters/digits in runs joined by single hyphens."""
    short = st.builds(
        lambda first, runs: first + "-".join(runs),
        st.sampled_from(LETTERS),
        st.lists(st.text(ALPHANUMERIC, min_size=1, max_size=8), max_size=6),
    ).filter(lambda name: len(name) <= max_length)
    longest = st.builds(  # exactly at the length limit
        lambda first, rest: first + rest,
        st.sampled_from(LETTERS),
        st.text(ALPHANUMERIC, min_size=max_length - 1, max_size=max_length - 1),
    )
    return st.one_of(short, longest)


regions = st.builds(
    lambda area, direction, number: f"{area}-{direction}-{number}",
    st.sampled_from(["us", "eu", "ap", "ca", "sa", "me", "af", "il"]),
    st.sampled_from(["east", "west", "central", "north", "south", "southeast", "northeast"]),
    st.integers(min_value=1, max_value=9),
)
instance_classes = st.just("db.serverless") | st.builds(
    lambda family, size: f"db.{family}.{size}",
    st.sampled_from(["r6g", "r7g", "t4g", "x2g", "serverless", "r5"]),
    st.sampled_from(["large", "xlarge", "2xlarge", "medium", "24xlarge"]),
)
accounts = st.text(string.digits, min_size=12, max_size=12)


def snapshot_arns() -> st.SearchStrategy[str]:
    return st.builds(
        lambda partition, region, account, name: (
            f"arn:{partition}:rds:{region}:{account}:cluster-snapshot:{name}"
        ),
        st.sampled_from(["aws", "aws-cn", "aws-us-gov"]),
        regions,
        accounts,
        st.one_of(identifiers(255), identifiers(251).map(lambda name: f"rds:{name}")),
    )


def snapshot_references() -> st.SearchStrategy[str]:
    """Every kind of valid `<snapshot>`; never a word the grammar reads as a subcommand."""
    return st.one_of(
        identifiers(255).filter(lambda name: name.lower() not in SUBCOMMANDS),
        identifiers(251).map(lambda name: f"rds:{name}"),
        identifiers(63).map(lambda name: f"latest:{name}"),
        snapshot_arns(),
    )


@st.composite
def restore_requests(draw: st.DrawFn) -> RestoreRequest:
    fields: dict[str, Any] = {
        "snapshot": draw(snapshot_references()),
        "target_cluster": draw(identifiers(63)).lower(),
        "replace": draw(st.booleans()),
        "dry_run": draw(st.booleans()),
        "source_region": draw(st.none() | regions),
        "instance_class": draw(st.none() | instance_classes),
        "instance_count": draw(st.integers(min_value=1, max_value=MAX_INSTANCES)),
        "requester": draw(st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=12)),
        "origin": {"channel_id": "C0LRESTORE"},
    }
    return RestoreRequest(**fields)


@st.composite
def command_texts(draw: st.DrawFn, request: RestoreRequest) -> str:
    """`request` as a person could type it: options in any order, before or between the
    positional words, `--name value` or `--name=value`, any letter case in option names."""

    def option(name: str, value: object | None = None) -> list[str]:
        if draw(st.booleans()):
            name = name.upper()
        if value is None:
            return [name]
        return [f"{name}={value}"] if draw(st.booleans()) else [name, str(value)]

    options: list[list[str]] = []
    if request.replace:
        options.append(option("--replace"))
    if request.dry_run:
        options.append(option("--dry-run"))
    if request.source_region is not None:
        options.append(option("--source-region", request.source_region))
    if request.instance_class is not None:
        options.append(option("--instance-class", request.instance_class))
    if request.instance_count != 1 or draw(st.booleans()):
        options.append(option("--instances", request.instance_count))
    options = draw(st.permutations(options))
    # Options may sit between the snapshot and the target, never before the snapshot.
    split = draw(st.integers(min_value=0, max_value=len(options)))
    words = [request.snapshot]
    for chosen in options[:split]:
        words.extend(chosen)
    words.append(request.target_cluster)
    for chosen in options[split:]:
        words.extend(chosen)
    separators = draw(st.lists(SEPARATORS, min_size=len(words) + 1, max_size=len(words) + 1))
    return separators[0] + "".join(w + s for w, s in zip(words, separators[1:], strict=True))


# Words that steer the parser into every branch, mixed with arbitrary text.
_VOCABULARY = st.sampled_from(
    [
        *SUBCOMMANDS,
        *OPTIONS,
        "--instances=",
        "--replace=yes",
        "--force",
        "-x",
        "latest:",
        "rds:",
        "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:",
        "ar-20260101120000-1a2b3c",
        "prod-orders-nightly",
        "staging-orders",
        "0",
        "16",
        "²",
        "٣",
        "9" * 40,
    ]
)
words = st.one_of(
    _VOCABULARY,
    identifiers(70),
    st.text(min_size=1, max_size=30),
    st.builds(lambda a, b: a + b, _VOCABULARY, st.text(max_size=12)),
)


@st.composite
def any_command_text(draw: st.DrawFn) -> str:
    """Arbitrary text, biased towards almost-valid commands (where parsers break)."""
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        return draw(st.text(max_size=200))
    chosen = draw(st.lists(words, max_size=8))
    separators = draw(st.lists(SEPARATORS, min_size=len(chosen), max_size=len(chosen)))
    return "".join(w + s for w, s in zip(chosen, separators, strict=True))
