"""The Bolt app factory: verification, authorisation without a network call, one error handler,
and listeners registered from the feature modules."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult

from bot import actions, commands, home
from bot.deps import BotDependencies
from bot.errors import friendly_error
from bot.slack import build_web_client, quiet_webhook_logs

logger = logging.getLogger("aurora_restore.bot")


def build_app(deps: BotDependencies) -> App:
    """Build the app. The token comes from our settings, so no auth.test call slows the ack."""
    quiet_webhook_logs()  # `respond` must not log the response_url it posts to

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token=deps.bot_token
        )

    app = App(
        name="aurora-restore",
        signing_secret=deps.signing_secret,
        authorize=authorize,
        # Token-less: Bolt gives each request a client holding the token `authorize` returns.
        client=build_web_client(None, deps.settings.slack_api_url),
        process_before_response=True,
        logger=logger,
    )

    @app.error
    def explain_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        # Ack-path failures reach here; the user sees a sentence, operators see the reference.
        text = friendly_error(error, action="handle your request")
        return BoltResponse(
            status=200,
            body=json.dumps({"response_type": "ephemeral", "text": text}),
            headers={"content-type": "application/json"},
        )

    commands.register(app, deps)
    actions.register(app, deps)
    home.register(app, deps)
    return app
