"""Everything the bot's listeners and Lambda handlers need, built once per container.

The heavy parts (the policy, AWS clients, the operation store, the pipeline context) are built on
first use, so an invocation that only acknowledges a Slack request never pays for them (nor for
importing pydantic, YAML or boto3's service models).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient

from bot.settings import BotSettings
from bot.slack import UsergroupDirectory, build_web_client

if TYPE_CHECKING:
    from bot.policy import Policy
    from pipeline.aws import AwsClients
    from pipeline.context import PipelineContext
    from pipeline.store import OperationStore


def _utc_now() -> datetime:
    return datetime.now(UTC)


class BotDependencies:
    """Settings, policy, Slack credentials and (lazily) the pipeline context and its store."""

    def __init__(
        self,
        *,
        settings: BotSettings,
        policy: Policy | Callable[[], Policy],
        signing_secret: str,
        bot_token: str,
        pipeline: PipelineContext | Callable[[], PipelineContext],
        web_client: Callable[[], WebClient] | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.settings = settings
        self._policy = policy
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self._pipeline = pipeline
        self._web_client = web_client
        self.clock = clock

    @cached_property
    def policy(self) -> Policy:
        return self._policy() if callable(self._policy) else self._policy

    @cached_property
    def pipeline(self) -> PipelineContext:
        return self._pipeline() if callable(self._pipeline) else self._pipeline

    @property
    def store(self) -> OperationStore:
        return self.pipeline.store

    @property
    def aws(self) -> AwsClients:
        return self.pipeline.clients

    @property
    def stepfunctions(self) -> Any:
        return self.aws.stepfunctions

    def slack(self) -> WebClient:
        """The bot-token client (with bounded retries) for posting and updating messages."""
        if self._web_client is not None:
            return self._web_client()
        return self._default_client

    @cached_property
    def _default_client(self) -> WebClient:
        return build_web_client(self.bot_token, self.settings.slack_api_url)

    @cached_property
    def usergroups(self) -> UsergroupDirectory:
        return UsergroupDirectory(self.slack, ttl_seconds=self.settings.usergroup_cache_seconds)

    def groups_of(self, user: str) -> frozenset[str]:
        return self.usergroups.groups_of(user, self.policy.usergroups)
