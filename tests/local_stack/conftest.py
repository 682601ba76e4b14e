from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.rds_rules import RdsRules, enforced
from pipeline.aws import AwsClients
from tests.slack_fixtures import slack, slack_client

__all__ = ["slack", "slack_client"]


@pytest.fixture
def rules() -> Iterator[RdsRules]:
    """The emulated RDS rules on moto, statuses ending at the next call (time scale 0)."""
    with enforced(RdsRules(time_scale=0)) as installed:
        yield installed


@pytest.fixture
def rds(aws: AwsClients, rules: RdsRules) -> Any:
    return aws.rds()
