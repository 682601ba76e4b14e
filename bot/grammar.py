"""The `/restore` grammar: text in, a typed command or a specific error (with usage) out.

Pure and fast: it runs on the ack path, inside Slack's three seconds, and checks every field with
`pipeline.naming` (plain Python). The pipeline's pydantic `RestoreRequest` is built from a parsed
command only by the lazy work, so a cold start's first answer never imports pydantic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.naming import (
    MAX_INSTANCES,
    validate_cluster_id,
    validate_instance_class,
    validate_instance_count,
    validate_operation_id,
    validate_region,
    validate_requester,
    validate_snapshot_reference,
)

if TYPE_CHECKING:
    from pipeline.models import RestoreRequest

USAGE = """\
*Usage*
• `/restore <snapshot> <target-cluster> [--replace [--in-place]] [--source-region R] [--instance-class C] [--instances N] [--dry-run]`
    `<snapshot>` is a snapshot name, `rds:<automated-snapshot>`, a snapshot ARN or `latest:<source-cluster>`
    `--replace` restores beside an existing target, then swaps names and keeps the old cluster, stopped; add `--in-place` to delete it first instead (after a snapshot)
• `/restore status [operation-id]`: one restore in detail, or your recent ones
• `/restore list`: active and recent restores
• `/restore list --kept`: clusters kept after a replace, and the final snapshots I made, with when each is deleted
• `/restore cancel <operation-id>`: stop a restore you asked for (or one you may approve)
• `/restore rollback <operation-id>`: swap a replaced target back to the cluster that restore kept (approved like a restore)
• `/restore help`: this text"""

# Command-line names of the request's fields, so error messages speak the user's language.
_FIELD_NAMES = {
    "snapshot": "<snapshot>",
    "target_cluster": "<target-cluster>",
    "source_region": "--source-region",
    "instance_class": "--instance-class",
    "instance_count": "--instances",
    "requester": "requester",
}
_VALUE_OPTIONS = {"--source-region": "source_region", "--instance-class": "instance_class"}
_FLAG_OPTIONS = {"--replace": "replace", "--in-place": "in_place", "--dry-run": "dry_run"}
_SUBCOMMANDS = ("status", "list", "cancel", "help", "rollback")


class GrammarError(ValueError):
    """The text is not a valid `/restore` command; `message` says what is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def reply(self) -> str:
        return f":warning: {self.message}\n\n{USAGE}"


@dataclass(frozen=True)
class RestoreCommand:
    """A restore whose every field passed the naming rules (normalised as the model would)."""

    snapshot: str
    target_cluster: str
    requester: str
    origin: dict[str, str] = field(default_factory=dict)
    replace: bool = False
    in_place: bool = False
    source_region: str | None = None
    instance_class: str | None = None
    instance_count: int = 1
    dry_run: bool = False

    @property
    def request(self) -> RestoreRequest:
        """The pipeline's model of this request (imports pydantic: lazy work only)."""
        from pipeline.models import RestoreRequest

        return RestoreRequest(**asdict(self))


@dataclass(frozen=True)
class StatusCommand:
    operation_id: str | None = None


@dataclass(frozen=True)
class ListCommand:
    kept: bool = False  # `--kept`: kept clusters and the tool's final snapshots instead


@dataclass(frozen=True)
class CancelCommand:
    operation_id: str


@dataclass(frozen=True)
class HelpCommand:
    pass


@dataclass(frozen=True)
class RollbackCommand:
    """Swap back to the cluster operation `operation_id`'s replace kept (a new operation)."""

    operation_id: str
    requester: str
    origin: dict[str, str] = field(default_factory=dict)


Command = (
    RestoreCommand | StatusCommand | ListCommand | CancelCommand | HelpCommand | RollbackCommand
)


def parse(text: str, *, requester: str, origin: dict[str, str] | None = None) -> Command:
    words = text.split()
    if not words:
        raise GrammarError("Tell me what to restore.")
    head = words[0].lower()
    if head == "rollback":
        return _parse_rollback(words[1:], requester, origin or {})
    if head in _SUBCOMMANDS:
        return _parse_subcommand(head, words[1:])
    if head.startswith("-"):
        raise GrammarError(
            f"Options come after `<snapshot> <target-cluster>`; got `{words[0]}` first."
        )
    return _parse_restore(words, requester, origin or {})


