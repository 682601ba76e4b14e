"""How long emulated RDS statuses last: a typical AWS duration times the local stack's time scale.

A call that starts a transition (a restore, a copy, a deletion) sets the resource's status and
records when it ends; every later RDS call first ends what is due (`settle`). With a scale of 0 a
transition ends at the next RDS call. The stack raises the scale from 0 once the seeded world
exists, so the world is available when the first restore starts.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from moto.rds.exceptions import RDSClientError
from moto.rds.models import RDSBackend

# Typical AWS durations in seconds, not documented limits: a restore of a small Aurora cluster
# takes 10-30 minutes (longer than the state machine's ~15-minute Retry budget for a busy
# resource), an instance about 10, a cross-Region copy of a small snapshot about 15.
CLUSTER_CREATE_SECONDS = 1200
INSTANCE_CREATE_SECONDS = 600
INSTANCE_DELETE_SECONDS = 300
CLUSTER_DELETE_SECONDS = 300  # the final snapshot is `creating` as long
CLUSTER_SNAPSHOT_SECONDS = 300  # the cluster is `backing-up` as long
SNAPSHOT_COPY_SECONDS = 900
CLUSTER_MODIFY_SECONDS = 60

AVAILABLE = "available"


@dataclass
class _Transition:
    resource: Any
    status: str  # what the rule set: a later change (a fault, another call) wins over the rule
    started: float
    due: float
    then: str | None  # the status that follows; None: the resource is gone (it was deleting)


class RdsRules:
    """The rules' state for one running local stack (one per process, see moto_patches)."""

    def __init__(self, time_scale: float = 0.0) -> None:
        self.time_scale = time_scale
        # Raised account quotas by name (rds_quotas.py has AWS's defaults), as after an increase.
        self.quotas: dict[str, int] = {}
        self._lock = threading.RLock()
        self._pending: dict[tuple[int, str, str], _Transition] = {}
        # Deleted clusters and instances stay visible as `deleting` until their deletion ends.
        self._deleting: dict[tuple[int, str, str], Any] = {}

    def begin(
        self, backend: RDSBackend, kind: str, name: str, resource: Any, status: str, **how: Any
    ) -> None:
        """`resource` shows `status` for `seconds` (AWS time), then `then` (or goes away)."""
        now = time.monotonic()
        with self._lock:
            resource.status = status
            self._pending[(id(backend), kind, name)] = _Transition(
                resource, status, now, now + how["seconds"] * self.time_scale, how.get("then")
            )
            if how.get("then") is None:
                self._deleting[(id(backend), kind, name)] = resource

    def settle(self, backend: RDSBackend) -> None:
        """End every transition that is due, in every Region (called before each RDS call: a
        copy reads its source in another Region)."""
        now = time.monotonic()
        with self._lock:
            for key, step in list(self._pending.items()):
                if step.resource.status != step.status:  # changed since: the rule lets go
                    del self._pending[key]
                    continue
                if hasattr(step.resource, "percent_progress"):
                    span = max(step.due - step.started, 1e-9)
                    step.resource.percent_progress = min(
                        100, int(100 * (now - step.started) / span)
                    )
                if now < step.due:
                    continue
                del self._pending[key]
                if step.then is None:
                    self._deleting.pop(key, None)
                else:
                    step.resource.status = step.then

    def forget(self, resource: Any) -> None:
        """A status set from outside (a test, a fault) stays: no transition of the rules ends it."""
        with self._lock:
            for key, step in list(self._pending.items()):
                if step.resource is resource:
                    del self._pending[key]

    def deleting(self, backend: RDSBackend, kind: str, name: str | None = None) -> list[Any]:
        with self._lock:
            return [
                resource
                for (owner, found_kind, found_name), resource in self._deleting.items()
                if owner == id(backend) and found_kind == kind and name in (None, found_name)
            ]


_current: list[RdsRules] = []


def use(rules: RdsRules | None) -> None:
    """Make `rules` the ones every patched RDS call consults (None when uninstalled)."""
    _current[:] = [] if rules is None else [rules]


def current() -> RdsRules:
    """The rules of the running local stack (or test) that installed them."""
    return _current[0]


def refuse(code: str, message: str) -> RDSClientError:
    """The error RDS answers, as moto serialises it (code and message)."""
    return RDSClientError(code, message)
