"""Helpers of the swap and rollback tests: a replace restored beside its target, bounded
stepping of a reconciler, and what RDS and Secrets Manager show."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pipeline.context import PipelineContext
from pipeline.database.credentials import CredentialStore, Endpoint
from pipeline.secret_versions import PENDING_SECRETS
from pipeline.stages.common import CheckResult
from pipeline.stages.lifecycle import begin
from pipeline.stages.plan import validate_request
from pipeline.stages.restore_cluster import (
    check_cluster,
    check_restore,
    create_instances,
    restore_cluster,
)
from tests.pipeline.conftest import Operations, RdsSeed

SECRET = "aurora-restore/staging-db/app"
MAX_STEPS = 40


def run_until_ready(step: Callable[[str, int, PipelineContext], CheckResult], op: str, ctx: Any):
    attempt = 0
    for _ in range(MAX_STEPS):
        result = step(op, attempt, ctx)
        if result["ready"]:
            return result
        attempt = result["attempt"]
    raise AssertionError(f"{step.__name__} not ready after {MAX_STEPS} steps")


def members(ctx: PipelineContext, cluster_id: str) -> list[str]:
    cluster = ctx.clients.rds().describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"]
    return sorted(m["DBInstanceIdentifier"] for m in cluster[0]["DBClusterMembers"])


def resource_id(ctx: PipelineContext, cluster_id: str) -> str:
    described = ctx.clients.rds().describe_db_clusters(DBClusterIdentifier=cluster_id)
    return str(described["DBClusters"][0]["DbClusterResourceId"])


def current_password(ctx: PipelineContext) -> str:
    value = ctx.clients.secretsmanager.get_secret_value(SecretId=SECRET)["SecretString"]
    return str(json.loads(value)["password"])


def restore_beside(ctx: PipelineContext, seed: RdsSeed, operations: Operations) -> str:
    """A replace of `staging-db` (two instances, an application secret in use) whose new
    cluster is restored beside it, with its instances, and whose new credentials are pending."""
    seed.cluster("source-db")
    seed.snapshot("source-db", "prod-snap-1")
    seed.cluster("staging-db", instances=2)
    sm = ctx.clients.secretsmanager
    endpoint = Endpoint("staging-db.cluster-x.us-east-1.rds.amazonaws.com", 5432, "app")
    CredentialStore(sm).credential_for_operation(
        SECRET,
        username="app",
        operation_id="ar-earlier",
        cluster_id="staging-db",
        endpoint=endpoint,
    )
    op = operations.create("prod-snap-1", "staging-db", replace=True, instance_count=2)
    validate_request(op, ctx)
    begin(op, ctx)
    restore_cluster(op, ctx)
    run_until_ready(check_cluster, op, ctx)
    create_instances(op, ctx)
    run_until_ready(check_restore, op, ctx)
    CredentialStore(sm, pending=True).credential_for_operation(
        SECRET, username="app", operation_id=op, cluster_id="staging-db", endpoint=endpoint
    )
    stored = ctx.store.get(op)
    ctx.store.update(op, resources={**stored.resources, PENDING_SECRETS: SECRET})
    return op
