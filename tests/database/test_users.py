"""Users, privileges and credentials, against a real PostgreSQL and Secrets Manager (moto)."""

from __future__ import annotations

import pytest
from pg8000.exceptions import DatabaseError

from pipeline.database import parse_database_config, setup_database
from pipeline.database.credentials import OPERATION_TAG
from tests.database.conftest import PREFIX, Restored, connected


def _config(names: str) -> str:
    return f"""
targets:
  - pattern: "staging-*"
    users:
      - {{name: owner_{names}, role: owner, schemas: [public, reporting]}}
      - {{name: writer_{names}, role: read-write, schemas: [public, reporting]}}
      - {{name: reader_{names}, role: read-only, schemas: [public, reporting]}}
  - pattern: "prod-*"
    users:
      - {{name: never_{names}, role: owner}}
"""


def _run(restored: Restored, config_text: str) -> dict[str, object]:
    return setup_database(
        restored.operation_id,
        restored.ctx,
        connector=restored.clusters.connector(),
        config=parse_database_config(config_text),
    )


def _sqlstate(exc: DatabaseError) -> str:
    return str(exc.args[0]["C"])


def test_users_get_the_privileges_of_their_role(restored: Restored, names: str) -> None:
    result = _run(restored, _config(names))

    assert result["users"] == [f"owner_{names}", f"writer_{names}", f"reader_{names}"]
    reader, writer, owner = (
        restored.secret(f"{role}_{names}") for role in ("reader", "writer", "owner")
    )
    with connected(restored.connect(reader["username"], reader["password"])) as db:
        assert db.run("SELECT count(*) FROM customers") == [[2]]
        with pytest.raises(DatabaseError) as denied:
            db.run("INSERT INTO customers (email) VALUES ('eve@example.com')")
        assert _sqlstate(denied.value) == "42501"  # insufficient_privilege
    with connected(restored.connect(writer["username"], writer["password"])) as db:
        db.run("INSERT INTO customers (email) VALUES ('eve@example.com')")
        db.run("UPDATE customers SET email = 'x@example.com' WHERE email = 'eve@example.com'")
        db.run("DELETE FROM customers WHERE email = 'x@example.com'")
        with pytest.raises(DatabaseError) as denied:
            db.run("CREATE TABLE public.writer_table (id int)")
        assert _sqlstate(denied.value) == "42501"
    with connected(restored.connect(owner["username"], owner["password"])) as db:
        db.run("CREATE TABLE reporting.summary (day date, total int)")
        db.run("INSERT INTO customers (email) VALUES ('owner@example.com')")
    # The other pattern (prod-*) does not apply to this cluster.
    with connected(restored.admin()) as admin:
        assert admin.run("SELECT 1 FROM pg_roles WHERE rolname = :n", n=f"never_{names}") == []


def test_default_privileges_cover_tables_created_later(restored: Restored, names: str) -> None:
    _run(restored, _config(names))
    owner, reader, writer = (
        restored.secret(f"{role}_{names}") for role in ("owner", "reader", "writer")
    )
    with connected(restored.connect(owner["username"], owner["password"])) as db:
        db.run("CREATE TABLE reporting.later (id serial PRIMARY KEY, note text)")
        db.run("INSERT INTO reporting.later (note) VALUES ('from the owner')")
    with connected(
        restored.connect(restored.master_user, restored.master_secret()["password"])
    ) as db:
        db.run("CREATE TABLE public.by_master (id int)")

    with connected(restored.connect(reader["username"], reader["password"])) as db:
        assert db.run("SELECT note FROM reporting.later") == [["from the owner"]]
        assert db.run("SELECT count(*) FROM public.by_master") == [[0]]
        with pytest.raises(DatabaseError):
            db.run("INSERT INTO reporting.later (note) VALUES ('no')")
    with connected(restored.connect(writer["username"], writer["password"])) as db:
        db.run("INSERT INTO reporting.later (note) VALUES ('from the writer')")  # uses the sequence
        db.run("INSERT INTO public.by_master VALUES (1)")


def _privileges(restored: Restored) -> list[object]:
    """Everything a re-run could change: roles, memberships, ACLs, default ACLs."""
    with connected(restored.admin()) as admin:
        return [
            admin.run(
                "SELECT rolname, rolcanlogin, rolcreaterole, rolsuper FROM pg_roles "
                "WHERE rolname NOT LIKE 'pg\\_%' ORDER BY rolname"
            ),
            admin.run(
                "SELECT roleid::regrole::text, member::regrole::text FROM pg_auth_members "
                "ORDER BY 1, 2"
            ),
            admin.run("SELECT datacl::text FROM pg_database WHERE datname = current_database()"),
            admin.run(
                "SELECT nspname, nspacl::text FROM pg_namespace "
                "WHERE nspname IN ('public', 'reporting') ORDER BY 1"
            ),
            admin.run(
                "SELECT relname, relacl::text FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = relnamespace WHERE nspname IN ('public', 'reporting') ORDER BY 1"
            ),
            admin.run(
                "SELECT defaclrole::regrole::text, defaclnamespace::regnamespace::text, "
                "defaclobjtype, defaclacl::text FROM pg_default_acl ORDER BY 1, 2, 3"
            ),
        ]


