"""The database configuration: parsing, validation messages, pattern resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.database import DatabaseRole, load_database_config, parse_database_config, secret_name
from pipeline.database.config import (
    ROLE_GRANTS,
    DatabasePrivilege,
    SchemaPrivilege,
    TablePrivilege,
)
from pipeline.database.passwords import generate_password
from pipeline.errors import ConfigurationError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "database.example.yaml"


def test_the_example_configuration_is_valid() -> None:
    config = load_database_config(str(EXAMPLE))

    setup = config.for_cluster("staging-orders")
    assert [u.name for u in setup.users]
    assert all(script.sql.strip() for script in setup.scripts)


def test_patterns_merge_in_file_order() -> None:
    config = parse_database_config(
        """
targets:
  - pattern: "staging-*"
    users: [{name: app, role: owner, databases: [orders]}]
    scripts: [{name: mask, sql: "UPDATE t SET x = 1;"}]
  - pattern: "*-orders"
    users: [{name: report, role: read-only, schemas: [public, analytics]}]
    scripts: [{name: truncate, sql: "TRUNCATE sessions;", database: orders}]
  - pattern: "prod-*"
    users: [{name: never, role: owner}]
"""
    )
    setup = config.for_cluster("STAGING-orders")

    assert [(u.name, u.role) for u in setup.users] == [
        ("app", DatabaseRole.OWNER),
        ("report", DatabaseRole.READ_ONLY),
    ]
    assert [(s.name, s.database) for s in setup.scripts] == [("mask", None), ("truncate", "orders")]
    assert setup.users[1].schemas == ["public", "analytics"]
    assert setup.users[1].databases == []  # the cluster's own database
    assert config.for_cluster("dev-billing").users == []


def test_a_user_defined_by_two_matching_patterns_is_refused() -> None:
    config = parse_database_config(
        """
targets:
  - {pattern: "staging-*", users: [{name: app, role: owner}]}
  - {pattern: "*", users: [{name: app, role: read-only}]}
"""
    )
    with pytest.raises(ConfigurationError, match=r"`app`.*`staging-\*`.*`\*`"):
        config.for_cluster("staging-x")


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ("{name: '', role: owner}", "cannot be empty"),
        ("{name: " + "a" * 64 + ", role: owner}", "longer than 63 bytes"),
        ("{name: pg_monitor2, role: owner}", "`pg_` prefix is reserved"),
        ("{name: rds_superuser, role: owner}", "reserved"),
        ("{name: PUBLIC, role: owner}", "reserved"),
        ("{name: master, role: owner}", "master secret"),
        ('{name: "tab\\there", role: owner}', "control character"),
        ("{name: app}", "exactly one of `role`"),
        ("{name: app, role: owner, grants: {tables: [SELECT]}}", "exactly one of `role`"),
        ("{name: app, role: admin}", "role"),
        ("{name: app, grants: {tables: [DROP]}}", "tables"),
        ("{name: app, role: owner, schemas: [information_schema]}", "system schema"),
        ("{name: app, role: owner, databases: [template1]}", "system database"),
        ("{name: app, role: owner, schemas: []}", "schemas"),
        ("{name: app, role: owner, superuser: true}", "superuser"),
    ],
)
def test_invalid_users_are_refused_with_a_clear_message(user: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_database_config(f"targets: [{{pattern: '*', users: [{user}]}}]")


@pytest.mark.parametrize(
    ("scripts", "message"),
    [
        ("[{name: a}]", "exactly one of `sql` or `file`"),
        ("[{name: a, sql: 'SELECT 1', file: x.sql}]", "exactly one of `sql` or `file`"),
        ("[{name: a, sql: '  '}]", "empty"),
        ("[{name: a, file: missing.sql}]", "cannot read"),
        ("[{name: a, sql: 'SELECT 1'}, {name: a, sql: 'SELECT 2'}]", "appears twice"),
        ("[{name: 'bad;name', sql: 'SELECT 1'}]", "name"),
    ],
)
def test_invalid_scripts_are_refused(scripts: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_database_config(f"targets: [{{pattern: '*', scripts: {scripts}}}]", base_dir=tmp_path)


def test_not_yaml_or_not_a_mapping_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        parse_database_config("targets: [")
    with pytest.raises(ConfigurationError, match="mapping"):
        parse_database_config("- a\n- b\n")
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_database_config("/nonexistent/database.yaml")


def test_names_with_quotes_semicolons_and_spaces_are_accepted_as_names() -> None:
    config = parse_database_config(
        """
targets:
  - pattern: "*"
    users:
      - name: 'o''brien; DROP ROLE x; --'
        role: read-only
        schemas: ['my schema"; --']
"""
    )
    user = config.for_cluster("any").users[0]
    assert user.name == "o'brien; DROP ROLE x; --"
    assert user.schemas == ['my schema"; --']


def test_roles_grant_what_their_names_say() -> None:
    read_only, read_write, owner = (
        ROLE_GRANTS[r]
        for r in (DatabaseRole.READ_ONLY, DatabaseRole.READ_WRITE, DatabaseRole.OWNER)
    )
    assert read_only.tables == {TablePrivilege.SELECT}
    assert TablePrivilege.INSERT in read_write.tables
    assert TablePrivilege.TRUNCATE not in read_write.tables
    assert SchemaPrivilege.CREATE not in read_write.schema_
    assert SchemaPrivilege.CREATE in owner.schema_
    assert DatabasePrivilege.CREATE in owner.database


def test_secret_names_are_valid_for_any_user_name() -> None:
    assert secret_name("p", "c", "app_user") == "p/c/app_user"
    hostile = secret_name("p", "c", 'x"; drop / role')
    assert hostile.startswith("p/c/x---drop---role-")
    assert secret_name("p", "c", "a b") != secret_name("p", "c", "a;b")  # distinct after escaping


def test_generated_passwords_are_long_and_distinct() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) == 32 and p.isalnum() for p in passwords)
