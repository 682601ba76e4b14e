"""Bot settings, read from the environment (prefix `AURORA_RESTORE_`) and validated at cold start.

A plain pydantic model read by `BotSettings.from_environment()` rather than a pydantic-settings
class: the same fields and rules, without importing pydantic-settings on the ack path (it cost
the Slack endpoint's cold start tens of milliseconds; the pipeline's settings still use it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

ENV_PREFIX = "AURORA_RESTORE_"
REGION_VARIABLE = "AWS_REGION"  # set by Lambda itself; the prefix does not apply


class BotSettings(BaseModel):
    """On AWS the secrets come from Secrets Manager (`*_SECRET_ARN`); the local stack sets them directly."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    region: str = "us-east-1"
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

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> BotSettings:
        """`AURORA_RESTORE_<FIELD>` (any case) for each field, `AWS_REGION` for the region."""
        source = os.environ if environ is None else environ
        values: dict[str, str] = {}
        for name, value in source.items():
            upper = name.upper()
            if upper == REGION_VARIABLE:
                values["region"] = value
            elif upper.startswith(ENV_PREFIX):
                field = upper.removeprefix(ENV_PREFIX).lower()
                if field != "region":  # only AWS_REGION names the region
                    values[field] = value
        return cls.model_validate(values)

    @model_validator(mode="after")
    def _sources_given(self) -> BotSettings:
        if self.signing_secret is None and self.signing_secret_arn is None:
            raise ValueError("set SIGNING_SECRET_ARN (or SIGNING_SECRET in the local stack)")
        if self.bot_token is None and self.bot_token_secret_arn is None:
            raise ValueError("set BOT_TOKEN_SECRET_ARN (or BOT_TOKEN in the local stack)")
        if self.policy_path is None and self.policy_parameter is None:
            raise ValueError("set POLICY_PATH or POLICY_PARAMETER")
        return self
