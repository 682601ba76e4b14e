"""The local PostgreSQL and the emulation of Aurora clusters and snapshots on it."""

from __future__ import annotations

import os

import pytest
from pg8000.exceptions import DatabaseError

from local_stack.postgres import ClusterDatabases, snapshot_database_name
from local_stack.postgres_install import LocalPostgresError
from local_stack.postgres_server import LocalPostgres
from tests.database.conftest import connected

SEED = """
CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL);
INSERT INTO orders (item) VALUES ('book'), ('lamp');
"""


def _items(server: LocalPostgres, database: str) -> list[str]:
    with connected(server.connect(database)) as db:
        return [row[0] for row in db.run("SELECT item FROM orders ORDER BY id")]


def test_the_server_runs_as_a_normal_user_with_passwords(local_pg: LocalPostgres) -> None:
    with connected(local_pg.connect()) as admin:
        assert admin.run("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == [[True]]
        owner = admin.run("SELECT pg_catalog.current_setting('data_directory')")[0][0]
    assert os.stat(owner).st_uid != 0  # never root
    with pytest.raises(DatabaseError) as refused:
        local_pg.connect(user=local_pg.admin_user, password="wrong").close()
    assert refused.value.args[0]["C"] == "28P01"
    assert local_pg.stack_info() == {
        "host": "127.0.0.1",
        "port": local_pg.port,
        "admin_user": local_pg.admin_user,
        "admin_password": local_pg.admin_password,
    }


def test_snapshot_and_restore_copy_the_data(clusters: ClusterDatabases, names: str) -> None:
    server = clusters.server
    source, target = f"prod-{names}", f"staging-{names}"
    clusters.seed_cluster(source, f"owner_{names}", "source-password", SEED)

    clusters.on_snapshot(source, f"{source}-nightly")
    with connected(server.connect(source)) as db:
        db.run("INSERT INTO orders (item) VALUES ('after the snapshot')")
    clusters.on_restore(f"{source}-nightly", target)

    assert _items(server, target) == ["book", "lamp"]
    assert _items(server, source) == ["book", "lamp", "after the snapshot"]
    assert clusters.master_user(target) == f"owner_{names}"
    # The restored cluster's master logs in with the source's password, as after a real restore.
    with connected(server.connect(target, f"owner_{names}", "source-password")) as db:
        assert db.run("SELECT count(*) FROM orders") == [[2]]


def test_copied_snapshots_and_arns_name_the_same_data(
    clusters: ClusterDatabases, names: str
) -> None:
    source = f"dr-{names}"
    clusters.seed_cluster(source, f"owner_{names}", "pw", SEED)
    clusters.on_snapshot(source, f"{source}-weekly")
    arn = f"arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:{source}-weekly"

    clusters.on_copy_snapshot(arn, f"{source}-copy")
    clusters.on_copy_snapshot(arn, f"{source}-copy")  # a repeat is a no-op
    clusters.on_restore(f"{source}-copy", f"restored-{names}")

    assert _items(clusters.server, f"restored-{names}") == ["book", "lamp"]
    long_name = snapshot_database_name("s" * 200)
    assert len(long_name) <= 63
    assert long_name != snapshot_database_name("s" * 199)


def test_master_password_reset_and_delete(clusters: ClusterDatabases, names: str) -> None:
    server = clusters.server
    cluster = f"reset-{names}"
    clusters.seed_cluster(cluster, f"owner_{names}", "old-password", SEED)

    clusters.on_master_password(cluster, "new-password")

    with pytest.raises(DatabaseError):
        server.connect(cluster, f"owner_{names}", "old-password").close()
    server.connect(cluster, f"owner_{names}", "new-password").close()
    server.connect(cluster).close()  # the admin is never affected

    clusters.on_delete(cluster)
    assert not server.database_exists(cluster)
    with pytest.raises(LocalPostgresError, match="no local database"):
        clusters.on_master_password(cluster, "again")


def test_the_admin_cannot_become_a_cluster_master(clusters: ClusterDatabases, names: str) -> None:
    with pytest.raises(LocalPostgresError, match="admin"):
        clusters.seed_cluster(f"c-{names}", clusters.server.admin_user, "pw")


def test_restoring_an_unknown_snapshot_fails_clearly(clusters: ClusterDatabases) -> None:
    with pytest.raises(LocalPostgresError, match="no local database holds snapshot `missing`"):
        clusters.on_restore("missing", "anything")


def test_the_connector_routes_endpoints_to_cluster_databases(
    clusters: ClusterDatabases, names: str
) -> None:
    clusters.seed_cluster(f"routed-{names}", f"owner_{names}", "pw", SEED)
    connector = clusters.connector()
    endpoint = f"routed-{names}.cluster-c1a2b3.us-east-1.rds.amazonaws.com"

    with connected(connector.connect(endpoint, 5432, "app", f"owner_{names}", "pw", True)) as db:
        assert db.run("SELECT current_database()") == [[f"routed-{names}"]]
    with pytest.raises(DatabaseError) as missing:
        connector.connect(
            "nowhere.cluster-x.us-east-1.rds.amazonaws.com", 5432, "app", "u", "p", True
        ).close()
    assert missing.value.args[0]["C"] in {"3D000", "28P01"}


def test_a_used_run_directory_is_refused(local_pg: LocalPostgres) -> None:
    with pytest.raises(LocalPostgresError, match="not empty"):
        LocalPostgres.start(local_pg.run_dir)


def test_a_renamed_cluster_keeps_its_data_and_master_and_ends_open_sessions(
    clusters: ClusterDatabases, names: str
) -> None:
    server = clusters.server
    old, new = f"target-{names}", f"target-{names}-old-1"
    clusters.seed_cluster(old, f"owner_{names}", "pw", SEED)
    session = server.connect(old, f"owner_{names}", "pw")

    clusters.on_rename(old, new)

    assert not server.database_exists(old)
    assert _items(server, new) == ["book", "lamp"]
    assert clusters.master_user(new) == f"owner_{names}"
    with pytest.raises(Exception):  # noqa: B017 - pg8000 reports a terminated session variously
        session.run("SELECT 1")
    clusters.on_delete(new)
