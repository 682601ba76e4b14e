"""Pipeline settings, read from the environment and validated at cold start."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.models import Plan
from pipeline.naming import validate_instance_class
from pipeline.retention_terms import RetentionTerms
from pipeline.wait_budgets import CopyBudget, WaitLoop


class RestoreLimits(BaseSettings):
    """What the approval expiry is checked against (pipeline.statemachine): the bot reads these
    with the policy, without the rest of the pipeline's settings."""

    model_config = SettingsConfigDict(env_prefix="AURORA_RESTORE_", extra="ignore", frozen=True)

    # Each wait loop's own budget in checks, 30 s apart (pipeline.wait_budgets). A copy gets 30
    # min plus 1 min per GiB (60 GiB an hour, a slow cross-Region rate), then more while its
    # PercentProgress moves, at most 11 h; deleting the target 1 h; the restored cluster 2 h;
    # its instances 2 h.
    copy_wait_max_attempts: int = Field(default=1320, ge=1)
    copy_wait_base_seconds: int = Field(default=1800, ge=0)
    copy_wait_seconds_per_gib: int = Field(default=60, ge=0)
    copy_stall_attempts: int = Field(default=40, ge=1)  # 20 min without progress
    safety_wait_max_attempts: int = Field(default=120, ge=1)  # 1 h for the safety snapshot
    delete_wait_max_attempts: int = Field(default=120, ge=1)
    cluster_wait_max_attempts: int = Field(default=240, ge=1)
    instances_wait_max_attempts: int = Field(default=240, ge=1)
    # Renaming instances takes "about 10 minutes" (RDS user guide, Renaming a DB instance),
    # done twice (old, then new instances), plus the clusters' two minutes: 40 min each way.
    swap_wait_max_attempts: int = Field(default=80, ge=1)
    undo_wait_max_attempts: int = Field(default=80, ge=1)
    # A rollback starts the kept cluster first, minutes as a rule (Aurora user guide, Stopping
    # and starting an Aurora DB cluster): 30 min.
    start_wait_max_attempts: int = Field(default=60, ge=1)
    # The target lock outlives the approval wait by this much, and is renewed for this long when
    # the restore begins: at least the longest restore (restore_budget_seconds, 23.1 h with the
    # defaults).
    lock_ttl_seconds: int = Field(default=24 * 3600, ge=60)

    @model_validator(mode="after")
    def _within_the_limits(self) -> RestoreLimits:
        # Imported here: the definition module is read once the budgets are known.
        from pipeline.statemachine import (
            history_problem,
            restore_budget_seconds,
            timeout_seconds,
        )

        problem = history_problem(self.wait_budgets())
        if problem is not None:
            raise ValueError(problem)
        longest = restore_budget_seconds(self.wait_budgets())
        if longest >= timeout_seconds() or longest > self.lock_ttl_seconds:
            raise ValueError(
                f"with the wait budgets {self.wait_budgets()} the longest restore takes "
                f"{longest}s: beyond the state machine's timeout ({timeout_seconds()}s) or "
                f"lock_ttl_seconds ({self.lock_ttl_seconds}s)"
            )
        return self

    def wait_budgets(self) -> dict[str, int]:
        """Each loop's maximum number of checks, as ValidateRequest gives them to the Choices."""
        return {
            WaitLoop.COPY.value: self.copy_wait_max_attempts,
            WaitLoop.SAFETY.value: self.safety_wait_max_attempts,
            WaitLoop.DELETE.value: self.delete_wait_max_attempts,
            WaitLoop.CLUSTER.value: self.cluster_wait_max_attempts,
            WaitLoop.INSTANCES.value: self.instances_wait_max_attempts,
            WaitLoop.SWAP.value: self.swap_wait_max_attempts,
            WaitLoop.UNDO.value: self.undo_wait_max_attempts,
            WaitLoop.START.value: self.start_wait_max_attempts,
        }

    def copy_budget(self) -> CopyBudget:
        return CopyBudget(
            base_seconds=self.copy_wait_base_seconds,
            seconds_per_gib=self.copy_wait_seconds_per_gib,
            stall_attempts=self.copy_stall_attempts,
            max_attempts=self.copy_wait_max_attempts,
        )


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
    # Retention is the policy's, decided per target and carried by the request and the plan
    # (pipeline.retention_terms). These are the policy's `retention:` defaults, which the stack
    # passes (infra.constants.retention_environment), for what carries no terms of its own:
    # requests and snapshots made before retention was planned.
    kept_cluster_days: int = Field(default=3, ge=1, le=7)
    kept_cluster_notice_hours: int = Field(default=24, ge=1, le=7 * 24)
    final_snapshot_days: int = Field(default=30, ge=1)
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

    @model_validator(mode="after")
    def _retention(self) -> PipelineSettings:
        self.default_retention()  # fails the cold start, naming the terms' problem
        return self

    def default_retention(self) -> RetentionTerms:
        return RetentionTerms(
            kept_cluster_days=self.kept_cluster_days,
            notice_hours=self.kept_cluster_notice_hours,
            final_snapshot_days=self.final_snapshot_days,
        )

    def retention_of(self, plan: Plan) -> RetentionTerms:
        """The plan's terms, or these defaults for a plan stored before it had any."""
        return plan.retention or self.default_retention()


@lru_cache(maxsize=1)
def get_settings() -> PipelineSettings:
    """Read once per process; a bad configuration fails the cold start with a clear error."""
    return PipelineSettings()
