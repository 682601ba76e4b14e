"""Build the bot's dependencies from the environment. Secrets and the policy parameter come from
the Parameters and Secrets Lambda Extension when the function has it (no SDK on the cold start),
else from Powertools Parameters (cached); the policy may also be a file (the local stack, tests).
Bad settings fail the cold start loudly; a bad policy fails the first piece of work that needs
it (never the ack, which does not read it)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.deps import BotDependencies
from bot.secrets_extension import ExtensionUnavailableError, ParametersAndSecretsExtension
from bot.settings import BotSettings, Secret
from pipeline.errors import ConfigurationError

if TYPE_CHECKING:
    from bot.policy import Policy
    from pipeline.context import PipelineContext
    from pipeline.settings import RestoreLimits

logger = logging.getLogger("aurora_restore.bot")
REFRESH_RETRY_SECONDS = 30  # after a failed re-read of the secrets and the policy


class _Sources:
    """Where configuration values come from: the extension first, the SDK when it cannot."""

    def __init__(self, settings: BotSettings, pipeline: Callable[[], PipelineContext]) -> None:
        self._settings = settings
        self._pipeline = pipeline
        self._extension = ParametersAndSecretsExtension.from_environment(os.environ)

    def secret(self, given: Secret | None, arn: str | None) -> str:
        if given is not None:
            return given.get_secret_value()
        secret_id = str(arn)
        value = self._through_extension(f"secret {secret_id}", lambda e: e.secret(secret_id))
        if value is not None:
            return value
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        provider = SecretsProvider(boto3_client=self._pipeline().clients.secretsmanager)
        return str(provider.get(secret_id, max_age=self._settings.secret_max_age_seconds))

    def policy_text(self) -> str:
        settings = self._settings
        if settings.policy_path is not None:
            return Path(settings.policy_path).read_text(encoding="utf-8")
        name = str(settings.policy_parameter)
        value = self._through_extension(f"parameter {name}", lambda e: e.parameter(name))
        if value is not None:
            return value
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        provider = SSMProvider(boto3_client=self._pipeline().clients.client("ssm"))
        return str(provider.get(name, max_age=settings.secret_max_age_seconds))

    def _through_extension(
        self, what: str, read: Callable[[ParametersAndSecretsExtension], str]
    ) -> str | None:
        """The value from the extension, or None (logged) when the SDK has to read it."""
        if self._extension is None:
            return None
        try:
            return read(self._extension)
        except ExtensionUnavailableError as exc:
            logger.warning("reading %s through the SDK: %s", what, exc)
            return None


def load_policy(
    text: Callable[[], str], settings: Callable[[], RestoreLimits] | None = None
) -> Policy:
    """Parse the policy; with the pipeline's `settings`, also refuse an approval expiry that the
    execution timeout or the target lock cannot hold (the parameter can change after a deploy,
    so the synth's check is not enough)."""
    from pydantic import ValidationError

    from bot.policy import Policy
    from pipeline.statemachine import approval_timing_problem

    try:
        policy = Policy.from_yaml(text())
    except (OSError, ValidationError, ValueError) as exc:
        raise ConfigurationError(f"the restore policy is invalid: {exc}") from exc
    if settings is not None:
        limits = settings()
        problem = approval_timing_problem(
            policy.approval_expiry_seconds,
            wait_budgets=limits.wait_budgets(),
            lock_ttl_seconds=limits.lock_ttl_seconds,
        )
        if problem:
            raise ConfigurationError(f"the restore policy is invalid: {problem}")
    return policy


def dependencies_from_environment(
    pipeline: Callable[[], PipelineContext] | None = None,
) -> BotDependencies:
    """`pipeline` reuses an existing context (a refresh re-reads secrets, not AWS clients)."""
    settings = BotSettings.from_environment()
    built: list[PipelineContext] = []

    def pipeline_context() -> PipelineContext:
        # Only built (and imported: settings, clients, store) when something needs AWS; an
        # ack-only invocation never does.
        if pipeline is not None:
            return pipeline()
        if not built:
            from pipeline.context import PipelineContext

            built.append(PipelineContext.from_environment())
        return built[0]

    sources = _Sources(settings, pipeline_context)
    return BotDependencies(
        settings=settings,
        policy=lambda: load_policy(sources.policy_text, lambda: _limits(pipeline)),
        signing_secret=sources.secret(settings.signing_secret, settings.signing_secret_arn),
        bot_token=sources.secret(settings.bot_token, settings.bot_token_secret_arn),
        pipeline=pipeline_context,
    )


def _limits(pipeline: Callable[[], PipelineContext] | None) -> RestoreLimits:
    """The pipeline's own settings when it is built already; else just these two from the
    environment (reading the policy needs no table names and builds no AWS client)."""
    if pipeline is not None:
        return pipeline().settings
    from pipeline.settings import RestoreLimits

    return RestoreLimits()


@dataclass
class _Container:
    dependencies: BotDependencies
    built_at: float


# One container per execution environment, which Lambda gives each function. A container is
# bound to the credentials it was read with (the secrets extension's token is the function's
# session token), so it is kept per session token: on Lambda there is one; in the local stack,
# where the bot's functions share a process, each function keeps its own, as on AWS.
_containers: dict[str, _Container] = {}
_pinned: BotDependencies | None = None


def default_dependencies() -> BotDependencies:
    """The container's dependencies, built on the first invocation (the cold start) and read
    again once older than `secret_max_age_seconds`: a secret put again (a rotated Slack signing
    secret, say) or a changed policy applies within minutes, without a redeploy. A failed re-read
    keeps the values in hand and tries again shortly: it never takes a working container down."""
    if _pinned is not None:
        return _pinned
    now = time.monotonic()
    identity = os.environ.get("AWS_SESSION_TOKEN", "")
    container = _containers.get(identity)
    if container is None:
        container = _Container(dependencies_from_environment(), now)
        _containers[identity] = container
        return container.dependencies
    max_age = container.dependencies.settings.secret_max_age_seconds
    if now - container.built_at < max_age:
        return container.dependencies
    current = container.dependencies
    try:
        container.dependencies = dependencies_from_environment(pipeline=lambda: current.pipeline)
        container.built_at = now
    except Exception as exc:
        logger.warning(
            "could not read the bot's configuration again (%s: %s); keeping the values in hand",
            type(exc).__name__,
            exc,
        )
        container.built_at = now - max_age + min(max_age, REFRESH_RETRY_SECONDS)
    return container.dependencies


def set_default_dependencies(dependencies: BotDependencies | None) -> None:
    """The local stack and tests run the handlers in one process with their own dependencies
    (kept as given until replaced; None builds them from the environment again)."""
    global _pinned
    _pinned = dependencies
    _containers.clear()
