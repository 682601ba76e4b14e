"""The `/restore` grammar, table-driven: what parses to what, and what each mistake says."""

from __future__ import annotations

import pytest

from bot.grammar import (
    USAGE,
    CancelCommand,
    GrammarError,
    HelpCommand,
    ListCommand,
    RestoreCommand,
    RollbackCommand,
    StatusCommand,
    parse,
)

OP = "ar-20260101120000-1a2b3c"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("snap-1 target-db", {"snapshot": "snap-1", "target_cluster": "target-db"}),
        ("latest:prod-db Stage-DB", {"snapshot": "latest:prod-db", "target_cluster": "stage-db"}),
        (
            "rds:prod-db-2026-01-01 t1 --replace",
            {"snapshot": "rds:prod-db-2026-01-01", "replace": True},
        ),
        ("s t --instances 3 --dry-run", {"instance_count": 3, "dry_run": True}),
        ("s t --instances=2", {"instance_count": 2}),
        ("s t --source-region eu-west-1", {"source_region": "eu-west-1"}),
        ("s t --instance-class db.r6g.xlarge", {"instance_class": "db.r6g.xlarge"}),
        ("s t --instance-class db.serverless", {"instance_class": "db.serverless"}),
        ("s --replace t", {"target_cluster": "t", "replace": True}),
        (
            "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:snap t",
            {"snapshot": "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:snap"},
        ),
    ],
)
def test_restore_commands(text: str, expected: dict[str, object]) -> None:
    command = parse(text, requester="U1", origin={"channel_id": "C1"})
    assert isinstance(command, RestoreCommand)
    for field, value in expected.items():
        assert getattr(command.request, field) == value
    assert command.request.requester == "U1"
    assert command.request.origin == {"channel_id": "C1"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("help", HelpCommand()),
        ("HELP", HelpCommand()),
        ("list", ListCommand()),
        ("list --kept", ListCommand(kept=True)),
        ("LIST --Kept", ListCommand(kept=True)),
        ("status", StatusCommand(None)),
        (f"status {OP}", StatusCommand(OP)),
        (f"cancel {OP}", CancelCommand(OP)),
        (f"rollback {OP}", RollbackCommand(OP, requester="U1")),
        (f"Rollback {OP}", RollbackCommand(OP, requester="U1")),
    ],
)
def test_subcommands(text: str, expected: object) -> None:
    assert parse(text, requester="U1") == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "Tell me what to restore"),
        ("   ", "Tell me what to restore"),
        ("only-a-snapshot", "exactly a snapshot and a target cluster (got 1"),
        ("a b c", "(got 3: `a`, `b`, `c`)"),
        ("--replace s t", "Options come after"),
        ("s t --force", "Unknown option `--force`"),
        ("s t --instances", "`--instances` needs a value"),
        ("s t --instances many", "needs a whole number, got `many`"),
        ("s t --instances 0", "--instances: must be between 1 and 15"),
        ("s t --instances 16", "--instances: must be between 1 and 15"),
        ("s t --replace=yes", "`--replace` is a flag"),
        ("s t --instances 2 --instances 3", "`--instances` is given twice; give it once"),
        ("s t --replace --dry-run --replace", "`--replace` is given twice"),
        (
            "s t --source-region=eu-west-1 --Source-Region us-east-1",
            "`--source-region` is given twice",
        ),
        ("s t --source-region Mars", "--source-region: `Mars` is not an AWS region"),
        ("s t --instance-class large", "--instance-class: `large` is not a DB instance class"),
        ("snap_1 t", "<snapshot>: `snap_1` is not a valid snapshot reference"),
        ("s bad--name", "<target-cluster>: `bad--name` is not a valid cluster identifier"),
        ("s -t", "<target-cluster>"),
        ("latest: t", "after `latest:` give a source cluster"),
        ("status nope", "`nope` is not an operation id"),
        (f"status {OP} extra", "at most one operation id"),
        ("cancel", "needs exactly one operation id"),
        ("list all", "takes no arguments"),
        ("list --kept --kept", "takes no arguments but `--kept`"),
        ("rollback", "`/restore rollback` needs exactly one operation id"),
        (f"rollback {OP} {OP}", "`/restore rollback` needs exactly one operation id"),
        ("rollback staging-db", "`staging-db` is not an operation id"),
    ],
)
def test_mistakes_are_explained_with_usage(text: str, says: str) -> None:
    with pytest.raises(GrammarError) as raised:
        parse(text, requester="U1")
    assert says in raised.value.message
    assert raised.value.reply.endswith(USAGE)
