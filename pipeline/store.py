"""Operation store: operations, the append-only audit log and (pipeline.target_locks) per-target
locks in DynamoDB. Status changes go through pipeline.lifecycle, which calls `transition`.

Every status change is a conditional write, so double clicks, retries and races act once: the loser
gets a specific domain error instead of silently overwriting the winner.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.aws_errors import aws_call, is_code
from pipeline.errors import (
    AlreadyDecidedError,
    InvalidTransitionError,
    OperationExistsError,
    OperationNotFoundError,
)
from pipeline.models import (
    AuditEvent,
    Operation,
    OperationStatus,
    RestoreRequest,
    Stage,
    StageRecord,
    StageStatus,
    utc_now,
    validate_operation_id,
)
from pipeline.store_items import CONDITION_FAILED, from_item, to_item
from pipeline.store_schema import (
    AUDIT_SORT_KEY,
    BY_RECENCY_INDEX,
    BY_REQUESTER_INDEX,
    OPERATION_KEY,
    RECENCY_PARTITION,
    TTL_ATTRIBUTE,
)
from pipeline.target_locks import TargetLocks


class OperationStore(TargetLocks):
    """All reads and writes of operations, audit events and (TargetLocks) target locks."""

    def __init__(
        self,
        dynamodb: Any,
        operations_table: str,
        audit_table: str,
        *,
        audit_retention_days: int = 365,
    ) -> None:
        self._db = dynamodb
        self._operations = operations_table
        self._audit = audit_table
        self._audit_retention = timedelta(days=audit_retention_days)

    # ----- operations -------------------------------------------------------------------------
    def create(
        self,
        operation_id: str,
        request: RestoreRequest,
        *,
        required_approvals: int = 1,
        approval_expires_at: datetime | None = None,
        now: datetime | None = None,
    ) -> Operation:
        """Store a new operation in PENDING_APPROVAL; a second create with the same id fails."""
        moment = now or utc_now()
        operation = Operation(
            operation_id=operation_id,
            status=OperationStatus.PENDING_APPROVAL,
            request=request,
            required_approvals=required_approvals,
            created_at=moment,
            updated_at=moment,
            approval_expires_at=approval_expires_at,
        )
        item = operation.model_dump(mode="json")
        item.update(
            requester=request.requester, listing=RECENCY_PARTITION, target=request.target_cluster
        )
        try:
            with aws_call("store operation"):
                self._db.put_item(
                    TableName=self._operations,
                    Item=to_item(item),
                    ConditionExpression="attribute_not_exists(#pk)",
                    ExpressionAttributeNames={"#pk": OPERATION_KEY},
                )
        except Exception as exc:
            if is_code(exc.__cause__ or exc, CONDITION_FAILED):
                raise OperationExistsError(f"operation {operation_id} already exists") from exc
            raise
        return operation

    def get(self, operation_id: str) -> Operation:
        try:
            validate_operation_id(operation_id)
        except ValueError:
            # Not an id (a button value, a lock or delivery marker sharing the table): no operation.
            raise OperationNotFoundError(f"no operation has the id `{operation_id}`") from None
        with aws_call("read operation"):
            answer = self._db.get_item(
                TableName=self._operations,
                Key={OPERATION_KEY: {"S": operation_id}},
                ConsistentRead=True,
            )
        if "Item" not in answer:
            raise OperationNotFoundError(f"no operation has the id `{operation_id}`")
        return Operation.model_validate(from_item(answer["Item"]))

    def update(self, operation_id: str, **fields: Any) -> Operation:
        """Set fields on an existing operation without changing its status."""
        return self._write(operation_id, fields, expected=None)

    def update_while(
        self, operation_id: str, statuses: Iterable[OperationStatus], **fields: Any
    ) -> Operation:
        """Set fields without changing the status, only while it is one of `statuses`
        (InvalidTransitionError otherwise)."""
        return self._write(operation_id, fields, expected=set(statuses))

    def transition(
        self,
        operation_id: str,
        to_status: OperationStatus,
        *,
        expected: Iterable[OperationStatus],
        condition: tuple[str, dict[str, str], dict[str, Any]] | None = None,
        **fields: Any,
    ) -> Operation:
        """Move to `to_status` only if the current status is one of `expected` (first writer
        wins) and `condition`, when given, holds."""
        return self._write(
            operation_id,
            {"status": to_status, **fields},
            expected=set(expected),
            condition=condition,
        )

    def record_stage(self, operation_id: str, stage: Stage, record: StageRecord) -> Operation:
        return self._write(
            operation_id, {f"stages.{stage}": record, "current_stage": stage}, expected=None
        )

    def start_stage(self, operation_id: str, stage: Stage, record: StageRecord) -> bool:
        """Record a stage's start unless it has started or ended meanwhile (a concurrent retry,
        or its end racing its start): False then, and the stored record is left alone."""
        unstarted = (
            "(attribute_not_exists(#stages.#stage) OR #stages.#stage.#stage_status = :failed)",
            {"#stages": "stages", "#stage": str(stage), "#stage_status": "status"},
            {":failed": str(StageStatus.FAILED)},
        )
        try:
            self._write(
                operation_id,
                {f"stages.{stage}": record, "current_stage": stage},
                expected=None,
                condition=unstarted,
            )
        except InvalidTransitionError:
            return False
        return True

    def mark_announced(self, operation_id: str, stage: Stage) -> None:
        """The stage's latest event was published: a retried invocation need not publish it."""
        self._write(operation_id, {f"stages.{stage}.announced": True}, expected=None)

    def _write(
        self,
        operation_id: str,
        fields: Mapping[str, Any],
        *,
        expected: set[OperationStatus] | None,
        condition: tuple[str, dict[str, str], dict[str, Any]] | None = None,
    ) -> Operation:
        names: dict[str, str] = {"#pk": OPERATION_KEY}
        values: dict[str, Any] = {}
        assignments = []
        for index, (path, value) in enumerate({**fields, "updated_at": utc_now()}.items()):
            parts = []
            for depth, part in enumerate(path.split(".")):
                names[f"#f{index}_{depth}"] = part
                parts.append(f"#f{index}_{depth}")
            values[f":v{index}"] = value
            assignments.append(f"{'.'.join(parts)} = :v{index}")
        # Named sub-conditions: the operation exists, and (for transitions) its status is expected.
        conditions = ["attribute_exists(#pk)"]
        if expected is not None:
            placeholders = []
            for index, status in enumerate(sorted(expected)):
                values[f":s{index}"] = str(status)
                placeholders.append(f":s{index}")
            names["#status"] = "status"
            conditions.append(f"#status IN ({', '.join(placeholders)})")
        if condition is not None:
            clause, extra_names, extra_values = condition
            conditions.append(clause)
            names.update(extra_names)
            values.update(extra_values)
        try:
            with aws_call("update operation"):
                answer = self._db.update_item(
                    TableName=self._operations,
                    Key={OPERATION_KEY: {"S": operation_id}},
                    UpdateExpression="SET " + ", ".join(assignments),
                    ConditionExpression=" AND ".join(conditions),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=to_item(values),
                    ReturnValues="ALL_NEW",
                )
        except Exception as exc:
            if is_code(exc.__cause__ or exc, CONDITION_FAILED):
                current = self.get(operation_id)  # raises OperationNotFoundError when absent
                wanted = fields.get("status", "update")
                raise InvalidTransitionError(
                    f"operation {operation_id} is {current.status}; cannot move to {wanted}",
                    current_status=current.status,
                ) from exc
            raise
        return Operation.model_validate(from_item(answer["Attributes"]))

    def add_approval(self, operation_id: str, approver: str) -> Operation:
        """Record one approver while the operation waits; the same person cannot count twice."""
        try:
            with aws_call("record approval"):
                answer = self._db.update_item(
                    TableName=self._operations,
                    Key={OPERATION_KEY: {"S": operation_id}},
                    UpdateExpression="SET approvers = list_append(approvers, :one), updated_at = :now",
                    ConditionExpression=(
                        "attribute_exists(#pk) AND #status = :pending AND NOT contains(approvers, :who)"
                    ),
                    ExpressionAttributeNames={"#pk": OPERATION_KEY, "#status": "status"},
                    ExpressionAttributeValues=to_item(
                        {
                            ":one": [approver],
                            ":who": approver,
                            ":pending": OperationStatus.PENDING_APPROVAL,
                            ":now": utc_now(),
                        }
                    ),
                    ReturnValues="ALL_NEW",
                )
        except Exception as exc:
            if is_code(exc.__cause__ or exc, CONDITION_FAILED):
                current = self.get(operation_id)
                if current.status != OperationStatus.PENDING_APPROVAL:
                    raise AlreadyDecidedError(
                        f"operation {operation_id} was already decided ({current.status})"
                    ) from exc
                raise AlreadyDecidedError(
                    f"{approver} has already approved {operation_id}"
                ) from exc
            raise
        return Operation.model_validate(from_item(answer["Attributes"]))

    # ----- task token (stored here and nowhere else) ---------------------------------------------
    def save_task_token(self, operation_id: str, token: str) -> None:
        with aws_call("store task token"):
            self._db.update_item(
                TableName=self._operations,
                Key={OPERATION_KEY: {"S": operation_id}},
                UpdateExpression="SET task_token = :t",
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#pk": OPERATION_KEY},
                ExpressionAttributeValues={":t": {"S": token}},
            )

    def task_token(self, operation_id: str) -> str | None:
        with aws_call("read task token"):
            answer = self._db.get_item(
                TableName=self._operations,
                Key={OPERATION_KEY: {"S": operation_id}},
                ProjectionExpression="task_token",
                ConsistentRead=True,
            )
        token = answer.get("Item", {}).get("task_token", {}).get("S")
        return str(token) if token else None

    # ----- queries ------------------------------------------------------------------------------
    def recent(self, limit: int = 10) -> list[Operation]:
        return self._query(BY_RECENCY_INDEX, "listing", RECENCY_PARTITION, limit)

    def recent_for_requester(self, requester: str, limit: int = 10) -> list[Operation]:
        return self._query(BY_REQUESTER_INDEX, "requester", requester, limit)

    def _query(self, index: str, key: str, value: str, limit: int) -> list[Operation]:
        with aws_call("list operations"):
            answer = self._db.query(
                TableName=self._operations,
                IndexName=index,
                KeyConditionExpression="#k = :v",
                ExpressionAttributeNames={"#k": key},
                ExpressionAttributeValues={":v": {"S": value}},
                ScanIndexForward=False,
                Limit=limit,
            )
        return [Operation.model_validate(from_item(item)) for item in answer.get("Items", [])]

    # ----- audit --------------------------------------------------------------------------------
    def audit(
        self,
        operation_id: str,
        actor: str,
        action: str,
        detail: Mapping[str, Any] | None = None,
        *,
        now: datetime | None = None,
    ) -> AuditEvent:
        """Append one audit event; the key is time-ordered and never overwritten."""
        moment = now or utc_now()
        event = AuditEvent(
            operation_id=operation_id,
            at=moment,
            actor=actor,
            action=action,
            detail=dict(detail or {}),
        )
        item = event.model_dump(mode="json")
        item[AUDIT_SORT_KEY] = f"{moment.astimezone(UTC).isoformat()}#{secrets.token_hex(4)}"
        item[TTL_ATTRIBUTE] = int((moment + self._audit_retention).timestamp())
        with aws_call("append audit event"):
            self._db.put_item(
                TableName=self._audit,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(#sk)",
                ExpressionAttributeNames={"#sk": AUDIT_SORT_KEY},
            )
        return event

    def audit_events(self, operation_id: str) -> list[AuditEvent]:
        events: list[AuditEvent] = []
        kwargs: dict[str, Any] = {
            "TableName": self._audit,
            "KeyConditionExpression": "#pk = :id",
            "ExpressionAttributeNames": {"#pk": OPERATION_KEY},
            "ExpressionAttributeValues": {":id": {"S": operation_id}},
            "ConsistentRead": True,
        }
        while True:
            with aws_call("read audit events"):
                answer = self._db.query(**kwargs)
            events.extend(AuditEvent.model_validate(from_item(i)) for i in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return events
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
