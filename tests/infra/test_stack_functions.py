"""The Lambda functions and the Slack endpoint in the synthesized template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from aws_cdk.assertions import Match

from bot.policy import Policy
from bot.settings import BotSettings
from infra import constants
from infra.constants import retention_environment
from pipeline.retention_terms import RetentionTerms
from pipeline.settings import PipelineSettings
from tests.infra.stack_queries import (
    env_of,
    function_named,
    required,
    settings_keys,
)

pytestmark = pytest.mark.infra
CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"
EXAMPLE_POLICY = Path(__file__).resolve().parents[2] / "config" / "policy.example.yaml"
REQUIRED_PIPELINE_ENV = {
    "AURORA_RESTORE_OPERATIONS_TABLE": "operations",
    "AURORA_RESTORE_AUDIT_TABLE": "audit",
    "AURORA_RESTORE_PROGRESS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:progress",
}


def test_every_function_is_current_python_arm64_traced_with_json_logs_kept_for_a_while(synthesized):
    functions = synthesized.of_type("AWS::Lambda::Function")
    assert len(functions) == len(constants.ALL_FUNCTIONS)
    log_groups = synthesized.of_type("AWS::Logs::LogGroup")
    layer = next(iter(synthesized.of_type("AWS::Lambda::LayerVersion")))
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.14"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Layers"][0] == {"Ref": layer}  # the bot's also get the secrets extension
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        group = log_groups[props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] == synthesized.config.log_retention_days
    roles = {fn["Properties"]["Role"]["Fn::GetAtt"][0] for fn in functions.values()}
    assert len(roles) == len(functions)  # a role per function


def test_the_policys_retention_defaults_reach_the_swap_and_the_sweep(synthesized):
    expected = retention_environment(synthesized.config.policy().retention.defaults)
    for spec in (constants.SWAP_NAMES, constants.RETENTION_SWEEP):
        env = env_of(synthesized, spec)
        assert {name: env[name] for name in expected} == expected, spec


def test_the_retention_defaults_passed_are_the_policys_and_read_back_by_the_pipeline(
    monkeypatch: pytest.MonkeyPatch,
):
    policy = Policy.model_validate(
        {
            **yaml.safe_load(EXAMPLE_POLICY.read_text()),
            "retention": {"kept_cluster_days": 5, "notice_hours": 36, "final_snapshot_days": 90},
        }
    )
    env = retention_environment(policy.retention.defaults)
    for name, value in {**env, **REQUIRED_PIPELINE_ENV}.items():
        monkeypatch.setenv(name, value)
    assert PipelineSettings().default_retention() == RetentionTerms(
        kept_cluster_days=5, notice_hours=36, final_snapshot_days=90
    )


def test_function_environments_are_the_settings_the_code_reads(synthesized):
    pipeline_fields = set(PipelineSettings.model_fields)
    for spec in constants.STAGE_FUNCTIONS:
        keys = settings_keys(env_of(synthesized, spec))
        assert keys <= pipeline_fields, keys - pipeline_fields
        assert required(PipelineSettings) <= keys
    bot_fields = set(BotSettings.field_names())
    for spec in (constants.SLACK_ENDPOINT, constants.REQUEST_APPROVAL, constants.NOTIFIER):
        keys = settings_keys(env_of(synthesized, spec))
        assert keys <= pipeline_fields | bot_fields, keys - pipeline_fields - bot_fields
        assert BotSettings.required_field_names() | required(PipelineSettings) <= keys
        assert "policy_parameter" in keys and "bot_token_secret_arn" in keys
        # Only the local stack points the bot at an emulated Slack, or at its response_urls.
        assert not keys & {"slack_api_url", "response_url_base", "aws_endpoint_url"}, keys
    assert (
        env_of(synthesized, constants.SETUP_DATABASE)["POWERTOOLS_TRACER_CAPTURE_RESPONSE"]
        == "false"
    )


def test_the_slack_endpoint_is_throttled_access_logged_and_traced(synthesized):
    api = synthesized.config.api
    synthesized.template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {
                            "ThrottlingRateLimit": api.rate_limit,
                            "ThrottlingBurstLimit": api.burst_limit,
                            "DataTraceEnabled": False,
                        }
                    )
                ]
            ),
        },
    )
    endpoint, _ = function_named(synthesized, constants.SLACK_ENDPOINT)
    synthesized.template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {
            "HttpMethod": "POST",
            "Integration": Match.object_like({"Type": "AWS_PROXY"}),
        },
    )
    assert endpoint in json.dumps(synthesized.of_type("AWS::ApiGateway::Method"))
