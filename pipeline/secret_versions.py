"""Moving a credential secret's AWSCURRENT label onto the version an operation wrote as AWSPENDING
(the swap, once the new cluster answers on the target's name) and back (undoing a swap).

UpdateSecretVersionStage moves a label: "Each staging label can be attached to only one version
at a time", and "Whenever you move AWSCURRENT, Secrets Manager automatically moves the label
AWSPREVIOUS to the version that AWSCURRENT was removed from" (botocore, Secrets Manager). So the
version the applications used before is AWSPREVIOUS afterwards, which is where undo finds it.
"""

from __future__ import annotations

import uuid
from typing import Any

from pipeline.aws_errors import aws_call

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
PREVIOUS = "AWSPREVIOUS"
# An operation resource: the secrets (comma-separated) the database stage wrote as pending.
PENDING_SECRETS = "pending_secrets"
_VERSION_NAMESPACE = uuid.UUID("6c1f8a52-3d0e-4b7a-9a55-0f4b1b2f7a10")


def version_token(operation_id: str, name: str) -> str:
    """The version id (ClientRequestToken) of the secret `name` for one operation."""
    return str(uuid.uuid5(_VERSION_NAMESPACE, f"{operation_id}\n{name}"))


def _labels(secretsmanager: Any, name: str) -> dict[str, list[str]]:
    with aws_call(f"read secret {name}"):
        description = secretsmanager.describe_secret(SecretId=name)
    return dict(description.get("VersionIdsToStages", {}))


def _holder(labels: dict[str, list[str]], label: str) -> str | None:
    return next((version for version, stages in labels.items() if label in stages), None)


def promote(secretsmanager: Any, name: str, version_id: str) -> bool:
    """Make `version_id` the secret's AWSCURRENT; False when it already was (a retry)."""
    labels = _labels(secretsmanager, name)
    if version_id not in labels:
        raise KeyError(f"secret {name} has no version {version_id}")
    current = _holder(labels, CURRENT)
    changed = current != version_id
    if changed:
        moved: dict[str, str] = {"RemoveFromVersionId": current} if current else {}
        with aws_call(f"promote the new version of secret {name}"):
            secretsmanager.update_secret_version_stage(
                SecretId=name, VersionStage=CURRENT, MoveToVersionId=version_id, **moved
            )
    if PENDING in labels.get(version_id, []):
        with aws_call(f"clear the pending label of secret {name}"):
            secretsmanager.update_secret_version_stage(
                SecretId=name, VersionStage=PENDING, RemoveFromVersionId=version_id
            )
    return changed


def demote(secretsmanager: Any, name: str, version_id: str) -> bool:
    """Give AWSCURRENT back to the version that held it before `version_id` was promoted; False
    when there is nothing to give back (never promoted, or the secret is new with this
    operation, whose only version stays current)."""
    labels = _labels(secretsmanager, name)
    previous = _holder(labels, PREVIOUS)
    if CURRENT not in labels.get(version_id, []) or previous is None or previous == version_id:
        return False
    with aws_call(f"restore the previous version of secret {name}"):
        secretsmanager.update_secret_version_stage(
            SecretId=name,
            VersionStage=CURRENT,
            MoveToVersionId=previous,
            RemoveFromVersionId=version_id,
        )
    return True
