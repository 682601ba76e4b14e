"""The Slack endpoint's Lambda function: build the app once per container, then hand each
API Gateway event to Bolt's adapter (which runs lazy work as an async self-invocation, made here
by `AsyncSelfInvoker` rather than a full boto3 Lambda client: see `bot.self_invoke`)."""

from __future__ import annotations

from typing import Any

from slack_bolt.adapter.aws_lambda import SlackRequestHandler
from slack_bolt.adapter.aws_lambda.lazy_listener_runner import LambdaLazyListenerRunner

from bot.app import build_app
from bot.container import default_dependencies
from bot.deps import BotDependencies
from bot.request_guard import refuse_before_bolt, refuse_unhandled
from bot.self_invoke import AsyncSelfInvoker

_handler: SlackRequestHandler | None = None
_built_with: BotDependencies | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler, _built_with
    deps = default_dependencies()
    if _handler is None or _built_with is not deps:  # first use, or the secrets were read again
        _handler, _built_with = _slack_request_handler(deps), deps
    refusal = refuse_before_bolt(event)
    if refusal is not None:
        return refusal
    try:
        return dict(_handler.handle(event, context))
    except Exception as exc:  # a request shape Bolt cannot handle: a 4xx, never API Gateway's 502
        return refuse_unhandled(event, deps.signing_secret, exc)


def _slack_request_handler(deps: BotDependencies) -> SlackRequestHandler:
    adapter = SlackRequestHandler(build_app(deps))
    adapter.app.listener_runner.lazy_listener_runner = LambdaLazyListenerRunner(
        adapter.logger, lambda_client=AsyncSelfInvoker()
    )
    return adapter


def reset() -> None:
    """Forget the built app (the local stack and tests swap dependencies between runs)."""
    global _handler, _built_with
    _handler = _built_with = None
