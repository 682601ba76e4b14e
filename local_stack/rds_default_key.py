"""The KMS key of a cluster encrypted without KmsKeyId: the Region's default RDS key, as on AWS.

botocore CreateDBCluster, KmsKeyId: "If the StorageEncrypted parameter is enabled and
ReplicationSourceIdentifier isn't specified, then Amazon RDS uses your default KMS key. [...]
Your Amazon Web Services account has a different default KMS key for each Amazon Web Services
Region." That is the AWS managed key `alias/aws/rds`. moto records the placeholder
`default_kms_key_id` instead, a key KMS has never heard of, which DescribeKey (ValidateRequest's
check of the restore's key) answers NotFoundException. Here the cluster names the Region's
`alias/aws/rds` key, which moto's KMS creates on first use (its reserved aliases) and which is
marked AWS managed (KeyManager `AWS`). Snapshots and restored clusters inherit it from the cluster.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from moto.kms.models import kms_backends
from moto.rds.models import RDSBackend

DEFAULT_KEY_ALIAS = "alias/aws/rds"
Patch = Callable[[type, str, Any], None]


def install(patch: Patch) -> None:
    patch(RDSBackend, "create_db_cluster", _default_key(RDSBackend.create_db_cluster))


def default_key_arn(account_id: str, region: str) -> str:
    kms = kms_backends[account_id][region]
    key_id = kms.get_key_id_from_alias(DEFAULT_KEY_ALIAS)  # created on first use
    assert key_id is not None  # a reserved alias always resolves
    key = kms.keys[key_id]
    key.key_manager = "AWS"
    return str(key.arn)


def _default_key(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> Any:
        if kwargs.get("storage_encrypted") and not kwargs.get("kms_key_id"):
            kwargs["kms_key_id"] = default_key_arn(self.account_id, self.region_name)
        return original(self, kwargs)

    return create_db_cluster
