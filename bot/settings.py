"""Bot settings, read from the environment (prefix `AURORA_RESTORE_`) and validated at cold start.

A frozen dataclass checked by hand rather than a pydantic model: the Slack endpoint builds these on
every cold start before its first answer, and importing pydantic alone cost that answer about as
much as Bolt's own set-up (see `make bench`, cold_start). The pipeline's settings, read where
speed matters less, use pydantic-settings. A bad value fails the cold start with a
`ConfigurationError` naming the variable and what it should be.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

from pipeline.errors import ConfigurationError

ENV_PREFIX = "AURORA_RESTORE_"
REGION_VARIABLE = "AWS_REGION"  # set by Lambda itself; the prefix does not apply
_STATE_MACHINE_ARN = re.compile(r"arn:aws[a-z-]*:states:\S+")
_URL_BASE = re.compile(r"https?://[^/\s?#]+/([^\s?#]*/)?")


class Secret:
    """A secret value that never shows itself in a repr, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, kw_only=True)
class BotSettings:
    """On AWS the secrets come from Secrets Manager (`*_SECRET_ARN`); the local stack sets them directly."""

    state_machine_arn: str
    region: str = "us-east-1"
    signing_secret_arn: str | None = None
    bot_token_secret_arn: str | None = None
    signing_secret: Secret | None = None
    bot_token: Secret | None = None
    secret_max_age_seconds: int = 300
    slack_api_url: str | None = None  # the Slack Web API emulator; unset on AWS
    policy_path: str | None = None
    policy_parameter: str | None = None  # SSM parameter holding the policy YAML
    usergroup_cache_seconds: int = 60
    aws_endpoint_url: str | None = None  # the local stack's moto server; unset on AWS
    # Where the local stack's Slack emulator serves response_urls, accepted besides Slack's own
    # (https://hooks.slack.com/...: bot/response_url.py); unset on AWS.
    response_url_base: str | None = None

    def __post_init__(self) -> None:
        if not _STATE_MACHINE_ARN.fullmatch(self.state_machine_arn):
            raise _invalid("state_machine_arn", "a Step Functions state machine ARN")
        for name in ("secret_max_age_seconds", "usergroup_cache_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise _invalid(name, f"a whole number of seconds, 0 or more (got {value!r})")
        if self.signing_secret is None and self.signing_secret_arn is None:
            raise ConfigurationError(
                "set SIGNING_SECRET_ARN (or SIGNING_SECRET in the local stack)"
            )
        if self.bot_token is None and self.bot_token_secret_arn is None:
            raise ConfigurationError("set BOT_TOKEN_SECRET_ARN (or BOT_TOKEN in the local stack)")
        if self.policy_path is None and self.policy_parameter is None:
            raise ConfigurationError("set POLICY_PATH or POLICY_PARAMETER")
        if self.response_url_base is not None and not _URL_BASE.fullmatch(self.response_url_base):
            raise _invalid("response_url_base", "an http(s) URL ending in / (or unset)")

    @classmethod
    def field_names(cls) -> frozenset[str]:
        """The settings a function's environment may set (`AURORA_RESTORE_<NAME>`)."""
        return frozenset(f.name for f in fields(cls))

    @classmethod
    def required_field_names(cls) -> frozenset[str]:
        return frozenset(f.name for f in fields(cls) if f.default is MISSING)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> BotSettings:
        """`AURORA_RESTORE_<FIELD>` (any case) for each field, `AWS_REGION` for the region."""
        source = os.environ if environ is None else environ
        known = cls.field_names()
        values: dict[str, Any] = {}
        for name, value in source.items():
            upper = name.upper()
            if upper == REGION_VARIABLE:
                values["region"] = value
            elif upper.startswith(ENV_PREFIX):
                key = upper.removeprefix(ENV_PREFIX).lower()
                if key in known and key != "region":  # only AWS_REGION names the region
                    values[key] = value
        if "state_machine_arn" not in values:
            raise _invalid("state_machine_arn", "set (the restore state machine's ARN)")
        for key in ("secret_max_age_seconds", "usergroup_cache_seconds"):
            if key in values:
                values[key] = _whole_number(key, values[key])
        for key in ("signing_secret", "bot_token"):
            if key in values:
                values[key] = Secret(values[key])
        return cls(**values)


def _whole_number(name: str, text: str) -> int:
    cleaned = text.strip()
    if not (cleaned.isascii() and cleaned.isdigit()):
        raise _invalid(name, f"a whole number of seconds, 0 or more (got {text!r})")
    return int(cleaned)


def _invalid(name: str, expected: str) -> ConfigurationError:
    return ConfigurationError(f"{ENV_PREFIX}{name.upper()} must be {expected}")
