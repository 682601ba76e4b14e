"""The bot's settings: read from the environment the way the CDK stack and the local stack set it,
and every bad value refused at cold start with the variable's name and what it should be."""

from __future__ import annotations

import pytest

from bot.settings import BotSettings, Secret
from pipeline.errors import ConfigurationError

ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:aurora-restore"
ON_AWS = {
    "AURORA_RESTORE_STATE_MACHINE_ARN": ARN,
    "AURORA_RESTORE_SIGNING_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:signing",
    "AURORA_RESTORE_BOT_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:token",
    "AURORA_RESTORE_POLICY_PARAMETER": "/aurora-restore/policy",
    "AWS_REGION": "eu-west-1",
}


def test_the_environment_the_stack_sets_is_read() -> None:
    settings = BotSettings.from_environment(
        {**ON_AWS, "aurora_restore_secret_max_age_seconds": "60", "PATH": "/usr/bin"}
    )

    assert settings.state_machine_arn == ARN
    assert settings.region == "eu-west-1"
    assert settings.policy_parameter == "/aurora-restore/policy"
    assert settings.secret_max_age_seconds == 60
    assert settings.usergroup_cache_seconds == 60
    assert settings.signing_secret is None and settings.slack_api_url is None
    assert settings.response_url_base is None  # only Slack's own response_urls are kept


def test_secrets_set_directly_never_show_in_a_repr() -> None:
    environ = {
        **ON_AWS,
        "AURORA_RESTORE_SIGNING_SECRET": "s3cr3t-signing",
        "AURORA_RESTORE_BOT_TOKEN": "xoxb-s3cr3t",
    }
    settings = BotSettings.from_environment(environ)

    assert settings.signing_secret == Secret("s3cr3t-signing")
    assert settings.bot_token is not None
    assert settings.bot_token.get_secret_value() == "xoxb-s3cr3t"
    assert "s3cr3t" not in repr(settings)
    assert "s3cr3t" not in str(settings)


def test_only_aws_region_names_the_region() -> None:
    settings = BotSettings.from_environment({**ON_AWS, "AURORA_RESTORE_REGION": "us-west-2"})
    assert settings.region == "eu-west-1"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            {"AURORA_RESTORE_STATE_MACHINE_ARN": None},
            "AURORA_RESTORE_STATE_MACHINE_ARN must be set",
        ),
        (
            {"AURORA_RESTORE_STATE_MACHINE_ARN": "arn:aws:lambda:eu-west-1:1:function:x"},
            "AURORA_RESTORE_STATE_MACHINE_ARN must be a Step Functions state machine ARN",
        ),
        (
            {"AURORA_RESTORE_SECRET_MAX_AGE_SECONDS": "five"},
            "AURORA_RESTORE_SECRET_MAX_AGE_SECONDS must be a whole number of seconds",
        ),
        (
            {"AURORA_RESTORE_USERGROUP_CACHE_SECONDS": "-1"},
            "AURORA_RESTORE_USERGROUP_CACHE_SECONDS must be a whole number of seconds",
        ),
        ({"AURORA_RESTORE_SIGNING_SECRET_ARN": None}, "set SIGNING_SECRET_ARN"),
        ({"AURORA_RESTORE_BOT_TOKEN_SECRET_ARN": None}, "set BOT_TOKEN_SECRET_ARN"),
        ({"AURORA_RESTORE_POLICY_PARAMETER": None}, "set POLICY_PATH or POLICY_PARAMETER"),
        (
            {"AURORA_RESTORE_RESPONSE_URL_BASE": "127.0.0.1:8080/response"},
            r"AURORA_RESTORE_RESPONSE_URL_BASE must be an http\(s\) URL ending in /",
        ),
    ],
)
def test_a_bad_setting_fails_the_cold_start_naming_it(
    change: dict[str, str | None], says: str
) -> None:
    environ = {**ON_AWS, **change}
    with pytest.raises(ConfigurationError, match=says):
        BotSettings.from_environment({k: v for k, v in environ.items() if v is not None})


def test_field_names_are_what_a_function_environment_may_set() -> None:
    assert BotSettings.required_field_names() == {"state_machine_arn"}
    assert {"signing_secret_arn", "policy_parameter", "slack_api_url"} <= BotSettings.field_names()
