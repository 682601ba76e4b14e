"""The database configuration: users to ensure and post-restore SQL, per target cluster pattern.

Loaded from YAML (`settings.database_config_path`) and validated with pydantic at cold start, so a
bad name or a missing SQL file fails loudly before any restore. See `config/database.example.yaml`.
"""

from __future__ import annotations

from enum import StrEnum
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from pipeline.errors import ConfigurationError

MAX_NAME_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1; longer names are silently truncated
MASTER_SECRET_SUFFIX = "master"  # noqa: S105 - a secret name segment, not a secret
_RESERVED_ROLES = frozenset(
    {"public", "none", "current_user", "session_user", "current_role", "rdsadmin", "rdsrepladmin"}
)


def _check_name(value: str, kind: str) -> str:
    """Any text PostgreSQL accepts as a quoted name; quotes, spaces and semicolons are fine."""
    if not value:
        raise ValueError(f"a {kind} name cannot be empty")
    if len(value.encode("utf-8")) > MAX_NAME_BYTES:
        raise ValueError(
            f"{kind} name `{value[:70]}` is longer than {MAX_NAME_BYTES} bytes "
            "(PostgreSQL would silently truncate it)"
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError(f"{kind} name {value!r} contains a control character")
    if value.lower().startswith("pg_"):
        raise ValueError(f"{kind} name `{value}`: the `pg_` prefix is reserved by PostgreSQL")
    return value


def validate_role_name(value: str) -> str:
    _check_name(value, "user")
    lowered = value.lower()
    if lowered in _RESERVED_ROLES or lowered.startswith("rds_"):
        raise ValueError(f"user name `{value}` is reserved (by PostgreSQL or by Aurora)")
    if value == MASTER_SECRET_SUFFIX:
        raise ValueError(
            f"user name `{value}` is reserved: `<prefix>/<cluster>/master` is the master secret"
        )
    return value


def validate_schema_name(value: str) -> str:
    _check_name(value, "schema")
    if value.lower() == "information_schema":
        raise ValueError("schema `information_schema` is a system schema")
    return value


def validate_database_name(value: str) -> str:
    _check_name(value, "database")
    if value in {"template0", "template1", "rdsadmin"}:
        raise ValueError(f"database `{value}` is a system database")
    return value


RoleName = Annotated[str, AfterValidator(validate_role_name)]
SchemaName = Annotated[str, AfterValidator(validate_schema_name)]
DatabaseName = Annotated[str, AfterValidator(validate_database_name)]


class DatabaseRole(StrEnum):
    """The preset grants a configured user may ask for by name (`role:`), see ROLE_GRANTS."""

    OWNER = "owner"
    READ_WRITE = "read-write"
    READ_ONLY = "read-only"


class DatabasePrivilege(StrEnum):
    CONNECT = "CONNECT"
    CREATE = "CREATE"
    TEMPORARY = "TEMPORARY"


class SchemaPrivilege(StrEnum):
    USAGE = "USAGE"
    CREATE = "CREATE"


class TablePrivilege(StrEnum):
    SELECT = "SELECT"
    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    TRUNCATE = "TRUNCATE"
    REFERENCES = "REFERENCES"
    TRIGGER = "TRIGGER"


class SequencePrivilege(StrEnum):
    USAGE = "USAGE"
    SELECT = "SELECT"
    UPDATE = "UPDATE"


class FunctionPrivilege(StrEnum):
    EXECUTE = "EXECUTE"


class Grants(BaseModel):
    """Privileges by object kind; the keywords come from these enums, never from free text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database: frozenset[DatabasePrivilege] = frozenset({DatabasePrivilege.CONNECT})
    schema_: frozenset[SchemaPrivilege] = Field(
        default=frozenset({SchemaPrivilege.USAGE}), alias="schema"
    )
    tables: frozenset[TablePrivilege] = frozenset()
    sequences: frozenset[SequencePrivilege] = frozenset()
    functions: frozenset[FunctionPrivilege] = frozenset()


ROLE_GRANTS: dict[DatabaseRole, Grants] = {
    DatabaseRole.READ_ONLY: Grants(
        tables=frozenset({TablePrivilege.SELECT}),
        sequences=frozenset({SequencePrivilege.SELECT}),
    ),
    DatabaseRole.READ_WRITE: Grants(
        database=frozenset({DatabasePrivilege.CONNECT, DatabasePrivilege.TEMPORARY}),
        tables=frozenset(
            {
                TablePrivilege.SELECT,
                TablePrivilege.INSERT,
                TablePrivilege.UPDATE,
                TablePrivilege.DELETE,
            }
        ),
        sequences=frozenset(set(SequencePrivilege)),
        functions=frozenset(set(FunctionPrivilege)),
    ),
    DatabaseRole.OWNER: Grants(
        database=frozenset(set(DatabasePrivilege)),
        schema=frozenset(set(SchemaPrivilege)),
        tables=frozenset(set(TablePrivilege)),
        sequences=frozenset(set(SequencePrivilege)),
        functions=frozenset(set(FunctionPrivilege)),
    ),
}


class UserSpec(BaseModel):
    """A login role to ensure. `databases` empty means the cluster's own database."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: RoleName
    role: DatabaseRole | None = None
    grants: Grants | None = None
    databases: list[DatabaseName] = Field(default_factory=list)
    schemas: list[SchemaName] = Field(default_factory=lambda: ["public"], min_length=1)

    @model_validator(mode="after")
    def _role_or_grants(self) -> Self:
        if (self.role is None) == (self.grants is None):
            raise ValueError(
                f"user `{self.name}`: give exactly one of `role` "
                f"({', '.join(r.value for r in DatabaseRole)}) or `grants`"
            )
        return self

    @property
    def effective_grants(self) -> Grants:
        if self.grants is not None:
            return self.grants
        assert self.role is not None
        return ROLE_GRANTS[self.role]

    @property
    def creates_objects(self) -> bool:
        """Whether objects this user creates later need default privileges for the others."""
        return SchemaPrivilege.CREATE in self.effective_grants.schema_


class ScriptSpec(BaseModel):
    """One post-restore SQL script: inline `sql` or a `file` (relative to the config file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._:/-]*$")
    sql: str | None = None
    file: str | None = None
    database: DatabaseName | None = None  # default: the cluster's own database

    @model_validator(mode="after")
    def _sql_or_file(self) -> Self:
        if (self.sql is None) == (self.file is None):
            raise ValueError(f"script `{self.name}`: give exactly one of `sql` or `file`")
        if self.sql is not None and not self.sql.strip():
            raise ValueError(f"script `{self.name}`: `sql` is empty")
        return self


class TargetConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    pattern: str = Field(min_length=1)  # fnmatch, on the (lower-case) target cluster id
    users: list[UserSpec] = Field(default_factory=list)
    scripts: list[ScriptSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        for kind, names in (
            ("user", [u.name for u in self.users]),
            ("script", [s.name for s in self.scripts]),
        ):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"pattern `{self.pattern}`: {kind} `{repeated[0]}` appears twice")
        return self


class Script(BaseModel):
    """A script ready to run: its SQL text resolved."""

    model_config = ConfigDict(frozen=True)

    name: str
    sql: str
    database: str | None = None


class ClusterSetup(BaseModel):
    """Everything configured for one target cluster, patterns merged in file order."""

    model_config = ConfigDict(frozen=True)

    users: list[UserSpec] = Field(default_factory=list)
    scripts: list[Script] = Field(default_factory=list)


class DatabaseConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    targets: list[TargetConfig] = Field(default_factory=list)
    _base_dir: Path = PrivateAttr(default=Path("."))  # where `file:` paths are resolved

    def for_cluster(self, cluster_id: str) -> ClusterSetup:
        """Users and scripts of every pattern matching `cluster_id`; a user defined twice fails."""
        users: dict[str, tuple[str, UserSpec]] = {}
        scripts: list[Script] = []
        for target in self.targets:
            if not fnmatchcase(cluster_id.lower(), target.pattern.lower()):
                continue
            for user in target.users:
                if user.name in users:
                    raise ConfigurationError(
                        f"user `{user.name}` for `{cluster_id}` is configured by both pattern "
                        f"`{users[user.name][0]}` and pattern `{target.pattern}`"
                    )
                users[user.name] = (target.pattern, user)
            scripts.extend(self._resolve(script) for script in target.scripts)
        names = [s.name for s in scripts]
        if len(set(names)) != len(names):
            repeated = next(n for n in names if names.count(n) > 1)
            raise ConfigurationError(f"script `{repeated}` for `{cluster_id}` is configured twice")
        return ClusterSetup(users=[spec for _, spec in users.values()], scripts=scripts)

    def _resolve(self, script: ScriptSpec) -> Script:
        if script.sql is not None:
            return Script(name=script.name, sql=script.sql, database=script.database)
        assert script.file is not None
        path = self._base_dir / script.file
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"script `{script.name}`: cannot read `{path}`: {exc.strerror}"
            ) from exc
        if not text.strip():
            raise ConfigurationError(f"script `{script.name}`: `{path}` is empty")
        return Script(name=script.name, sql=text, database=script.database)

    def check_files(self) -> None:
        """Read every script file once, so a missing file fails at load rather than mid-restore."""
        for target in self.targets:
            for script in target.scripts:
                self._resolve(script)


def parse_database_config(text: str, *, base_dir: Path = Path(".")) -> DatabaseConfig:
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"database configuration is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigurationError("database configuration must be a mapping with `targets:`")
    try:
        config = DatabaseConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigurationError(f"database configuration is invalid: {_errors(exc)}") from exc
    config._base_dir = base_dir
    config.check_files()
    return config


@lru_cache(maxsize=4)
def load_database_config(path: str | None) -> DatabaseConfig:
    """Read once per process; no path means nothing configured (the master reset still runs)."""
    if path is None:
        return DatabaseConfig()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the database configuration `{path}`: {exc.strerror}"
        ) from exc
    return parse_database_config(text, base_dir=file.parent)


def _errors(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"])
        parts.append(f"{location}: {error['msg']}" if location else error["msg"])
    return "; ".join(parts)
