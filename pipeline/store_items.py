"""Plain or pydantic values to DynamoDB attribute values and back (floats as Decimal)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
CONDITION_FAILED = "ConditionalCheckFailedException"


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """Serialise plain or pydantic values into DynamoDB attribute values (floats as Decimal)."""
    plain = json.loads(json.dumps(values, default=_json_default), parse_float=Decimal)
    return {key: _serializer.serialize(value) for key, value in plain.items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    raw = {key: _deserializer.deserialize(value) for key, value in item.items()}
    return json.loads(json.dumps(raw, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
