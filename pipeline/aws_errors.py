"""Translate botocore errors into this project's retryable or fatal errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.errors import AwsThrottledError, FatalError, ResourceBusyError

# Error codes AWS documents as transient; retrying the same call later succeeds.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalError",
    }
)
# RDS answers these while a resource is mid-transition.
BUSY_CODES = frozenset(
    {
        "InvalidDBClusterStateFault",
        "InvalidDBInstanceState",
        "InvalidDBInstanceStateFault",
        "InvalidDBClusterSnapshotStateFault",
        "SnapshotQuotaExceeded",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_code(exc: BaseException, *codes: str) -> bool:
    return isinstance(exc, ClientError) and error_code(exc) in codes


@contextmanager
def aws_call(
    action: str, *, fatal: Callable[[ClientError], FatalError] | None = None
) -> Iterator[None]:
    """Run AWS calls, turning their errors into typed errors that keep the AWS error text."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        text = f"{code}: {exc.response.get('Error', {}).get('Message', '')}"
        if code in THROTTLING_CODES:
            raise AwsThrottledError(f"{action}: AWS throttled the call", aws_error=text) from exc
        if code in BUSY_CODES:
            raise ResourceBusyError(f"{action}: resource busy", aws_error=text) from exc
        if fatal is not None:
            raise fatal(exc) from exc
        raise FatalError(f"{action} failed: {text}", aws_error=text) from exc
    except BotoCoreError as exc:
        raise AwsThrottledError(f"{action}: AWS unreachable", aws_error=str(exc)) from exc
