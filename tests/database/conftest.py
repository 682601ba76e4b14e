"""Database-stage fixtures: one real local PostgreSQL per session, moto for RDS and Secrets
Manager, and restored clusters whose databases live on that server.

PostgreSQL roles are per server and the server is shared by the session, so every test names its
roles with a unique suffix (`names`)."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto.rds.models import RDSBackend
from pg8000.native import Connection

from local_stack.postgres import ClusterDatabases
from local_stack.postgres_server import LocalPostgres
from pipeline.aws import AwsClients
from pipeline.context import PipelineContext
from pipeline.database import master_secret_name, secret_name
from pipeline.models import RestoreRequest, new_operation_id
from pipeline.settings import PipelineSettings
from pipeline.store import OperationStore
from tests.conftest import AUDIT_TABLE, OPERATIONS_TABLE, postgres_or_exit

PREFIX = "aurora-restore"
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def local_pg() -> Iterator[LocalPostgres]:
    with postgres_or_exit():
        server = LocalPostgres.start()  # its own run directory, removed by stop()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def clusters(local_pg: LocalPostgres) -> ClusterDatabases:
    return ClusterDatabases(local_pg)


@pytest.fixture
def names() -> str:
    """A suffix unique in the session, for role and cluster names."""
    return f"t{next(_counter)}"


@pytest.fixture
def rds_hooks(clusters: ClusterDatabases, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Forward moto's ModifyDBCluster(MasterUserPassword) to the local database, as the local
    stack does; returns the cluster ids whose password was reset."""
    original = RDSBackend.modify_db_cluster
    resets: list[str] = []

    def modify(self: RDSBackend, kwargs: dict[str, Any]) -> Any:
        cluster_id, password = kwargs["db_cluster_identifier"], kwargs.get("master_user_password")
        cluster = original(self, kwargs)  # moto consumes kwargs
        if password:
            clusters.on_master_password(cluster_id, password)
            resets.append(cluster_id)
        return cluster

    monkeypatch.setattr(RDSBackend, "modify_db_cluster", modify)
    return resets


@pytest.fixture
def ctx(aws: AwsClients, store: OperationStore, topic_arn: str) -> PipelineContext:
    settings = PipelineSettings(
        operations_table=OPERATIONS_TABLE,
        audit_table=AUDIT_TABLE,
        progress_topic_arn=topic_arn,
        secret_name_prefix=PREFIX,
        db_tls=False,
    )
    return PipelineContext(settings, aws)


@dataclass
class Restored:
    """A restored cluster: in moto (RDS) and as a database on the local server."""

    cluster_id: str
    master_user: str
    original_master_password: str
    operation_id: str
    ctx: PipelineContext
    clusters: ClusterDatabases

    @property
    def server(self) -> LocalPostgres:
        return self.clusters.server

    @property
    def database(self) -> str:
        return self.clusters.database_for(self.cluster_id)

    def connect(self, user: str, password: str) -> Connection:
        return self.server.connect(self.database, user, password)

    def admin(self) -> Connection:
        return self.server.connect(self.database)

    def secret(self, user: str) -> dict[str, Any]:
        name = secret_name(PREFIX, self.cluster_id, user)
        value = self.ctx.clients.secretsmanager.get_secret_value(SecretId=name)
        return {**json.loads(value["SecretString"]), "_version": value["VersionId"]}

    def master_secret(self) -> dict[str, Any]:
        name = master_secret_name(PREFIX, self.cluster_id)
        value = self.ctx.clients.secretsmanager.get_secret_value(SecretId=name)
        return {**json.loads(value["SecretString"]), "_version": value["VersionId"]}

    def new_operation(self) -> str:
        """A later restore request for the same target (a new operation id)."""
        self.operation_id = _create_operation(self.ctx, self.cluster_id)
        return self.operation_id


def _create_operation(ctx: PipelineContext, cluster_id: str) -> str:
    operation_id = new_operation_id()
    ctx.store.create(
        operation_id,
        RestoreRequest(snapshot="source-snapshot", target_cluster=cluster_id, requester="U123"),
    )
    return operation_id


@pytest.fixture
def restored(
    ctx: PipelineContext, clusters: ClusterDatabases, names: str, rds_hooks: list[str]
) -> Restored:
    """A cluster as a restore leaves it: the source's data and the source's master password."""
    cluster_id = f"staging-{names}"
    master_user = f"master_{names}"
    password = "source-master-password"
    rds = ctx.clients.rds()
    rds.create_db_cluster(
        DBClusterIdentifier=cluster_id,
        Engine="aurora-postgresql",
        EngineVersion="15.4",
        MasterUsername=master_user,
        MasterUserPassword=password,
        DatabaseName="app",
    )
    rds.describe_db_clusters(DBClusterIdentifier=cluster_id)  # moto: `creating` once, then ready
    clusters.seed_cluster(
        cluster_id,
        master_user,
        password,
        """
        CREATE TABLE public.customers (id serial PRIMARY KEY, email text NOT NULL);
        INSERT INTO public.customers (email) VALUES ('ada@example.com'), ('bob@example.com');
        """,
    )
    return Restored(
        cluster_id, master_user, password, _create_operation(ctx, cluster_id), ctx, clusters
    )


@contextlib.contextmanager
def connected(connection: Connection) -> Iterator[Connection]:
    try:
        yield connection
    finally:
        connection.close()
