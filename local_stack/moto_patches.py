"""Every change the local stack makes to moto's behaviour, each with the reason.

moto is pinned exactly in pyproject.toml because these patches reach into its internals.
`install(...)` patches moto for one running local stack (one per process); `uninstall()` puts
moto back, so tests that use plain moto in the same process see plain moto.

Progress delivery needs no patch: moto implements FIFO topics, FIFO subscriptions of FIFO queues
(group and deduplication ids passed on), raw delivery and redrive policies; the event source
mapping that moto would run inside Publish is played by local_stack/queue_poller.py instead.
"""

from __future__ import annotations

import functools
import inspect
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from botocore.credentials import Credentials
from moto.awslambda.models import LambdaFunction
from moto.core.config import default_user_config
from moto.core.responses import BaseResponse
from moto.rds.exceptions import RDSClientError
from moto.rds.models import DBCluster, RDSBackend

from local_stack import (
    dynamodb_atomic,
    iam_enforcement,
    rds_timeline,
    secrets_rules,
    stepfunctions_role,
)
from local_stack import rds_rules as rds_rules_module
from local_stack.faults import AwsFaults
from local_stack.lambda_runtime import LambdaRuntime
from local_stack.postgres import ClusterDatabases, snapshot_database_name
from local_stack.rds_rules import RdsRules

_state: dict[str, Any] = {}
_saved: list[tuple[type, str, Any]] = []  # (class, attribute, original) in patch order
_ABSENT = object()  # marks an attribute the class inherited rather than defined
# RDS actions the stack can throttle or fail (see faults.py); each answers `Throttling` or the
# injected error while a fault is due.
THROTTLEABLE = (
    "restore_db_cluster_from_snapshot",
    "create_db_instance",
    "delete_db_cluster",
    "delete_db_instance",
    "copy_db_cluster_snapshot",
    "delete_db_cluster_snapshot",
    "describe_db_clusters",
    "describe_db_cluster_snapshots",
    "modify_db_cluster",
    "modify_db_instance",
    "stop_db_cluster",
)


def install(
    runtime: LambdaRuntime,
    faults: AwsFaults,
    databases: ClusterDatabases | None = None,
    rds_rules: RdsRules | None = None,
    role_sessions: Mapping[str, Credentials] | None = None,
) -> None:
    """Patch moto for one running local stack; `uninstall()` puts moto back as it was.
    `role_sessions` (role ARN -> a session of it) holds the state machine's role."""
    if _saved:
        raise RuntimeError("a local stack is already running in this process")
    _state.update(runtime=runtime, faults=faults, databases=databases)
    _state["stepfunctions_config"] = default_user_config.get("stepfunctions")
    # moto only records executions unless told to interpret the ASL; this runs the real definition.
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    dynamodb_atomic.install()  # conditional writes as atomic as DynamoDB's
    _install_data_hooks()
    # What RDS refuses and how long its statuses last (rds_rules.py). Outside the data hooks, so
    # a refused call changes no data; inside the faults, so an injected status wins.
    rds_rules_module.install(_patch, rds_rules or RdsRules())
    secrets_rules.install(_patch)  # AWSCURRENT moved is what GetSecretValue answers
    # moto checks IAM for actions only (and compares scoped grants with "*"): a call signed with
    # a function role's session is authorized as AWS would, action and resource ARN.
    _patch(BaseResponse, "call_action", _authorized(BaseResponse.call_action))
    # moto's interpreter invokes Lambda tasks with a fixed key IAM never checks: with a session
    # of the state machine's role instead, refused as Step Functions reports it.
    stepfunctions_role.install(_patch, role_sessions if role_sessions is not None else {})
    # moto runs Lambda code in Docker, which this machine (and many CI runners) lacks: send
    # invocations to the project's handlers in process instead.
    _patch(LambdaFunction, "invoke", _invoke_in_process)
    # moto keeps a deleted cluster's automated snapshots; RDS deletes them with the cluster, and
    # a cluster restored under the same name would otherwise collide with `rds:<name>-<minute>`.
    _patch(RDSBackend, "delete_db_cluster", _drop_automated_snapshots(RDSBackend.delete_db_cluster))
    # Fault injection: moto has no way to make AWS answer "Throttling" or a restore fail.
    for action in THROTTLEABLE:
        _patch(RDSBackend, action, _throttleable(action, getattr(RDSBackend, action)))
    _patch(
        RDSBackend,
        "restore_db_cluster_from_snapshot",
        _with_restore_status(RDSBackend.restore_db_cluster_from_snapshot),
    )
    _patch(
        RDSBackend,
        "copy_db_cluster_snapshot",
        _with_copy_stall(RDSBackend.copy_db_cluster_snapshot),
    )


def uninstall() -> None:
    while _saved:
        owner, name, original = _saved.pop()
        if original is _ABSENT:
            delattr(owner, name)  # it was inherited; the base class's attribute shows again
        else:
            setattr(owner, name, original)
    previous = _state.get("stepfunctions_config")
    if previous is None:
        default_user_config.pop("stepfunctions", None)
    else:
        default_user_config["stepfunctions"] = previous
    _state.clear()
    rds_timeline.use(None)


def _patch(owner: type, name: str, replacement: Any) -> None:
    _saved.append((owner, name, owner.__dict__.get(name, _ABSENT)))
    setattr(owner, name, replacement)


