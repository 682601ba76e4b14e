"""The deployment configuration is validated before anything is synthesized."""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from pathlib import Path
from typing import Any

import certifi
import pytest
import yaml

from infra import app as infra_app
from infra.config import (
    EXAMPLE_CONFIG,
    REPO_ROOT,
    SHIPPED_CA_BUNDLE,
    ConfigError,
    load_config,
    parse_config,
)

pytestmark = pytest.mark.infra


def example() -> dict[str, Any]:
    return dict(yaml.safe_load(EXAMPLE_CONFIG.read_text()))


def with_changes(**changes: Any) -> dict[str, Any]:
    data = example()
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = data
        for part in parents:
            node = node[part]
        node[leaf] = value
    return data


def test_the_example_configuration_is_valid():
    config = load_config(EXAMPLE_CONFIG)
    assert config.rds.target_cluster_patterns == ["staging-*", "dev-*", "qa-*"]
    assert config.account is None  # environment-agnostic by default
    assert "staging-*-*" in config.rds.all_instance_patterns


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"rds__target_cluster_patterns": ["*"]}, "rds.target_cluster_patterns.0", "every cluster"),
        ({"rds__snapshot_patterns": ["rds:*?"]}, "rds.snapshot_patterns.0", "every snapshot"),
        ({"rds__target_cluster_patterns": ["prod_db"]}, "rds.target_cluster_patterns.0", "pattern"),
        ({"network__vpc_id": "vpc-nothex"}, "network.vpc_id", "VPC id"),
        ({"network__subnets": []}, "network.subnets", "at least 1"),
        ({"network__function_security_group_ids": ["sg-1"]}, "function_security_group_ids", "sg-"),
        ({"rds__kms_key_arn": "alias/mine"}, "rds.kms_key_arn", "KMS key ARN"),
        (
            {"rds__kms_key_arn": "arn:aws:kms:us-east-1:123456789012:alias/mine"},
            "rds.kms_key_arn",
            "not an alias",
        ),
        ({"log_retention_days": 42}, "(config)", "log_retention_days 42"),
        ({"account": "123456789012"}, "(config)", "both account and region"),
        ({"approval_expiry_seconds": 3600}, "(config)", "set in the policy file"),
        ({"max_wait_attempts": 120}, "(config)", "each wait loop has its own budget"),
        ({"lock_ttl_seconds": 3_600}, "(config)", "lock could expire"),
        ({"policy_file": "config/missing.yaml"}, "(config)", "does not exist"),
        ({"database__config_file": "config/none.yaml"}, "(config)", "does not exist"),
        ({"database__ca_bundle_file": "infra/none.pem"}, "(config)", "global-bundle.pem"),
        ({"database__ca_bundle_file": certifi.where()}, "(config)", "no unexpired Amazon RDS"),
        ({"network__aws_access": None}, "network.aws_access", "'nat' or 'endpoints'"),
        ({"network__route_table_ids": []}, "network", "needs route_table_ids"),
        ({"network__aws_access": "nat"}, "network", "endpoints only"),
        ({"network__route_table_ids": ["rt-1"]}, "network.route_table_ids.0", "rtb-"),
        ({"network__existing_endpoints": ["s3"]}, "network.existing_endpoints.0", "dynamodb"),
        ({"surprise": True}, "surprise", "Extra inputs"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_field(changes, field, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(with_changes(**changes), "test.yaml")
    text = str(caught.value)
    assert text.startswith("test.yaml is not a valid configuration")
    assert field in text
    assert message in text


def test_a_policy_whose_approval_wait_the_execution_cannot_hold_stops_the_synth(tmp_path: Path):
    policy = yaml.safe_load((REPO_ROOT / example()["policy_file"]).read_text())
    policy["approval_expiry_seconds"] = 7 * 24 * 3600  # the policy model's own maximum
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
    with pytest.raises(ConfigError, match="state machine's own timeout of 172800s"):
        parse_config(with_changes(policy_file=str(tmp_path / "policy.yaml")), "test.yaml")


@pytest.mark.parametrize(
    ("key", "policy_key"),
    [
        ("kept_cluster_days", "retention.kept_cluster_days"),
        ("kept_cluster_notice_hours", "retention.notice_hours"),
        ("final_snapshot_days", "retention.final_snapshot_days"),
    ],
)
def test_a_retention_setting_of_an_earlier_version_is_refused_saying_it_moved(key, policy_key):
    with pytest.raises(ConfigError) as caught:
        parse_config(with_changes(**{key: 3}), "test.yaml")
    text = str(caught.value)
    assert f"{key} moved to the policy file" in text
    assert f"set {key} as {policy_key} in its `retention:` section" in text


def test_every_old_retention_key_present_is_named_at_once():
    data = with_changes(kept_cluster_days=5, final_snapshot_days=60)
    with pytest.raises(ConfigError, match="kept_cluster_days, final_snapshot_days moved"):
        parse_config(data, "test.yaml")


def test_without_a_database_section_the_shipped_rds_ca_bundle_is_used():
    data = example()
    del data["database"]
    config = parse_config(data, "test.yaml")
    assert config.database.config_file is None
    assert config.database.ca_bundle_file == SHIPPED_CA_BUNDLE


def test_an_inline_context_configuration_is_used(monkeypatch: pytest.MonkeyPatch):
    data = with_changes(stack_name="InlineStack")
    app = infra_app.App(context={infra_app.CONTEXT_CONFIG_INLINE: data})
    assert infra_app.config_from_context(app).stack_name == "InlineStack"


def test_the_app_exits_with_a_clear_message_on_a_bad_file(tmp_path: Path, capsys):
    bad = tmp_path / "config.yaml"
    bad.write_text(yaml.safe_dump(with_changes(network__vpc_id="vpc-x")))
    assert infra_app.main(["--output", str(tmp_path / "out"), "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "network.vpc_id" in err
    assert not (tmp_path / "out" / "AuroraRestore.template.json").exists()
