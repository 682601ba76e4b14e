"""Target locks: one item per target cluster in the operations table, taken with a conditional
write when a request is accepted, renewed while its restore runs and released (by
pipeline.lifecycle) on every terminal outcome; the expiry is a safety net for a restore that died.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline.aws_errors import aws_call, is_code
from pipeline.errors import TargetLockedError
from pipeline.models import utc_now
from pipeline.store_items import CONDITION_FAILED, to_item
from pipeline.store_schema import LOCK_PREFIX, OPERATION_KEY, TTL_ATTRIBUTE


class TargetLocks:
    """The lock methods of OperationStore, on its client and operations table."""

    _db: Any
    _operations: str

    def acquire_lock(
        self,
        target_cluster: str,
        operation_id: str,
        *,
        ttl_seconds: int,
        now: datetime | None = None,
    ) -> None:
        """Take the target's lock; an expired lock (safety net) may be taken over."""
        moment = now or utc_now()
        key = LOCK_PREFIX + target_cluster
        try:
            with aws_call("lock target"):
                self._db.put_item(
                    TableName=self._operations,
                    Item=to_item(
                        {
                            OPERATION_KEY: key,
                            "holder": operation_id,
                            "taken_at": moment,
                            TTL_ATTRIBUTE: int(moment.timestamp()) + ttl_seconds,
                        }
                    ),
                    ConditionExpression="attribute_not_exists(#pk) OR #exp < :now OR holder = :me",
                    ExpressionAttributeNames={"#pk": OPERATION_KEY, "#exp": TTL_ATTRIBUTE},
                    ExpressionAttributeValues={
                        ":now": {"N": str(int(moment.timestamp()))},
                        ":me": {"S": operation_id},
                    },
                )
        except Exception as exc:
            if is_code(exc.__cause__ or exc, CONDITION_FAILED):
                holder = self.lock_holder(target_cluster)
                raise TargetLockedError(
                    f"`{target_cluster}` is locked by operation {holder}", holder=holder
                ) from exc
            raise

    def release_lock(self, target_cluster: str, operation_id: str) -> bool:
        """Release the lock if this operation holds it; True when released, False if not held."""
        try:
            with aws_call("unlock target"):
                self._db.delete_item(
                    TableName=self._operations,
                    Key={OPERATION_KEY: {"S": LOCK_PREFIX + target_cluster}},
                    ConditionExpression="holder = :me",
                    ExpressionAttributeValues={":me": {"S": operation_id}},
                )
        except Exception as exc:
            if is_code(exc.__cause__ or exc, CONDITION_FAILED):
                return False
            raise
        return True

    def lock_holder(self, target_cluster: str) -> str | None:
        with aws_call("read target lock"):
            answer = self._db.get_item(
                TableName=self._operations,
                Key={OPERATION_KEY: {"S": LOCK_PREFIX + target_cluster}},
                ConsistentRead=True,
            )
        item = answer.get("Item")
        if not item:
            return None
        if int(item[TTL_ATTRIBUTE]["N"]) < int(utc_now().timestamp()):
            return None
        return str(item["holder"]["S"])