def _parse_subcommand(name: str, args: list[str]) -> Command:
    if name == "help":
        return HelpCommand()
    if name == "list":
        if [arg.lower() for arg in args] == ["--kept"]:
            return ListCommand(kept=True)
        if args:
            raise GrammarError("`/restore list` takes no arguments but `--kept`.")
        return ListCommand()
    if name == "status":
        if len(args) > 1:
            raise GrammarError("`/restore status` takes at most one operation id.")
        return StatusCommand(_operation_id(args[0]) if args else None)
    if len(args) != 1:
        raise GrammarError(
            "`/restore cancel` needs exactly one operation id, e.g. `/restore cancel ar-20260101120000-1a2b3c`."
        )
    return CancelCommand(_operation_id(args[0]))


def _parse_rollback(args: list[str], requester: str, origin: dict[str, str]) -> RollbackCommand:
    if len(args) != 1:
        raise GrammarError(
            "`/restore rollback` needs exactly one operation id, the replace to roll back, e.g. "
            "`/restore rollback ar-20260101120000-1a2b3c`."
        )
    return RollbackCommand(
        _operation_id(args[0]),
        requester=_checked({"requester": requester})["requester"],
        origin=dict(origin),
    )


def _operation_id(text: str) -> str:
    try:
        return validate_operation_id(text)
    except ValueError as exc:
        raise GrammarError(str(exc)) from exc


def _parse_restore(words: list[str], requester: str, origin: dict[str, str]) -> RestoreCommand:
    positional: list[str] = []
    fields: dict[str, Any] = {}
    seen: set[str] = set()
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("--"):
            positional.append(word)
            continue
        name, has_inline, inline = word.partition("=")
        name = name.lower()
        if name in seen:
            # Taking the first or the last would restore something the user may not have meant.
            raise GrammarError(f"`{name}` is given twice; give it once.")
        seen.add(name)
        if name in _FLAG_OPTIONS:
            if has_inline:
                raise GrammarError(f"`{name}` is a flag and takes no value.")
            fields[_FLAG_OPTIONS[name]] = True
            continue
        if name not in (*_VALUE_OPTIONS, "--instances"):
            raise GrammarError(f"Unknown option `{name}`.")
        if has_inline:
            value = inline
        elif index < len(words) and not words[index].startswith("--"):
            value = words[index]
            index += 1
        else:
            raise GrammarError(f"`{name}` needs a value.")
        if name == "--instances":
            fields["instance_count"] = _instance_count(value)
        else:
            fields[_VALUE_OPTIONS[name]] = value
    if len(positional) != 2:
        raise GrammarError(
            "Give exactly a snapshot and a target cluster"
            + (
                f" (got {len(positional)}: {', '.join(f'`{p}`' for p in positional)})."
                if positional
                else "."
            )
        )
    if fields.get("in_place") and not fields.get("replace"):
        # Alone it would read as a replace the user did not ask for, or as nothing at all.
        raise GrammarError(
            "`--in-place` says how to replace an existing target: give it with `--replace`."
        )
    fields.update(snapshot=positional[0], target_cluster=positional[1], requester=requester)
    return RestoreCommand(origin=dict(origin), **_checked(fields))


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    """Each field through its naming rule; every mistake reported at once, field by field."""
    errors: list[str] = []
    for name, check in _CHECKS.items():
        if fields.get(name) is not None:
            try:
                fields[name] = check(fields[name])
            except ValueError as exc:
                errors.append(f"{_FIELD_NAMES[name]}: {exc}")
    if errors:
        raise GrammarError("\n".join(errors))
    return fields


# The same checks, with the same messages, that `RestoreRequest` applies to each field.
_CHECKS: dict[str, Callable[[Any], Any]] = {
    "snapshot": validate_snapshot_reference,
    "target_cluster": validate_cluster_id,
    "source_region": validate_region,
    "instance_class": validate_instance_class,
    "instance_count": validate_instance_count,
    "requester": validate_requester,
}


def _instance_count(value: str) -> int:
    # ASCII digits only: str.isdigit() also accepts `²` (int() refuses it) and `٣` (int() reads 3).
    if not (value.isascii() and value.isdigit()):
        raise GrammarError(f"`--instances` needs a whole number, got `{value}`.")
    if len(value.lstrip("0")) > len(str(MAX_INSTANCES)):  # and never int() of a huge string
        raise GrammarError(f"--instances: must be between 1 and {MAX_INSTANCES}, got `{value}`.")
    return int(value)
