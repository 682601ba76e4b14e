from tests.slack_fixtures import slack, slack_client

__all__ = ["slack", "slack_client"]
