"""Runs the project's real Lambda handlers in process, the way the Lambda service would call them.

The local stack registers each deployed function name with its handler; moto's Lambda invoke (see
moto_patches.py) hands invocations here instead of to Docker.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from botocore.credentials import Credentials

from local_stack import iam_credentials

Handler = Callable[[Any, Any], Any]
FailureDestination = Callable[[str], None]  # sends one invocation record (JSON) somewhere
log = logging.getLogger(__name__)

# Lambda retries a failed asynchronous invocation twice (AWS documents 1 minute, then 2 minutes).
ASYNC_RETRIES = 2
ASYNC_RETRY_DELAYS_SECONDS = (60.0, 120.0)


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of Lambda's context object that our handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    deadline_ms: int = field(default_factory=lambda: int(time.time() * 1000) + 900_000)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


@dataclass
class FunctionResult:
    payload: bytes
    error_type: str | None = None


class LambdaRuntime:
    """Function name → handler, with synchronous and asynchronous (retried) invocation."""

    def __init__(self, *, account: str, region: str, time_scale: float = 1.0) -> None:
        self._account = account
        self._region = region
        self._time_scale = time_scale
        self._handlers: dict[str, Handler] = {}
        self._credentials: dict[str, Credentials] = {}
        self._on_failure: dict[str, FailureDestination] = {}
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="lambda-async")
        self._pending = 0
        self._idle = threading.Condition()
        self.failed_async: list[tuple[str, dict[str, Any], str]] = []  # the dead-letter record

    def register(self, function_name: str, handler: Handler | str) -> None:
        """Register a callable or a `module.attribute` path (imported on first use, like Lambda)."""
        self._handlers[function_name] = handler if callable(handler) else _lazy(handler)

    def run_as(self, function_name: str, credentials: Credentials) -> None:
        """Every invocation of this function signs its AWS calls with these (its role's)."""
        self._credentials[function_name] = credentials

    def acting_as(self, function_name: str) -> AbstractContextManager[None]:
        """Run a block with the function's role, as Lambda does for what it does on the
        function's behalf (its event source mappings, its on-failure destination)."""
        return iam_credentials.acting_as(self._credentials.get(function_name))

    def session(self, session_token: str) -> Credentials | None:
        """The role credentials of the function whose session token this is, if any (how the
        Parameters and Secrets extension knows its caller: local_stack/secrets_extension.py)."""
        for credentials in self._credentials.values():
            if session_token and credentials.token == session_token:
                return credentials
        return None

    def credential_variables(self, function_name: str) -> dict[str, str]:
        """The credential variables Lambda sets in this function's environment: what a process
        playing one of its containers needs (bench/cold_start.py)."""
        credentials = self._credentials[function_name].get_frozen_credentials()
        return {
            "AWS_ACCESS_KEY_ID": credentials.access_key,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
            "AWS_SESSION_TOKEN": credentials.token or "",
        }

    def send_failures_to(self, function_name: str, destination: FailureDestination) -> None:
        """An on-failure destination: where an asynchronous invocation goes once its retries are
        exhausted, sent with the function's own role, as Lambda does."""
        self._on_failure[function_name] = destination

    def knows(self, function_name: str) -> bool:
        return function_name in self._handlers

    def invoke(self, function_name: str, event: Any) -> FunctionResult:
        """A RequestResponse invocation: the handler's result, or Lambda's error payload."""
        handler = self._handlers[function_name]
        context = LambdaContext(
            function_name=function_name, invoked_function_arn=self._arn(function_name)
        )
        try:
            with self.acting_as(function_name):
                result = handler(event, context)
        except Exception as exc:  # Lambda reports any unhandled exception as a function error
            payload = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_tb(exc.__traceback__)[-3:],
            }
            return FunctionResult(json.dumps(payload).encode(), error_type=type(exc).__name__)
        return FunctionResult(json.dumps(result).encode())

    def invoke_async(self, function_name: str, event: Any) -> None:
        """An Event invocation: queued, run in the background, retried twice on error."""
        with self._idle:
            self._pending += 1
        self._pool.submit(self._run_async, function_name, event)

    def _run_async(self, function_name: str, event: Any) -> None:
        try:
            for attempt in range(ASYNC_RETRIES + 1):
                result = self.invoke(function_name, event)
                if result.error_type is None:
                    return
                log.warning("async invocation of %s failed: %s", function_name, result.error_type)
                if attempt < ASYNC_RETRIES:
                    time.sleep(ASYNC_RETRY_DELAYS_SECONDS[attempt] * self._time_scale)
            self.failed_async.append((function_name, event, result.payload.decode()))
            self._send_to_destination(function_name, event, result)
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _send_to_destination(self, function_name: str, event: Any, result: FunctionResult) -> None:
        destination = self._on_failure.get(function_name)
        if destination is None:
            return
        record = invocation_record(self._arn(function_name), event, result, ASYNC_RETRIES + 1)
        try:
            with self.acting_as(function_name):
                destination(json.dumps(record))
        except Exception:  # Lambda, too, can fail to deliver a record: it is then lost
            log.exception("the on-failure destination of %s refused the record", function_name)

    def _arn(self, function_name: str) -> str:
        return f"arn:aws:lambda:{self._region}:{self._account}:function:{function_name}"

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no asynchronous invocation is queued or running (bounded)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _lazy(path: str) -> Handler:
    module_name, _, attribute = path.rpartition(".")
    loaded: list[Handler] = []

    def call(event: Any, context: Any) -> Any:
        if not loaded:
            loaded.append(getattr(importlib.import_module(module_name), attribute))
        return loaded[0](event, context)

    return call


def invocation_record(
    function_arn: str, event: Any, result: FunctionResult, attempts: int
) -> dict[str, Any]:
    """The record Lambda sends to an on-failure destination
    (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html)."""
    return {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": json.loads(result.payload),
    }
