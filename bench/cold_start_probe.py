"""One cold start, run in a fresh interpreter by bench/cold_start.py: import an app, answer one
signed API Gateway event, print the timings as one JSON line.

    python -m bench.cold_start_probe bot|bolt|bolt-lazy   (the event arrives on stdin as JSON)

Only the standard library is imported before the clock starts, so neither side gets modules
preloaded for it. `bot` is the project's Lambda entry with its real settings from the
environment; `bolt` is the minimal Bolt app (the Lambda adapter around one command listener that
acks); `bolt-lazy` adds one no-op lazy listener, i.e. Bolt's own self-invocation of the function.
Like the bot, the minimal apps authorise with a function (no auth.test call).
"""

from __future__ import annotations

import json
import sys
import time
from types import SimpleNamespace
from typing import Any

KINDS = ("bot", "bolt", "bolt-lazy")


def _minimal_handler(signing_secret: str, bot_token: str, *, lazy: bool) -> Any:
    from slack_bolt import App
    from slack_bolt.adapter.aws_lambda import SlackRequestHandler
    from slack_bolt.authorization import AuthorizeResult

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token)

    app = App(signing_secret=signing_secret, authorize=authorize, process_before_response=True)

    def acknowledge(ack: Any) -> None:
        ack(text="On it.", response_type="ephemeral")

    def nothing_later() -> None:
        return None

    if lazy:
        app.command("/restore")(ack=acknowledge, lazy=[nothing_later])
    else:
        app.command("/restore")(acknowledge)
    adapter = SlackRequestHandler(app)
    return adapter.handle


def main() -> None:
    kind = sys.argv[1]
    if kind not in KINDS:
        raise SystemExit(f"usage: python -m bench.cold_start_probe {'|'.join(KINDS)}")
    request = json.loads(sys.stdin.read())
    context = SimpleNamespace(**request["context"])

    started = time.perf_counter()
    if kind == "bot":
        from bot.lambda_entry import handler
    else:
        handler = _minimal_handler(
            request["signing_secret"], request["bot_token"], lazy=kind == "bolt-lazy"
        )
    imported = time.perf_counter()
    response = handler(request["event"], context)
    answered = time.perf_counter()

    raw = response.get("body") or ""
    body = json.loads(raw) if raw.startswith("{") else {"text": raw}
    print(
        json.dumps(
            {
                "kind": kind,
                "import_seconds": imported - started,
                "first_answer_seconds": answered - imported,
                "total_seconds": answered - started,
                "status": response.get("statusCode"),
                "text": body.get("text", ""),
                "modules": len(sys.modules),
            }
        )
    )


if __name__ == "__main__":
    main()
