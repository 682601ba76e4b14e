"""Build the bot's dependencies from the environment: secrets via Powertools Parameters (cached),
the policy from a file or an SSM parameter. Bad settings fail the cold start loudly; a bad policy
fails the first piece of work that needs it (never the ack, which does not read it)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.deps import BotDependencies
from bot.settings import BotSettings
from pipeline.errors import ConfigurationError

if TYPE_CHECKING:
    from bot.policy import Policy
    from pipeline.context import PipelineContext


def load_policy(settings: BotSettings, ssm: object | None = None) -> Policy:
    from pydantic import ValidationError

    from bot.policy import Policy

    try:
        if settings.policy_path is not None:
            return Policy.from_yaml(Path(settings.policy_path).read_text(encoding="utf-8"))
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        provider = SSMProvider(boto3_client=ssm)
        text = provider.get(str(settings.policy_parameter), max_age=settings.secret_max_age_seconds)
        return Policy.from_yaml(str(text))
    except (OSError, ValidationError, ValueError) as exc:
        raise ConfigurationError(f"the restore policy is invalid: {exc}") from exc


def _secret(settings: BotSettings, arn: str | None, client: object) -> str:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    provider = SecretsProvider(boto3_client=client)
    return str(provider.get(str(arn), max_age=settings.secret_max_age_seconds))


def dependencies_from_environment() -> BotDependencies:
    settings = BotSettings.from_environment()
    built: list[PipelineContext] = []

    def pipeline_context() -> PipelineContext:
        # Only built (and imported: settings, clients, store) when something needs AWS; an
        # ack-only invocation never does.
        if not built:
            from pipeline.context import PipelineContext

            built.append(PipelineContext.from_environment())
        return built[0]

    signing_secret = (
        settings.signing_secret.get_secret_value()
        if settings.signing_secret is not None
        else _secret(
            settings, settings.signing_secret_arn, pipeline_context().clients.secretsmanager
        )
    )
    bot_token = (
        settings.bot_token.get_secret_value()
        if settings.bot_token is not None
        else _secret(
            settings, settings.bot_token_secret_arn, pipeline_context().clients.secretsmanager
        )
    )

    def policy() -> Policy:
        ssm = pipeline_context().clients.client("ssm") if settings.policy_parameter else None
        return load_policy(settings, ssm)

    return BotDependencies(
        settings=settings,
        policy=policy,
        signing_secret=signing_secret,
        bot_token=bot_token,
        pipeline=pipeline_context,
    )


_dependencies: BotDependencies | None = None


def default_dependencies() -> BotDependencies:
    """The container's dependencies, built on the first invocation (the cold start)."""
    global _dependencies
    if _dependencies is None:
        _dependencies = dependencies_from_environment()
    return _dependencies


def set_default_dependencies(dependencies: BotDependencies | None) -> None:
    """The local stack and tests run the handlers in one process with their own dependencies."""
    global _dependencies
    _dependencies = dependencies
