"""One exception class per failure mode.

The state machine's Retry and Catch act on the class name (Lambda reports it as `errorType`), so
retryable failures derive from `RetryableError` and everything else from `FatalError`. Step
Functions matches names exactly, never a base class: `RETRYABLE_ERROR_NAMES` (the end of this
module) is what every Task's Retry lists.
"""

from __future__ import annotations


class AuroraRestoreError(Exception):
    """Base class of every error this project raises on purpose."""

    def __init__(self, message: str, *, aws_error: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.aws_error = aws_error


class RetryableError(AuroraRestoreError):
    """A transient failure: throttling, a resource briefly in the wrong state. Retry later."""


class FatalError(AuroraRestoreError):
    """A failure that retrying cannot fix. The operation fails."""


class InvalidRequestError(FatalError):
    """The request itself is malformed; the message names the field and what is allowed."""


class SnapshotNotFoundError(FatalError):
    """The snapshot reference resolves to no snapshot."""


class SnapshotNotAvailableError(FatalError):
    """The snapshot exists but is not in status `available`."""


class ProtectedClusterError(FatalError):
    """The target is protected (policy pattern, tag or deletion protection) and is never touched."""


class TargetExistsError(FatalError):
    """The target cluster exists and replace was not asked for."""


class RollbackRefusedError(FatalError):
    """The operation cannot be rolled back (not a swap, its kept cluster gone or expired, ...)."""


class SnapshotQuotaError(FatalError):
    """RDS refused a new manual cluster snapshot (quota of the Region or copies in progress)."""


class ResourceFailedError(FatalError):
    """An RDS resource reached a failure status while we waited for it."""


class WaitExhaustedError(FatalError):
    """A wait loop reached its maximum number of attempts."""


class AwsThrottledError(RetryableError):
    """AWS throttled a call or reported a transient fault."""


class ResourceBusyError(RetryableError):
    """An RDS resource is in a transitional state; the call will work a little later."""


class OperationNotFoundError(FatalError):
    """No operation has this id."""


class OperationExistsError(FatalError):
    """An operation with this id already exists."""


class InvalidTransitionError(FatalError):
    """The operation is not in a status that allows this change (stale, duplicate or raced)."""

    def __init__(self, message: str, *, current_status: str | None = None) -> None:
        super().__init__(message)
        self.current_status = current_status


class TargetLockedError(FatalError):
    """Another operation holds the lock on this target cluster."""

    def __init__(self, message: str, *, holder: str | None = None) -> None:
        super().__init__(message)
        self.holder = holder


class AlreadyDecidedError(FatalError):
    """The approval was already decided, or this approver already approved."""


class DatabaseSetupError(FatalError):
    """Setting up users or running post-restore SQL failed."""


class ConfigurationError(FatalError):
    """The configuration is invalid; raised at start so it fails loudly and early."""


class InstanceClassNotOrderableError(FatalError):
    """RDS does not offer the instance class for the snapshot's engine version in this Region."""


class AccountQuotaError(FatalError):
    """The restore would take the account past an RDS quota (clusters, instances, snapshots)."""


class ParameterGroupMismatchError(FatalError):
    """The configured cluster parameter group is of another family than the engine version's."""


class SnapshotOutOfScopeError(FatalError):
    """The deployment's IAM grants no restore from this snapshot (rds.snapshot_patterns)."""


class KmsKeyUnusableError(FatalError):
    """The KMS key the restore or copy uses cannot be described, or is not enabled."""


# The retryable errors of this module, the one list the state machine's Retry follows: every Task
# of restore.asl.json lists exactly these names, plus those of the retryable errors its own
# function defines (bot.request_approval's SlackUnavailableError), and nothing else
# (tests/pipeline/test_retry_coverage.py checks the definition and docs/contracts.md against it).
RETRYABLE_ERRORS: tuple[type[RetryableError], ...] = (
    RetryableError,
    AwsThrottledError,
    ResourceBusyError,
)
RETRYABLE_ERROR_NAMES: tuple[str, ...] = tuple(error.__name__ for error in RETRYABLE_ERRORS)