def test_running_twice_changes_nothing(restored: Restored, names: str) -> None:
    first = _run(restored, _config(names))
    privileges = _privileges(restored)
    secrets = {user: restored.secret(user) for user in first["users"]}  # type: ignore[attr-defined]
    master = restored.master_secret()

    second = _run(restored, _config(names))

    assert second == first
    assert _privileges(restored) == privileges
    assert {user: restored.secret(user) for user in first["users"]} == secrets  # type: ignore[attr-defined]
    assert restored.master_secret() == master
    for secret in secrets.values():  # the stored passwords still work
        with connected(restored.connect(secret["username"], secret["password"])) as db:
            assert db.run("SELECT current_user") == [[secret["username"]]]


def test_a_new_operation_rotates_every_password(restored: Restored, names: str) -> None:
    _run(restored, _config(names))
    before = restored.secret(f"reader_{names}")
    master_before = restored.master_secret()

    operation_id = restored.new_operation()
    _run(restored, _config(names))

    after = restored.secret(f"reader_{names}")
    assert after["password"] != before["password"]
    assert restored.master_secret()["password"] != master_before["password"]
    with pytest.raises(DatabaseError):
        restored.connect(before["username"], before["password"]).close()
    with connected(restored.connect(after["username"], after["password"])) as db:
        assert db.run("SELECT count(*) FROM customers") == [[2]]
    name = f"{PREFIX}/{restored.cluster_id}/reader_{names}"
    tags = restored.ctx.clients.secretsmanager.describe_secret(SecretId=name)["Tags"]
    assert {"Key": OPERATION_TAG, "Value": operation_id} in tags


def test_secrets_hold_what_an_application_needs(restored: Restored, names: str) -> None:
    _run(restored, _config(names))

    secret = restored.secret(f"writer_{names}")
    cluster = restored.ctx.clients.rds().describe_db_clusters(
        DBClusterIdentifier=restored.cluster_id
    )["DBClusters"][0]
    assert secret["host"] == cluster["Endpoint"]
    assert secret["port"] == cluster["Port"]
    assert secret["dbname"] == "app"
    assert secret["username"] == f"writer_{names}"
    assert secret["engine"] == "postgres"
    name = f"{PREFIX}/{restored.cluster_id}/writer_{names}"
    tags = restored.ctx.clients.secretsmanager.describe_secret(SecretId=name)["Tags"]
    assert {"Key": OPERATION_TAG, "Value": restored.operation_id} in tags
    # The application connects with the secret's values (routed to the local server).
    connector = restored.clusters.connector()
    db = connector.connect(
        secret["host"],
        secret["port"],
        secret["dbname"],
        secret["username"],
        secret["password"],
        True,
    )
    with connected(db):
        assert db.run("SELECT count(*) FROM customers") == [[2]]


def test_a_read_only_user_loses_write_grants_it_had_in_the_source(
    restored: Restored, names: str
) -> None:
    # Given the source's master granted this user more than the configuration says
    with connected(restored.connect(restored.master_user, restored.original_master_password)) as db:
        db.run(f'CREATE ROLE "reader_{names}" LOGIN')
        db.run(f'GRANT INSERT, DELETE ON customers TO "reader_{names}"')

    _run(restored, _config(names))

    reader = restored.secret(f"reader_{names}")
    with connected(restored.connect(reader["username"], reader["password"])) as db:
        with pytest.raises(DatabaseError):
            db.run("DELETE FROM customers")
        assert db.run("SELECT count(*) FROM customers") == [[2]]


def test_hostile_names_become_literal_names(restored: Restored, names: str) -> None:
    hostile_user = f'x{names}"; DROP TABLE customers; --'
    hostile_schema = f"s{names}'); DROP TABLE customers; -- \""
    config = f"""
targets:
  - pattern: "*"
    users:
      - name: '{hostile_user.replace("'", "''")}'
        role: read-only
        schemas: ['{hostile_schema.replace("'", "''")}', public]
"""
    result = _run(restored, config)

    assert result["users"] == [hostile_user]
    with connected(restored.admin()) as admin:
        assert admin.run("SELECT count(*) FROM customers") == [[2]]
        assert admin.run("SELECT rolname FROM pg_roles WHERE rolname = :n", n=hostile_user) == [
            [hostile_user]
        ]
        assert admin.run("SELECT 1 FROM pg_namespace WHERE nspname = :n", n=hostile_schema) == [[1]]
    secret = restored.secret(hostile_user)
    assert secret["username"] == hostile_user
    with connected(restored.connect(hostile_user, secret["password"])) as db:
        assert db.run("SELECT count(*) FROM customers") == [[2]]
    names_in_sm = [
        s["Name"] for s in restored.ctx.clients.secretsmanager.list_secrets()["SecretList"]
    ]
    assert all(" " not in n and '"' not in n and ";" not in n for n in names_in_sm)
