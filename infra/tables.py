"""DynamoDB tables built from pipeline.store_schema's create_table definitions, so the deployed
keys and indexes are the ones the store, the tests and the local stack use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from pipeline.store_schema import TTL_ATTRIBUTE

_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}


def _keys(
    key_schema: list[Mapping[str, str]], types: Mapping[str, str]
) -> tuple[dynamodb.Attribute, dynamodb.Attribute | None]:
    """create_table KeySchema -> CDK (partition key, sort key or None)."""
    by_role = {
        element["KeyType"]: dynamodb.Attribute(
            name=element["AttributeName"], type=_TYPES[types[element["AttributeName"]]]
        )
        for element in key_schema
    }
    return by_role["HASH"], by_role.get("RANGE")


def build_table(
    scope: Construct, construct_id: str, definition: Mapping[str, Any], key: kms.IKey
) -> dynamodb.Table:
    """An encrypted, recoverable, TTL-enabled table with the definition's keys and indexes.
    The physical name is CloudFormation's; the functions get it through their environment."""
    if definition["BillingMode"] != "PAY_PER_REQUEST":
        raise ValueError(f"{construct_id}: only on-demand tables are supported")
    types = {
        item["AttributeName"]: item["AttributeType"] for item in definition["AttributeDefinitions"]
    }
    partition_key, sort_key = _keys(definition["KeySchema"], types)
    table = dynamodb.Table(
        scope,
        construct_id,
        partition_key=partition_key,
        sort_key=sort_key,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=TTL_ATTRIBUTE,
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    for index in definition.get("GlobalSecondaryIndexes", []):
        projection = index["Projection"]
        partition_key, sort_key = _keys(index["KeySchema"], types)
        table.add_global_secondary_index(
            index_name=index["IndexName"],
            partition_key=partition_key,
            sort_key=sort_key,
            projection_type=_PROJECTIONS[projection["ProjectionType"]],
            non_key_attributes=projection.get("NonKeyAttributes"),
        )
    return table
