"""Answering the workflow's waiting approval task (its task token): SendTaskSuccess when approved,
SendTaskFailure when denied or cancelled. A transient failure is retried before it is raised: a
lost answer leaves a decided request waiting in Step Functions until it expires."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from enum import StrEnum

from bot.deps import BotDependencies
from pipeline.aws_errors import aws_call, is_code
from pipeline.errors import AuroraRestoreError, RetryableError

# Step Functions' answers when the token no longer waits: the task timed out, or was answered.
_LATE_TOKEN_CODES = ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist")
# An answer throttled or unreachable after botocore's own retries: try again, spaced out,
# before giving up (a lost hand-off leaves an approved restore waiting until it expires). The
# lazy listener that runs this has two minutes.
HANDOFF_RETRY_DELAYS = (1.0, 3.0, 9.0)


class TaskError(StrEnum):
    """The error names the state machine's Catch matches (docs/contracts.md)."""

    DENIED = "ApprovalDenied"
    CANCELLED = "RestoreCancelled"


def send_task_success(
    deps: BotDependencies,
    token: str,
    approvers: list[str],
) -> bool:
    """False when the workflow no longer waits for this token (it expired or was answered).
    Transient failures are retried (HANDOFF_RETRY_DELAYS); the last one is raised, typed."""
    output = json.dumps({"approvers": approvers})
    return _answer_task(
        "hand the approval to the workflow (SendTaskSuccess)",
        lambda: deps.stepfunctions.send_task_success(taskToken=token, output=output),
    )


def send_task_failure(
    deps: BotDependencies,
    token: str,
    error: TaskError,
    cause: str,
) -> bool:
    return _answer_task(
        "tell the workflow (SendTaskFailure)",
        lambda: deps.stepfunctions.send_task_failure(
            taskToken=token, error=str(error), cause=cause
        ),
    )


def _answer_task(action: str, call: Callable[[], object]) -> bool:
    """Answer a task token; False when it no longer waits, retried while the failure is
    transient (AWS throttling, 5xx, unreachable), the last failure raised typed."""
    for delay in (*HANDOFF_RETRY_DELAYS, None):
        try:
            with aws_call(action):
                call()
        except RetryableError:
            if delay is None:
                raise
            time.sleep(delay)
            continue
        except AuroraRestoreError as exc:
            if is_code(exc.__cause__ or exc, *_LATE_TOKEN_CODES):
                return False
            raise
        return True
    raise AssertionError("unreachable: the last attempt returns or raises")
