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

# An answer throttled or unreachable after botocore's own retries: try again, spaced out,
# before giving up (a lost hand-off leaves an approved restore waiting until it expires). The
# lazy listener that runs this has two minutes.
HANDOFF_RETRY_DELAYS = (1.0, 3.0, 9.0)


class TaskAnswer(StrEnum):
    """How Step Functions took the answer (its SendTaskSuccess / SendTaskFailure errors)."""

    ANSWERED = "answered"
    # TaskTimedOut: "The task token has either expired or the task associated with the token
    # has already been closed."
    CLOSED = "closed"
    # InvalidToken: "The provided token is not valid."; TaskDoesNotExist. No workflow waits for
    # this token: its execution ended without a decision (stopped, say), or the token is damaged.
    TASK_UNKNOWN = "task_unknown"


_ANSWERS_BY_CODE = {
    "TaskTimedOut": TaskAnswer.CLOSED,
    "InvalidToken": TaskAnswer.TASK_UNKNOWN,
    "TaskDoesNotExist": TaskAnswer.TASK_UNKNOWN,
}


class TaskError(StrEnum):
    """The error names the state machine's Catch matches (docs/contracts.md)."""

    DENIED = "ApprovalDenied"
    CANCELLED = "RestoreCancelled"


def send_task_success(
    deps: BotDependencies,
    token: str,
    approvers: list[str],
) -> TaskAnswer:
    """ANSWERED, or why the workflow no longer waits for this token. Transient failures are
    retried (HANDOFF_RETRY_DELAYS); the last one is raised, typed (RetryableError), as is any
    other refusal (FatalError: AccessDenied, the state machine's KMS key)."""
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
) -> TaskAnswer:
    return _answer_task(
        "tell the workflow (SendTaskFailure)",
        lambda: deps.stepfunctions.send_task_failure(
            taskToken=token, error=str(error), cause=cause
        ),
    )


def _answer_task(action: str, call: Callable[[], object]) -> TaskAnswer:
    """Answer a task token, retried while the failure is transient (AWS throttling, 5xx,
    unreachable), the last failure raised typed."""
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
            cause = exc.__cause__ or exc
            late = next((a for c, a in _ANSWERS_BY_CODE.items() if is_code(cause, c)), None)
            if late is None:
                raise
            return late
        return TaskAnswer.ANSWERED
    raise AssertionError("unreachable: the last attempt returns or raises")
