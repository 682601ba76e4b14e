"""The bot's functions get AWS's Parameters and Secrets extension (the layer for their region and
architecture, on the port the bot reads); the pipeline's stages, which read no Slack secret, do not."""

from __future__ import annotations

from typing import Any

from bot.secrets_extension import PORT_VARIABLE
from infra import constants
from infra.constants import Role
from tests.infra.stack_queries import function_named

BOT_FUNCTIONS = [
    spec for spec in constants.ALL_FUNCTIONS if spec.role not in (Role.STAGE, Role.METRICS)
]


def layer_maps(function: dict[str, Any]) -> list[list[Any]]:
    return [
        layer["Fn::FindInMap"]
        for layer in function["Properties"]["Layers"]
        if "Fn::FindInMap" in layer
    ]


def test_bot_functions_read_secrets_through_the_extension(synthesized) -> None:
    mappings = synthesized.template.to_json()["Mappings"]
    assert {spec.role for spec in BOT_FUNCTIONS} == {Role.SLACK, Role.APPROVAL, Role.NOTIFIER}
    for spec in BOT_FUNCTIONS:
        _, function = function_named(synthesized, spec)
        [(mapping, region, version)] = layer_maps(function)
        assert region == {"Ref": "AWS::Region"}
        assert version.endswith("arm64")  # the functions run on Graviton
        layer_arn = mappings[mapping]["eu-west-1"][version]
        assert ":layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:" in layer_arn
        env = function["Properties"]["Environment"]["Variables"]
        assert env[PORT_VARIABLE].isdigit()
        # Cached no longer than the bot caches values itself, and never waited on for long.
        assert int(env["SECRETS_MANAGER_TTL"]) <= 300
        assert int(env["SECRETS_MANAGER_TIMEOUT_MILLIS"]) < 3000


def test_pipeline_stages_do_not_get_the_extension(synthesized) -> None:
    for spec in constants.ALL_FUNCTIONS:
        if spec.role in (Role.STAGE, Role.METRICS):
            _, function = function_named(synthesized, spec)
            assert layer_maps(function) == []
            assert PORT_VARIABLE not in function["Properties"]["Environment"]["Variables"]
