"""Login roles and their privileges, composed with pg8000's `identifier()` and `literal()`.

Every statement converges: CREATE or ALTER the role, REVOKE what its grants exclude, then GRANT
what they include, on existing objects and as default privileges for objects created later. Running
it again grants and revokes the same things, which PostgreSQL treats as no-ops.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from pg8000.native import Connection, identifier, literal

from pipeline.database.config import (
    DatabasePrivilege,
    FunctionPrivilege,
    Grants,
    SchemaPrivilege,
    SequencePrivilege,
    TablePrivilege,
    UserSpec,
)
from pipeline.database.passwords import scram_sha256_verifier


def ensure_login_role(connection: Connection, name: str, password: str) -> bool:
    """Create the role or reset its password; True if it was created. The password goes as a
    SCRAM verifier, never as plaintext."""
    verifier = literal(scram_sha256_verifier(password))
    exists = connection.run("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :name", name=name)
    if exists:
        connection.run(f"ALTER ROLE {identifier(name)} WITH LOGIN PASSWORD {verifier}")
        return False
    connection.run(f"CREATE ROLE {identifier(name)} WITH LOGIN PASSWORD {verifier}")
    return True


def _keywords(privileges: Iterable[StrEnum]) -> str:
    # Keywords come from enums, never from configuration text.
    return ", ".join(sorted(str(p) for p in privileges))


def _complement(granted: frozenset[StrEnum], every: type[StrEnum]) -> frozenset[StrEnum]:
    return frozenset(p for p in every if p not in granted)


def _grant_and_revoke(
    connection: Connection,
    granted: frozenset[StrEnum],
    every: type[StrEnum],
    on: str,
    grantee: str,
) -> None:
    """REVOKE the privileges not granted, then GRANT the rest, on the composed object `on`."""
    revoked = _complement(granted, every)
    if revoked:
        connection.run(f"REVOKE {_keywords(revoked)} ON {on} FROM {identifier(grantee)}")
    if granted:
        connection.run(f"GRANT {_keywords(granted)} ON {on} TO {identifier(grantee)}")


def _default_privileges(
    connection: Connection,
    creator: str,
    schema: str,
    granted: frozenset[StrEnum],
    every: type[StrEnum],
    kind: str,
    grantee: str,
) -> None:
    prefix = (
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {identifier(creator)} IN SCHEMA {identifier(schema)}"
    )
    revoked = _complement(granted, every)
    if revoked:
        connection.run(f"{prefix} REVOKE {_keywords(revoked)} ON {kind} FROM {identifier(grantee)}")
    if granted:
        connection.run(f"{prefix} GRANT {_keywords(granted)} ON {kind} TO {identifier(grantee)}")


_OWNERS_OF_SCHEMA = """
    SELECT DISTINCT r.rolname
      FROM pg_catalog.pg_namespace n
      JOIN LATERAL (
            SELECT n.nspowner AS owner
            UNION SELECT c.relowner FROM pg_catalog.pg_class c
             WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
            UNION SELECT p.proowner FROM pg_catalog.pg_proc p WHERE p.pronamespace = n.oid
           ) AS objects ON true
      JOIN pg_catalog.pg_roles r ON r.oid = objects.owner
     WHERE n.nspname = :schema
"""
_OWNER_OF_DATABASE = """
    SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_catalog.pg_database
     WHERE datname = pg_catalog.current_database()
"""


def act_for_owners(connection: Connection, schemas: Iterable[str], roles: Iterable[str]) -> None:
    """Make the current (master) user a member of `roles` and of the owners of the database, the
    schemas and their objects: only owners and their members may grant on objects or set default
    privileges for objects another role creates, and Aurora's master user is no superuser.
    Superusers and predefined `pg_` roles cannot be joined and are left alone."""
    names = set(roles) | {row[0] for row in connection.run(_OWNER_OF_DATABASE)}
    for schema in schemas:
        names |= {row[0] for row in connection.run(_OWNERS_OF_SCHEMA, schema=schema)}
    for name in sorted(names):
        joinable = connection.run(
            "SELECT NOT rolsuper AND rolname NOT LIKE 'pg\\_%' "
            "AND NOT pg_catalog.pg_has_role(current_user, oid, 'USAGE') "
            "FROM pg_catalog.pg_roles WHERE rolname = :role",
            role=name,
        )
        if joinable and joinable[0][0]:
            connection.run(f"GRANT {identifier(name)} TO CURRENT_USER")


def ensure_schema(connection: Connection, schema: str) -> None:
    connection.run(f"CREATE SCHEMA IF NOT EXISTS {identifier(schema)}")


def apply_grants(
    connection: Connection,
    user: UserSpec,
    database: str,
    creators: Sequence[str],
) -> None:
    """Grant `user` its privileges on `database` and its schemas, now and for future objects
    created by any of `creators` (the master user and the users who may create objects)."""
    grants: Grants = user.effective_grants
    name = user.name
    _grant_and_revoke(
        connection, grants.database, DatabasePrivilege, f"DATABASE {identifier(database)}", name
    )
    for schema in user.schemas:
        quoted = identifier(schema)
        _grant_and_revoke(connection, grants.schema_, SchemaPrivilege, f"SCHEMA {quoted}", name)
        for granted, every, kind in (
            (grants.tables, TablePrivilege, "TABLES"),
            (grants.sequences, SequencePrivilege, "SEQUENCES"),
            (grants.functions, FunctionPrivilege, "FUNCTIONS"),
        ):
            _grant_and_revoke(connection, granted, every, f"ALL {kind} IN SCHEMA {quoted}", name)
            for creator in creators:
                if creator != name:
                    _default_privileges(connection, creator, schema, granted, every, kind, name)
