"""Properties of the request models and identifier validators: any value is accepted only when it
meets AWS's rules (ASCII, matched in full), otherwise refused with a message that names what is
allowed; a valid request survives JSON and DynamoDB round trips unchanged."""

from __future__ import annotations

import string
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pipeline.models import Operation, OperationStatus, RestoreRequest
from pipeline.naming import (
    CLUSTER_ID_RULE,
    SnapshotKind,
    SnapshotRef,
    validate_cluster_id,
    validate_instance_class,
    validate_operation_id,
    validate_region,
)
from pipeline.store_items import from_item, to_item
from tests.reliability import spec
from tests.reliability.strategies import (
    accounts,
    identifiers,
    instance_classes,
    regions,
    restore_requests,
    snapshot_references,
)

# Valid values with something appended or prepended: where anchoring and character classes leak.
_NOISE = st.sampled_from(["\n", " ", "-", "--", "٣", "²", "é", "_", ".", "\x00", "x" * 300])


def _near(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        valid,
        st.builds(lambda value, noise: value + noise, valid, _NOISE),
        st.builds(lambda value, noise: noise + value, valid, _NOISE),
        st.text(max_size=80),
    )


VALIDATORS: list[
    tuple[str, Callable[[str], str], st.SearchStrategy[str], Callable[[str], bool], str]
] = [
    (
        "cluster id",
        validate_cluster_id,
        identifiers(63),
        lambda value: spec.is_identifier(value, 63) and value == value.lower(),
        CLUSTER_ID_RULE,
    ),
    (
        "region",
        validate_region,
        regions,
        lambda value: spec.REGION.fullmatch(value) is not None,
        "AWS region name such as `eu-west-1`",
    ),
    (
        "instance class",
        validate_instance_class,
        instance_classes,
        lambda value: spec.INSTANCE_CLASS.fullmatch(value) is not None,
        "DB instance class such as `db.r6g.large`",
    ),
    (
        "operation id",
        validate_operation_id,
        st.builds(
            lambda digits, suffix: f"ar-{digits}-{suffix}",
            st.text(string.digits, min_size=14, max_size=14),
            st.text("0123456789abcdef", min_size=6, max_size=6),
        ),
        lambda value: spec.OPERATION_ID.fullmatch(value) is not None,
        "operation id such as `ar-20260101120000-1a2b3c`",
    ),
]


@pytest.mark.parametrize(
    ("validate", "valid", "meets_rule", "rule"),
    [case[1:] for case in VALIDATORS],
    ids=[case[0] for case in VALIDATORS],
)
def test_validators_accept_exactly_what_the_rule_allows(
    validate: Callable[[str], str],
    valid: st.SearchStrategy[str],
    meets_rule: Callable[[str], bool],
    rule: str,
) -> None:
    @settings(max_examples=150, deadline=None)
    @given(_near(valid))
    def check(value: str) -> None:
        try:
            accepted = validate(value)
        except ValueError as error:
            assert rule in str(error) and f"`{value}`" in str(error)
            return
        assert meets_rule(accepted), f"accepted {value!r} as {accepted!r}"

    check()


@settings(max_examples=300, deadline=None)
@given(_near(snapshot_references()))
@example("abc\n")
@example("rds:" + "a" * 252)
@example("arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:snap-")
@example("arn:aws:rds:eu-west-\u0661:123456789012:cluster-snapshot:snap")  # Arabic-Indic 1
def test_snapshot_references_are_a_known_kind_or_refused_with_the_allowed_forms(text: str) -> None:
    try:
        ref = SnapshotRef.parse(text)
    except ValueError as error:
        message = str(error)
        assert any(
            allowed in message
            for allowed in ("cluster snapshot ARN such as", "after `latest:`", "snapshot name")
        ), message
        return
    assert ref.text == text.strip()
    if ref.kind == SnapshotKind.LATEST:
        assert ref.text == f"latest:{ref.text[7:]}" and spec.is_identifier(ref.text[7:], 63)
        assert ref.name == ref.text[7:].lower()
    elif ref.kind == SnapshotKind.ARN:
        match = spec.SNAPSHOT_ARN.fullmatch(ref.text)
        assert match is not None and spec.is_snapshot_name(ref.name)
        assert (ref.region, ref.account, ref.name) == (
            match["region"],
            match["account"],
            match["name"],
        )
    else:
        assert spec.is_snapshot_name(ref.text) and ref.name == ref.text.lower()
        assert ref.kind == (
            SnapshotKind.AUTOMATED if ref.text.startswith("rds:") else SnapshotKind.MANUAL
        )


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["aws", "aws-cn", "aws-us-gov"]),
    regions,
    accounts,
    st.one_of(identifiers(255), identifiers(251).map(lambda name: f"rds:{name}")),
)
def test_a_snapshot_arn_parses_into_its_parts(
    partition: str, region: str, account: str, name: str
) -> None:
    arn = f"arn:{partition}:rds:{region}:{account}:cluster-snapshot:{name}"

    ref = SnapshotRef.parse(arn)

    assert (ref.kind, ref.region, ref.account, ref.name, ref.text) == (
        SnapshotKind.ARN,
        region,
        account,
        name,
        arn,
    )


_ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)
_FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "snapshot": st.one_of(snapshot_references(), _ANY_VALUE),
    "target_cluster": st.one_of(identifiers(63), _ANY_VALUE),
    "replace": _ANY_VALUE,
    "source_region": st.one_of(regions, _ANY_VALUE),
    "instance_class": st.one_of(instance_classes, _ANY_VALUE),
    "instance_count": st.one_of(st.integers(min_value=-3, max_value=20), _ANY_VALUE),
    "dry_run": _ANY_VALUE,
    "requester": st.one_of(st.just("U0LREQUEST"), _ANY_VALUE),
    "origin": _ANY_VALUE,
    "surprise": _ANY_VALUE,  # not a field: refused by name
}


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from(sorted(_FIELD_VALUES)), st.none(), max_size=10).flatmap(
        lambda keys: st.fixed_dictionaries({key: _FIELD_VALUES[key] for key in keys})
    )
)
def test_a_request_from_any_fields_is_valid_or_names_the_bad_fields(fields: dict[str, Any]) -> None:
    try:
        request = RestoreRequest(**fields)
    except ValidationError as error:
        for problem in error.errors():
            assert problem["loc"] and problem["loc"][0] in _FIELD_VALUES, problem
            spec.assert_user_facing(str(problem["msg"]).removeprefix("Value error, "))
        return
    assert spec.is_identifier(request.target_cluster, 63)
    assert request.snapshot_ref.text == request.snapshot
    assert "surprise" not in fields


@settings(max_examples=150, deadline=None)
@given(restore_requests(), st.datetimes(timezones=st.just(UTC), min_value=datetime(2000, 1, 1)))
def test_a_request_survives_json_and_the_operations_table(
    request: RestoreRequest, moment: datetime
) -> None:
    assert RestoreRequest.model_validate_json(request.model_dump_json()) == request
    operation = Operation(
        operation_id="ar-20260101120000-1a2b3c",
        status=OperationStatus.PENDING_APPROVAL,
        request=request,
        created_at=moment,
        updated_at=moment,
    )

    stored = Operation.model_validate(from_item(to_item(operation.model_dump(mode="json"))))

    assert stored == operation
