"""RDS calls the emulation tests share: make clusters and instances, read the error code of a
refusal (driven through boto3, as the pipeline calls RDS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

ENGINE = "aurora-postgresql"


def refusal_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return str(refused.value.response["Error"]["Code"])


def create_cluster(rds: Any, name: str, **extra: Any) -> None:
    rds.create_db_cluster(
        DBClusterIdentifier=name,
        Engine=ENGINE,
        MasterUsername="postgres",
        MasterUserPassword="not-a-real-password",
        **extra,
    )


def create_instance(rds: Any, name: str, cluster: str) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        DBClusterIdentifier=cluster,
        Engine=ENGINE,
        DBInstanceClass="db.r6g.large",
    )
