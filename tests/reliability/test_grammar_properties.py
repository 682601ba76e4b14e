"""Properties of the `/restore` grammar: any text gives a command or a specific error with usage,
never another exception; every valid request, typed any way a person could, parses back to itself."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.grammar import (
    USAGE,
    CancelCommand,
    GrammarError,
    HelpCommand,
    ListCommand,
    RestoreCommand,
    StatusCommand,
    parse,
)
from bot.restore_flow import operation_id_for
from pipeline.models import RestoreRequest, new_operation_id
from pipeline.naming import MAX_INSTANCES, SnapshotKind
from tests.reliability import spec
from tests.reliability.strategies import any_command_text, command_texts, restore_requests

REQUESTER = "U0LREQUEST"
ORIGIN = {"channel_id": "C0LRESTORE", "team_id": "T0LOCAL001", "user_name": "dana"}
# Names the grammar's messages use for what was wrong: a field, an option or a subcommand.
NAMED_THINGS = ("<snapshot>", "<target-cluster>", "--", "/restore", "snapshot", "operation id")
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)
)


def assert_valid_request(request: RestoreRequest) -> None:
    assert spec.is_identifier(request.target_cluster, 63)
    assert request.target_cluster == request.target_cluster.lower()
    ref = request.snapshot_ref
    assert request.snapshot == request.snapshot.strip() == ref.text
    if ref.kind == SnapshotKind.LATEST:
        assert spec.is_identifier(ref.name, 63)
    elif ref.kind == SnapshotKind.ARN:
        match = spec.SNAPSHOT_ARN.fullmatch(ref.text)
        assert match is not None and spec.is_snapshot_name(match["name"])
        assert (ref.region, ref.account, ref.name) == (
            match["region"],
            match["account"],
            match["name"],
        )
    else:
        assert spec.is_snapshot_name(ref.text)
    assert request.source_region is None or spec.REGION.fullmatch(request.source_region)
    assert request.instance_class is None or spec.INSTANCE_CLASS.fullmatch(request.instance_class)
    assert 1 <= request.instance_count <= MAX_INSTANCES
    assert request.requester == REQUESTER
    assert request.origin == ORIGIN


@settings(max_examples=400, deadline=None)
@given(any_command_text())
@example("s t --instances ²")  # str.isdigit() is True, int() refuses it
@example("s t --instances ٣")  # a digit to str.isdigit() and int(), not to a person typing 3
@example("s t --instances " + "9" * 5000)  # beyond int()'s digit limit
@example("status ar-٢٠٢٦٠١٠١١٢٠٠٠٠-1a2b3c")  # non-ASCII digits in an operation id
@example("arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:snap-- target")
def test_any_text_is_a_command_or_a_specific_error(text: str) -> None:
    try:
        command = parse(text, requester=REQUESTER, origin=ORIGIN)
    except GrammarError as error:
        spec.assert_user_facing(error.message)
        assert any(thing in error.message for thing in NAMED_THINGS) or not text.split()
        assert error.reply.endswith(USAGE)
        return
    if isinstance(command, RestoreCommand):
        assert_valid_request(command.request)
    elif isinstance(command, StatusCommand | CancelCommand):
        assert command.operation_id is None or spec.OPERATION_ID.fullmatch(command.operation_id)
    else:
        assert isinstance(command, HelpCommand | ListCommand)


@settings(max_examples=150, deadline=None)
@given(st.data(), restore_requests())
def test_a_valid_request_typed_any_way_parses_back_to_itself(
    data: st.DataObject, request: RestoreRequest
) -> None:
    text = data.draw(command_texts(request))

    parsed = parse(text, requester=request.requester, origin=request.origin)

    assert isinstance(parsed, RestoreCommand)
    assert parsed.request == request


@settings(max_examples=100, deadline=None)
@given(moments, st.text(), st.sampled_from(["status", "cancel", "STATUS", "Cancel"]))
def test_operation_ids_the_bot_makes_are_accepted_back(
    moment: datetime, command_key: str, subcommand: str
) -> None:
    for operation_id in (new_operation_id(moment), operation_id_for(command_key, moment)):
        assert spec.OPERATION_ID.fullmatch(operation_id)
        parsed = parse(f"{subcommand} {operation_id}", requester=REQUESTER)
        expected = (
            StatusCommand(operation_id)
            if subcommand.lower() == "status"
            else CancelCommand(operation_id)
        )
        assert parsed == expected
