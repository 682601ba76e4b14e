"""Translate botocore errors into this project's retryable or fatal errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.errors import AwsThrottledError, FatalError, ResourceBusyError, SnapshotQuotaError

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
        # Step Functions answering a task token of a KMS-encrypted state machine: "Received
        # when KMS returns ThrottlingException for a KMS call that Step Functions makes".
        "KmsThrottlingException",
    }
)
# RDS answers these while a resource is mid-transition.
BUSY_CODES = frozenset(
    {
        "InvalidDBClusterStateFault",
        "InvalidDBInstanceState",
        "InvalidDBInstanceStateFault",
        "InvalidDBClusterSnapshotStateFault",
    }
)
# Not busy: a quota stays reached until someone deletes snapshots or raises it, far longer than
# any retry. RDS answers it for a manual cluster snapshot beyond the Region's quota (100 by default,
# CreateDBClusterSnapshot, CopyDBClusterSnapshot, DeleteDBCluster's final snapshot) and for a copy
# beyond 5 in progress to the Region (Aurora user guide, CHAP_Limits and USER_CopySnapshot).
SNAPSHOT_QUOTA_CODE = "SnapshotQuotaExceeded"
SNAPSHOT_QUOTA_ADVICE = (
    "RDS keeps at most 100 manual cluster snapshots per Region (a quota you can raise in Service "
    "Quotas) and copies at most 5 snapshots at a time into a Region: delete manual snapshots you "
    "no longer need, or wait for copies in progress to finish, then request the restore again"
)

# Account quotas on clusters and instances (botocore DBClusterQuotaExceededFault,
# InstanceQuotaExceededFault; 40 each per Region by default, Aurora user guide, CHAP_Limits): as
# lasting as the snapshot quota, so fatal with what to do.
ACCOUNT_QUOTA_ADVICE = {
    "DBClusterQuotaExceededFault": (
        "the account has as many DB clusters in this Region as its quota allows (40 by default): "
        "delete clusters you no longer need or raise the quota in Service Quotas, then request "
        "the restore again"
    ),
    "InstanceQuotaExceeded": (
        "the account has as many DB instances in this Region as its quota allows (40 by "
        "default): delete instances you no longer need, ask for fewer with --instances, or raise "
        "the quota in Service Quotas, then request the restore again"
    ),
}


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
        if code == SNAPSHOT_QUOTA_CODE:
            raise SnapshotQuotaError(
                f"{action} refused: {text}. {SNAPSHOT_QUOTA_ADVICE}", aws_error=text
            ) from exc
        if code in ACCOUNT_QUOTA_ADVICE:
            raise FatalError(
                f"{action} refused: {text}. {ACCOUNT_QUOTA_ADVICE[code].capitalize()}",
                aws_error=text,
            ) from exc
        if fatal is not None:
            raise fatal(exc) from exc
        raise FatalError(f"{action} failed: {text}", aws_error=text) from exc
    except BotoCoreError as exc:
        raise AwsThrottledError(f"{action}: AWS unreachable", aws_error=str(exc)) from exc
