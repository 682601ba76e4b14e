"""The DynamoDB schema of the operations and audit tables, shared by tests, local stack and infra."""

from __future__ import annotations

from typing import Any

OPERATION_KEY = "operation_id"
AUDIT_SORT_KEY = "event_key"
BY_REQUESTER_INDEX = "by_requester"
BY_RECENCY_INDEX = "by_recency"
RECENCY_PARTITION = "operation"  # one partition: restores are a few a day, not a hot key
TTL_ATTRIBUTE = "expires_at"
LOCK_PREFIX = "lock#"


def operations_table_definition(name: str) -> dict[str, Any]:
    """create_table arguments for the operations table (operations and target locks)."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": OPERATION_KEY, "AttributeType": "S"},
            {"AttributeName": "requester", "AttributeType": "S"},
            {"AttributeName": "listing", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": OPERATION_KEY, "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": BY_REQUESTER_INDEX,
                "KeySchema": [
                    {"AttributeName": "requester", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": BY_RECENCY_INDEX,
                "KeySchema": [
                    {"AttributeName": "listing", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    }


def audit_table_definition(name: str) -> dict[str, Any]:
    """create_table arguments for the append-only audit table."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": OPERATION_KEY, "AttributeType": "S"},
            {"AttributeName": AUDIT_SORT_KEY, "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": OPERATION_KEY, "KeyType": "HASH"},
            {"AttributeName": AUDIT_SORT_KEY, "KeyType": "RANGE"},
        ],
    }


def create_tables(dynamodb: Any, operations_table: str, audit_table: str) -> None:
    """Create both tables (tests and the local stack; on AWS the CDK app owns them)."""
    dynamodb.create_table(**operations_table_definition(operations_table))
    dynamodb.create_table(**audit_table_definition(audit_table))
    for table in (operations_table, audit_table):
        dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
