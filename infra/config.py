"""The deployment's typed configuration: a YAML file or CDK context, validated at synth.

A mistake (a malformed VPC id, a pattern that would grant every cluster, a policy whose approval
expiry the state machine's own timeout cannot hold) stops `cdk synth` with a message naming the
field.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from aws_cdk import aws_logs as logs
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.policy import Policy
from infra.constants import DEFAULT_STACK_NAME
from pipeline.database.connection import rds_ca_bundle_problem
from pipeline.naming import validate_instance_class, validate_region
from pipeline.settings import RestoreLimits
from pipeline.statemachine import approval_timing_problem

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO_ROOT / "infra" / "config.example.yaml"
# The RDS CA bundle shipped with the repository (`make rds-ca-bundle` refreshes it).
SHIPPED_CA_BUNDLE = Path("infra/certs/rds-ca-bundle.pem")
CA_BUNDLE_HELP = (
    "download AWS's bundle: curl -fsSLo infra/certs/rds-ca-bundle.pem "
    "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem (docs/deploy.md)"
)

_CLUSTER_PATTERN = re.compile(r"^[A-Za-z0-9*?-]{1,63}$")
_SNAPSHOT_PATTERN = re.compile(r"^(rds:)?[A-Za-z0-9*?-]{1,255}$")
# A key ARN, never an alias ARN: in an IAM policy an alias ARN controls the alias, not the key
# it points to, so every grant made from it would be refused (KMS developer guide,
# cmks-in-iam-policies: an alias ARN in Resource controls access to the alias, not the key).
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,254}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# CloudWatch Logs' retention periods (jsii enums carry names, not day counts).
RETENTION_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


class ConfigError(ValueError):
    """The deployment configuration is missing or invalid."""


def _pattern_check(regex: re.Pattern[str], what: str) -> Any:
    def check(value: str) -> str:
        if regex.match(value) is None:
            raise ValueError(
                f"`{value}` is not a {what} name pattern (letters, digits, -, * and ?)"
            )
        if not value.removeprefix("rds:").strip("*?"):
            raise ValueError(
                f"`{value}` would match every {what}: name the {what}s the pipeline may touch"
            )
        return value

    return AfterValidator(check)


def _regex_check(regex: re.Pattern[str], what: str) -> Any:
    def check(value: str) -> str:
        if regex.match(value) is None:
            raise ValueError(f"`{value}` is not {what}")
        return value

    return AfterValidator(check)


ClusterPattern = Annotated[str, _pattern_check(_CLUSTER_PATTERN, "cluster")]
SnapshotPattern = Annotated[str, _pattern_check(_SNAPSHOT_PATTERN, "snapshot")]
VpcId = Annotated[str, _regex_check(re.compile(r"^vpc-[0-9a-f]{8,17}$"), "a VPC id (vpc-...)")]
SubnetId = Annotated[
    str, _regex_check(re.compile(r"^subnet-[0-9a-f]{8,17}$"), "a subnet id (subnet-...)")
]
SecurityGroupId = Annotated[
    str, _regex_check(re.compile(r"^sg-[0-9a-f]{8,17}$"), "a security group id (sg-...)")
]
RouteTableId = Annotated[
    str, _regex_check(re.compile(r"^rtb-[0-9a-f]{8,17}$"), "a route table id (rtb-...)")
]
KmsKeyArn = Annotated[
    str, _regex_check(_KMS_KEY_ARN, "a KMS key ARN (arn:aws:kms:...:key/..., not an alias)")
]
ResourceName = Annotated[str, _regex_check(_NAME, "a resource name (letters, digits, -)")]
Email = Annotated[str, _regex_check(_EMAIL, "an email address")]
Region = Annotated[str, AfterValidator(validate_region)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Subnet(_Strict):
    id: SubnetId
    availability_zone: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")


class SetupService(StrEnum):
    """The AWS APIs the database set-up function calls from inside the VPC (infra.network)."""

    DYNAMODB = "dynamodb"  # operations and audit tables
    RDS = "rds"  # DescribeDBClusters, ModifyDBCluster (master password)
    SECRETS_MANAGER = "secretsmanager"  # the credential secrets
    SNS = "sns"  # progress events

    @property
    def construct_name(self) -> str:
        return {"dynamodb": "DynamoDb", "secretsmanager": "SecretsManager"}.get(
            self.value, self.value.capitalize()
        )


class NetworkConfig(_Strict):
    """Where the database set-up function runs and where restored clusters are placed."""

    vpc_id: VpcId
    subnets: list[Subnet] = Field(min_length=1)
    function_security_group_ids: list[SecurityGroupId] = Field(min_length=1)
    database_security_group_ids: list[SecurityGroupId] = Field(default_factory=list)
    db_subnet_group_name: ResourceName | None = None  # None: the stack creates one from `subnets`
    # How the set-up function reaches DynamoDB, SNS, RDS and Secrets Manager: no default, a VPC
    # without either silently times out every restore at stage 8.
    #   nat:       the subnets route to a NAT gateway (the operator vouches for it);
    #   endpoints: the stack creates the VPC endpoints (less `existing_endpoints`).
    aws_access: Literal["nat", "endpoints"]
    route_table_ids: list[RouteTableId] = Field(default_factory=list)  # the subnets' (DynamoDB)
    existing_endpoints: list[SetupService] = Field(default_factory=list)  # already in the VPC

    @property
    def endpoint_services(self) -> list[SetupService]:
        """The services the stack creates VPC endpoints for."""
        if self.aws_access == "nat":
            return []
        return [service for service in SetupService if service not in self.existing_endpoints]

    @model_validator(mode="after")
    def _access_is_complete(self) -> Self:
        if self.aws_access == "nat" and (self.route_table_ids or self.existing_endpoints):
            raise ValueError(
                "route_table_ids and existing_endpoints apply to aws_access: endpoints only"
            )
        if SetupService.DYNAMODB in self.endpoint_services and not self.route_table_ids:
            raise ValueError(
                "aws_access: endpoints needs route_table_ids, the route tables of `subnets`, for "
                "the DynamoDB gateway endpoint (or list dynamodb under existing_endpoints)"
            )
        return self


def moved_to_policy(key: str, message: str) -> Any:
    """A before-validator refusing a setting that now lives in the policy file, saying where."""

    def refuse(cls: type, data: Any) -> Any:
        if isinstance(data, dict) and key in data:
            raise ValueError(message)
        return data

    return classmethod(refuse)


# The deployment settings retention had before it moved to the policy, and their names there.
RETENTION_MOVED = {
    "kept_cluster_days": "kept_cluster_days",
    "kept_cluster_notice_hours": "notice_hours",
    "final_snapshot_days": "final_snapshot_days",
}


def retention_moved_to_policy() -> Any:
    """A before-validator, as moved_to_policy, naming each old key and its place in the policy."""

    def refuse(cls: type, data: Any) -> Any:
        found = [key for key in RETENTION_MOVED if isinstance(data, dict) and key in data]
        if found:
            moves = ", ".join(f"{key} as retention.{RETENTION_MOVED[key]}" for key in found)
            raise ValueError(
                f"{', '.join(found)} moved to the policy file (policy_file): set {moves} in its "
                "`retention:` section (defaults, and overrides by target; docs/deploy.md, "
                "Upgrading), and remove it here"
            )
        return data

    return classmethod(refuse)


class RdsConfig(_Strict):
    """The clusters and snapshots the pipeline may act on; IAM statements are scoped to these."""

    target_cluster_patterns: list[ClusterPattern] = Field(min_length=1)
    snapshot_patterns: list[SnapshotPattern] = Field(min_length=1)
    # Instances of existing targets that DeleteTarget removes; `<target pattern>-*` (the names
    # the pipeline gives new instances) is always included.
    instance_patterns: list[ClusterPattern] = Field(default_factory=list)
    source_regions: list[Region] = Field(default_factory=list)  # for cross-region copies
    source_accounts: list[Annotated[str, Field(pattern=r"^\d{12}$")]] = Field(
        default_factory=list
    )  # accounts that share snapshots with this one
    kms_key_arn: KmsKeyArn | None = None  # key for copies of encrypted snapshots and restores
    source_kms_key_arns: list[KmsKeyArn] = Field(default_factory=list)  # keys of source snapshots
    db_cluster_parameter_group: ResourceName | None = None
    default_instance_class: Annotated[str, AfterValidator(validate_instance_class)] = "db.r6g.large"

    # One source for the clusters never touched: the policy file, which the bot reads at run time
    # and the stack passes to the pipeline's functions.
    _moved = model_validator(mode="before")(
        moved_to_policy(
            "protected_clusters",
            "rds.protected_clusters is set in the policy file (policy_file) as "
            "protected_targets, which both the bot and the pipeline use: move it there",
        )
    )

    @property
    def all_instance_patterns(self) -> list[str]:
        derived = [f"{pattern}-*" for pattern in self.target_cluster_patterns]
        return list(dict.fromkeys([*derived, *self.instance_patterns]))


class DatabaseFilesConfig(_Strict):
    """Files shipped with the set-up function (paths relative to the repository root)."""

    # Users and post-restore SQL (pipeline.database); `file:` scripts beside it. None: the stage
    # only resets the master password (and proves it over TLS).
    config_file: Path | None = None
    # TLS to restored clusters is always verified; Lambda's trust store has no RDS CA, so the
    # bundle is always shipped: the repository's by default.
    ca_bundle_file: Path = SHIPPED_CA_BUNDLE

    def resolved(self, path: Path) -> Path:
        return path if path.is_absolute() else REPO_ROOT / path


class ApiConfig(_Strict):
    rate_limit: int = Field(default=10, ge=1, le=10_000)  # requests per second
    burst_limit: int = Field(default=20, ge=1, le=5_000)


class InfraConfig(_Strict):
    stack_name: ResourceName = DEFAULT_STACK_NAME
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: Region | None = None
    data_key_arn: KmsKeyArn | None = None  # tables, topics, secrets; None: the stack creates one
    policy_file: Path  # the bot's policy YAML, relative to the repository root
    network: NetworkConfig
    rds: RdsConfig
    database: DatabaseFilesConfig = DatabaseFilesConfig()
    api: ApiConfig = ApiConfig()
    # The approval expiry is the policy file's `approval_expiry_seconds` (one source of truth,
    # read by the bot at run time); the lock TTL and the wait loops' own budgets (the pipeline's
    # documented defaults, pipeline.settings.RestoreLimits) are checked against it at synth.
    lock_ttl_seconds: int = Field(
        default=24 * 3600, ge=600
    )  # the restore after approval, retries too
    audit_retention_days: int = Field(default=365, ge=1)
    log_retention_days: int = 90
    operator_emails: list[Email] = Field(default_factory=list)

    _moved = model_validator(mode="before")(
        moved_to_policy(
            "approval_expiry_seconds",
            "approval_expiry_seconds is set in the policy file (policy_file), which the bot "
            "reads: remove it here",
        )
    )
    # How long a replace keeps the old cluster and the tool's snapshots is the policy's, by
    # target (bot.retention_policy); the stack passes its defaults to the pipeline's functions.
    _retention_moved = model_validator(mode="before")(retention_moved_to_policy())
    _one_budget_gone = model_validator(mode="before")(
        moved_to_policy(
            "max_wait_attempts",
            "max_wait_attempts is gone: each wait loop has its own budget (the copy's from its "
            "size; docs/deploy.md): remove it here",
        )
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.log_retention_days not in RETENTION_DAYS:
            raise ValueError(
                f"log_retention_days {self.log_retention_days} is not one CloudWatch Logs offers: "
                f"{sorted(RETENTION_DAYS)}"
            )
        if (self.account is None) != (self.region is None):
            raise ValueError("set both account and region, or neither (environment-agnostic)")
        if not self.policy_path.is_file():
            raise ValueError(f"policy_file {self.policy_path} does not exist")
        expiry = self.policy().approval_expiry_seconds
        problem = approval_timing_problem(
            expiry,
            wait_budgets=RestoreLimits.model_construct().wait_budgets(),  # the defaults, not env
            lock_ttl_seconds=self.lock_ttl_seconds,
        )
        if problem:
            raise ValueError(f"{problem} (approval_expiry_seconds is {self.policy_file}'s)")
        database = self.database
        if database.config_file and not database.resolved(database.config_file).is_file():
            raise ValueError(
                f"database file {database.resolved(database.config_file)} does not exist"
            )
        problem = rds_ca_bundle_problem(database.resolved(database.ca_bundle_file))
        if problem:
            raise ValueError(f"database.ca_bundle_file: {problem}; {CA_BUNDLE_HELP}")
        return self

    @property
    def log_retention(self) -> logs.RetentionDays:
        return RETENTION_DAYS[self.log_retention_days]

    @property
    def policy_path(self) -> Path:
        return self.policy_file if self.policy_file.is_absolute() else REPO_ROOT / self.policy_file

    def policy_text(self) -> str:
        """The policy YAML as delivered to the bot; it must at least parse to a mapping."""
        text = self.policy_path.read_text(encoding="utf-8")
        if not isinstance(yaml.safe_load(text), dict):
            raise ConfigError(f"{self.policy_path} is not a YAML mapping")
        return text

    def policy(self) -> Policy:
        """The policy as the bot will read it: an invalid one stops the synth."""
        try:
            return Policy.from_yaml(self.policy_text())
        except ValidationError as exc:
            raise ValueError(
                f"policy_file {self.policy_path} is not a valid policy: {exc}"
            ) from exc


def parse_config(data: Any, source: str) -> InfraConfig:
    """Validate raw configuration; errors name the source and each failing field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
    try:
        return InfraConfig.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(part) for part in error['loc']) or '(config)'}: {error['msg']}"
            for error in exc.errors()
        ]
        raise ConfigError(f"{source} is not a valid configuration:\n" + "\n".join(lines)) from exc


def load_config(path: Path) -> InfraConfig:
    if not path.is_file():
        raise ConfigError(f"configuration file {path} does not exist")
    return parse_config(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))
