"""Pipeline settings, read from the environment and validated at cold start."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.naming import validate_instance_class


class RestoreLimits(BaseSettings):
    """What the approval expiry is checked against (pipeline.statemachine): the bot reads these
    with the policy, without the rest of the pipeline's settings."""

    model_config = SettingsConfigDict(env_prefix="AURORA_RESTORE_", extra="ignore", frozen=True)

    max_wait_attempts: int = Field(default=120, ge=1, le=10_000)
    # The target lock outlives the approval wait by this much, and is renewed for this long when
    # the restore begins: at least the longest restore.
    lock_ttl_seconds: int = Field(default=9 * 3600, ge=60)  # covers restore_budget_seconds


class PipelineSettings(RestoreLimits):
    """Environment variables are prefixed `AURORA_RESTORE_`, e.g. `AURORA_RESTORE_OPERATIONS_TABLE`."""

    model_config = SettingsConfigDict(env_prefix="AURORA_RESTORE_", extra="ignore", frozen=True)

    region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    operations_table: str = Field(min_length=3)
    audit_table: str = Field(min_length=3)
    progress_topic_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sns:")
    db_subnet_group: str | None = None
    vpc_security_group_ids: list[str] = Field(default_factory=list)
    kms_key_id: str | None = (
        None  # target-region key for cross-region copies of encrypted snapshots
    )
    db_cluster_parameter_group: str | None = None
    default_instance_class: str = "db.r6g.large"
    protected_clusters: list[str] = Field(default_factory=list)  # fnmatch patterns, never touched
    audit_retention_days: int = Field(default=365, ge=1)
    database_config_path: str | None = (
        None  # users and post-restore SQL (YAML); see pipeline.database
    )
    secret_name_prefix: str = "aurora-restore"  # noqa: S105 - a name prefix, not a secret
    aws_endpoint_url: str | None = None  # the local stack's moto server; unset on AWS
    # Database stage (pipeline.database). TLS is always on for Aurora; `db_ca_bundle_path` is the
    # RDS certificate bundle (global-bundle.pem) the server certificate is verified against.
    db_tls: bool = True
    db_ca_bundle_path: str | None = None
    db_connect_timeout_seconds: int = Field(default=10, ge=1, le=300)
    # Local stack only: "host:port" of the local PostgreSQL serving every cluster endpoint.
    db_endpoint_override: str | None = Field(default=None, pattern=r"^[^\s:]+:\d{1,5}$")
    secrets_kms_key_id: str | None = None  # KMS key for the credential secrets (default: AWS's)
    # The snapshot names the deployment's IAM lets the pipeline restore or copy (infra's
    # rds.snapshot_patterns, IAM wildcards); empty: not configured, not checked.
    snapshot_patterns: list[str] = Field(default_factory=list)

    @field_validator("default_instance_class")
    @classmethod
    def _instance_class(cls, value: str) -> str:
        return validate_instance_class(value)


@lru_cache(maxsize=1)
def get_settings() -> PipelineSettings:
    """Read once per process; a bad configuration fails the cold start with a clear error."""
    return PipelineSettings()
