"""Every change the local stack makes to moto's behaviour, each with the reason.

moto is pinned exactly in pyproject.toml because these patches reach into its internals.
Install them with `install(runtime)`; they stay installed for the process and consult the runtime
given last (one local stack per process).
"""

from __future__ import annotations

import json
from typing import Any

from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.core.config import default_user_config
from moto.rds.models import DBCluster, RDSBackend

from local_stack.lambda_runtime import LambdaRuntime

_state: dict[str, LambdaRuntime] = {}
_installed: list[bool] = []


def install(runtime: LambdaRuntime) -> None:
    _state["runtime"] = runtime
    if _installed:
        return
    _installed.append(True)
    # moto only records executions unless told to interpret the ASL; this runs the real definition.
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    # moto runs Lambda code in Docker, which this machine (and many CI runners) lacks: send
    # invocations to the project's handlers in process instead.
    LambdaFunction.invoke = _invoke_in_process  # type: ignore[method-assign]
    # moto delivers SNS to Lambda synchronously inside Publish; AWS invokes the subscriber
    # asynchronously (with Lambda's retries), so the publisher never waits for or fails with it.
    LambdaBackend.send_sns_message = _send_sns_message_async  # type: ignore[method-assign]
    # moto keeps a deleted cluster's automated snapshots; RDS deletes them with the cluster, and
    # a cluster restored under the same name would otherwise collide with `rds:<name>-<minute>`.
    _original_delete = RDSBackend.delete_db_cluster

    def delete_db_cluster(
        self: RDSBackend, cluster_identifier: str, snapshot_name: str | None = None
    ) -> DBCluster:
        cluster = _original_delete(self, cluster_identifier, snapshot_name)
        for snapshot_id, snapshot in list(self.cluster_snapshots.items()):
            if (
                snapshot.snapshot_type == "automated"
                and snapshot.db_cluster_identifier == cluster_identifier
            ):
                del self.cluster_snapshots[snapshot_id]
        return cluster

    RDSBackend.delete_db_cluster = delete_db_cluster  # type: ignore[method-assign]


def _runtime() -> LambdaRuntime:
    return _state["runtime"]


def _invoke_in_process(
    self: LambdaFunction, body: str, request_headers: Any, response_headers: Any
) -> bytes:
    runtime = _runtime()
    event = json.loads(body) if body else {}
    invocation_type = (request_headers or {}).get("x-amz-invocation-type") or (
        request_headers or {}
    ).get("X-Amz-Invocation-Type", "RequestResponse")
    if invocation_type == "Event":
        runtime.invoke_async(self.function_name, event)
        return b""
    result = runtime.invoke(self.function_name, event)
    if result.error_type is not None:
        response_headers["x-amz-function-error"] = "Unhandled"
    return result.payload


def _send_sns_message_async(
    self: LambdaBackend,
    function_name: str,
    message: str,
    subject: str | None = None,
    qualifier: str | None = None,
) -> None:
    event = {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSource": "aws:sns",
                "Sns": {"Type": "Notification", "Message": message, "Subject": subject},
            }
        ]
    }
    _runtime().invoke_async(function_name, event)
