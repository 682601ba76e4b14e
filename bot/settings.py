"""Bot settings, read from the environment (prefix `AURORA_RESTORE_`) and validated at cold start."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class BotSettings(BaseSettings):
    """On AWS the secrets come from Secrets Manager (`*_SECRET_ARN`); the local stack sets them directly."""

    model_config = SettingsConfigDict(env_prefix="AURORA_RESTORE_", extra="ignore", frozen=True)

    region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")
    signing_secret_arn: str | None = None
    bot_token_secret_arn: str | None = None
    signing_secret: SecretStr | None = None
    bot_token: SecretStr | None = None
    secret_max_age_seconds: int = Field(default=300, ge=0)
    slack_api_url: str | None = None  # the Slack Web API emulator; unset on AWS
    policy_path: str | None = None
    policy_parameter: str | None = None  # SSM parameter holding the policy YAML
    usergroup_cache_seconds: int = Field(default=60, ge=0)
    aws_endpoint_url: str | None = None  # the local stack's moto server; unset on AWS

    @model_validator(mode="after")
    def _sources_given(self) -> BotSettings:
        if self.signing_secret is None and self.signing_secret_arn is None:
            raise ValueError("set SIGNING_SECRET_ARN (or SIGNING_SECRET in the local stack)")
        if self.bot_token is None and self.bot_token_secret_arn is None:
            raise ValueError("set BOT_TOKEN_SECRET_ARN (or BOT_TOKEN in the local stack)")
        if self.policy_path is None and self.policy_parameter is None:
            raise ValueError("set POLICY_PATH or POLICY_PARAMETER")
        return self
