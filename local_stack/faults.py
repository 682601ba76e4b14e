"""Faults the local stack can inject into emulated AWS, to prove retries and failure paths.

These change the emulated world (AWS answers "Throttling" or a permanent error, a restored cluster
reaches a failure status), never the project's code: the pipeline meets them exactly as it would
on AWS.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class AwsError:
    """An error AWS answers with: its code (e.g. `InvalidParameterValue`) and message."""

    code: str
    message: str


class AwsFaults:
    """Thread-safe fault rules consulted by the moto patches (see moto_patches.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._throttles: dict[str, deque[bool]] = {}  # per action: the next calls, throttled?
        self._failures: dict[str, deque[AwsError]] = {}
        self._restore_status: str | None = None
        self._copy_stalls = 0
        self.injected: Counter[str] = Counter()  # what was actually injected, for assertions

    def throttle(self, rds_action: str, times: int, *, after: int = 0) -> None:
        """The next `times` calls of an RDS backend action (e.g. `restore_db_cluster_from_snapshot`)
        answer `Throttling`, as AWS does under load. `after` lets that many calls through first
        (to reach, say, a wait loop's describe rather than the stage's own); a later rule for the
        same action follows the earlier ones."""
        with self._lock:
            plan = self._throttles.setdefault(rds_action, deque())
            plan.extend([False] * after + [True] * times)

    def fail(self, rds_action: str, code: str, message: str, times: int = 1) -> None:
        """The next `times` calls of an RDS backend action answer the error `code`: a permanent
        failure (e.g. `InvalidParameterValue`) that neither the SDK nor the state machine retries.
        Only the actions the stack can throttle can fail (moto_patches.THROTTLEABLE)."""
        with self._lock:
            self._failures.setdefault(rds_action, deque()).extend([AwsError(code, message)] * times)

    def restored_cluster_status(self, status: str | None) -> None:
        """The next restored cluster reaches this status (e.g. `incompatible-parameters`)."""
        with self._lock:
            self._restore_status = status

    def stall_copies(self, times: int = 1) -> None:
        """The next `times` snapshot copies stay `copying` at 0% and never finish, as a
        cross-Region copy RDS keeps queued ("No progress information is displayed about copy
        requests while they are in the queue", Aurora user guide, USER_CopySnapshot)."""
        with self._lock:
            self._copy_stalls += times

    def take_copy_stall(self) -> bool:
        with self._lock:
            if self._copy_stalls <= 0:
                return False
            self._copy_stalls -= 1
            self.injected["stall:copy_db_cluster_snapshot"] += 1
            return True

    def take_throttle(self, rds_action: str) -> bool:
        with self._lock:
            plan = self._throttles.get(rds_action)
            if not plan or not plan.popleft():
                return False
            self.injected[f"throttle:{rds_action}"] += 1
            return True

    def take_failure(self, rds_action: str) -> AwsError | None:
        with self._lock:
            pending = self._failures.get(rds_action)
            if not pending:
                return None
            error = pending.popleft()
            self.injected[f"fail:{rds_action}"] += 1
            return error

    def take_restore_status(self) -> str | None:
        with self._lock:
            status, self._restore_status = self._restore_status, None
            if status:
                self.injected[f"status:{status}"] += 1
            return status

    def clear(self) -> None:
        with self._lock:
            self._throttles.clear()
            self._failures.clear()
            self._restore_status = None
            self._copy_stalls = 0