def _authorized(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def call_action(self: BaseResponse) -> Any:
        refusal = iam_enforcement.authorize(self)
        return refusal if refusal is not None else original(self)

    return call_action


def _drop_automated_snapshots(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def delete_db_cluster(
        self: RDSBackend, cluster_identifier: str, snapshot_name: str | None = None
    ) -> DBCluster:
        cluster = original(self, cluster_identifier, snapshot_name)
        for snapshot_id, snapshot in list(self.cluster_snapshots.items()):
            if (
                snapshot.snapshot_type == "automated"
                and snapshot.db_cluster_identifier == cluster_identifier
            ):
                del self.cluster_snapshots[snapshot_id]
        return cluster

    return delete_db_cluster


def _with_restore_status(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def restore_db_cluster_from_snapshot(self: RDSBackend, *args: Any, **kwargs: Any) -> Any:
        cluster = original(self, *args, **kwargs)
        status = _faults().take_restore_status()
        if status:
            cluster.status = status
        return cluster

    return restore_db_cluster_from_snapshot


def _with_copy_stall(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def copy_db_cluster_snapshot(self: RDSBackend, *args: Any, **kwargs: Any) -> Any:
        copy = original(self, *args, **kwargs)
        if _faults().take_copy_stall():
            rds_timeline.current().forget(copy)  # stays `copying`, its progress where it is
        return copy

    return copy_db_cluster_snapshot


def _runtime() -> LambdaRuntime:
    runtime: LambdaRuntime = _state["runtime"]
    return runtime


def _faults() -> AwsFaults:
    faults: AwsFaults = _state["faults"]
    return faults


def _throttleable(action: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def call(self: RDSBackend, *args: Any, **kwargs: Any) -> Any:
        if _faults().take_throttle(action):
            raise RDSClientError("Throttling", "Rate exceeded")
        failure = _faults().take_failure(action)  # a permanent error, from AwsFaults.fail
        if failure is not None:
            raise RDSClientError(failure.code, failure.message)
        return original(self, *args, **kwargs)

    return call


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


def _databases() -> ClusterDatabases | None:
    databases: ClusterDatabases | None = _state.get("databases")
    return databases


_originals: dict[str, Callable[..., Any]] = {}
_DATA_LOCK = threading.Lock()


def _install_data_hooks() -> None:
    """moto's clusters hold no data; the local stack's do. Each RDS action that creates, copies,
    restores or deletes data, or resets the master password, does the same to the local
    PostgreSQL database that serves the cluster or snapshot (local_stack/postgres.py)."""
    for name, hook in _DATA_HOOKS.items():
        _patch(RDSBackend, name, _with_data_hook(getattr(RDSBackend, name), hook))


DataHook = Callable[[ClusterDatabases, dict[str, Any], Any], None]


def _with_data_hook(original: Callable[..., Any], hook: DataHook) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def call(self: RDSBackend, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        # moto consumes some arguments (modify_db_cluster's kwargs mapping): copy them first,
        # as plain dicts keyed by the snake_case names moto's parameter mappings iterate as.
        arguments = {
            key: {name: value[name] for name in value} if isinstance(value, Mapping) else value
            for key, value in bound.arguments.items()
        }
        result = original(self, *args, **kwargs)
        data = _databases()
        if data is not None:
            # moto serves requests on many threads, and roles belong to the whole PostgreSQL
            # server: two restores resetting the same master role at once would fail with
            # "tuple concurrently updated", which RDS never answers. One data change at a time.
            with _DATA_LOCK:
                hook(data, arguments, result)
        return result

    return call


def _on_snapshot(data: ClusterDatabases, args: dict[str, Any], _: Any) -> None:
    if data.serves(args["db_cluster_identifier"]):
        data.on_snapshot(args["db_cluster_identifier"], args["db_cluster_snapshot_identifier"])


def _on_copy(data: ClusterDatabases, args: dict[str, Any], _: Any) -> None:
    source = args["source_db_cluster_snapshot_identifier"]
    if data.server.database_exists(snapshot_database_name(source)):
        data.on_copy_snapshot(source, args["target_db_cluster_snapshot_identifier"])


def _on_restore(data: ClusterDatabases, args: dict[str, Any], cluster: DBCluster) -> None:
    data.on_restore(args["from_snapshot_id"], args["overrides"]["db_cluster_identifier"])
    # One server holds every cluster's roles: the restored cluster gets a master role of its own
    # (RDS would keep the source's name in a separate cluster; names here must differ).
    cluster.master_username = data.give_own_master(cluster.db_cluster_identifier)


def _on_modify(data: ClusterDatabases, args: dict[str, Any], _: Any) -> None:
    cluster_id = args["kwargs"]["db_cluster_identifier"]
    password = args["kwargs"].get("master_user_password")
    if password and data.serves(cluster_id):
        data.on_master_password(cluster_id, password)
    # The rename rules (outside) leave the new name only on a rename RDS carries out now.
    renamed = args["kwargs"].get("new_db_cluster_identifier")
    if renamed and data.serves(cluster_id):
        data.on_rename(cluster_id, renamed)


_DATA_HOOKS: dict[str, DataHook] = {
    "create_db_cluster_snapshot": _on_snapshot,
    "copy_db_cluster_snapshot": _on_copy,
    "delete_db_cluster_snapshot": lambda data, args, _: data.on_delete_snapshot(
        args["db_snapshot_identifier"]
    ),
    "restore_db_cluster_from_snapshot": _on_restore,
    "modify_db_cluster": _on_modify,
    "delete_db_cluster": lambda data, args, _: data.on_delete(args["cluster_identifier"]),
}
