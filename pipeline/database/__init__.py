"""Stage 8 for Aurora PostgreSQL: credential hygiene, users and grants, post-restore SQL."""

from pipeline.database.config import (
    DatabaseConfig,
    DatabaseRole,
    UserSpec,
    load_database_config,
    parse_database_config,
)
from pipeline.database.connection import Connector, Pg8000Connector, connector_from_settings
from pipeline.database.credentials import master_secret_name, secret_name
from pipeline.database.passwords import generate_password, scram_sha256_verifier
from pipeline.database.stage import setup_database

__all__ = [
    "Connector",
    "DatabaseConfig",
    "DatabaseRole",
    "Pg8000Connector",
    "UserSpec",
    "connector_from_settings",
    "generate_password",
    "load_database_config",
    "master_secret_name",
    "parse_database_config",
    "scram_sha256_verifier",
    "secret_name",
    "setup_database",
]
