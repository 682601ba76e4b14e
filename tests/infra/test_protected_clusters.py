"""Protected clusters have one source, the policy file: the bot reads its `protected_targets`, and
the stack hands the same patterns to every function that builds the pipeline's settings."""

from __future__ import annotations

import json

import pytest

from infra import constants
from infra.config import ConfigError, parse_config
from tests.infra.test_config import with_changes

pytestmark = pytest.mark.infra


def test_every_function_gets_the_policy_files_protected_targets(synthesized):
    expected = list(synthesized.config.policy().protected_targets)
    assert expected  # the example policy protects prod-* and *-primary
    handlers = {spec.handler for spec in constants.ALL_FUNCTIONS}
    seen = 0
    for function in synthesized.of_type("AWS::Lambda::Function").values():
        props = function["Properties"]
        if props.get("Handler") not in handlers:
            continue  # CDK's own helper functions
        variables = props["Environment"]["Variables"]
        if "AURORA_RESTORE_PROTECTED_CLUSTERS" in variables:
            assert json.loads(variables["AURORA_RESTORE_PROTECTED_CLUSTERS"]) == expected
            seen += 1
    stage_handlers = {spec.handler for spec in constants.STAGE_FUNCTIONS}
    assert seen >= len(stage_handlers)


def test_protected_clusters_in_the_deployment_file_are_refused_with_where_they_belong():
    with pytest.raises(ConfigError) as caught:
        parse_config(with_changes(rds__protected_clusters=["prod-*"]), "test.yaml")
    assert "rds.protected_clusters is set in the policy file" in str(caught.value)
    assert "protected_targets" in str(caught.value)
