"""Run by test_ack_path.py in a fresh interpreter: a cold container's first signed `/restore`
through the real Lambda entry, with a stand-in Lambda API on localhost taking the self-invocation.

Prints one JSON line: the answer, the top-level packages the process loaded, and the requests the
stand-in Lambda API received."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

SIGNING_SECRET = "ack-path-signing-secret"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:aurora-restore-slack"
invocations: list[dict[str, Any]] = []


class LambdaApi(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        invocations.append(
            {
                "path": self.path,
                "type": self.headers["X-Amz-Invocation-Type"],
                "user_agent": self.headers.get("User-Agent", ""),
            }
        )
        invocations[-1]["lazy_function"] = json.loads(body)["headers"].get(
            "x-slack-bolt-lazy-function-name"
        )
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def signed_event(text: str) -> dict[str, Any]:
    body = urlencode(
        {
            "token": "legacy",
            "team_id": "T0PROBE001",
            "channel_id": "C0PROBE001",
            "user_id": "U0PROBE001",
            "user_name": "probe",
            "command": "/restore",
            "text": text,
            "response_url": "https://hooks.slack.invalid/commands/probe",
            "trigger_id": "1.2.probe",
        }
    )
    stamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {
        "version": "2.0",
        "rawPath": "/slack/events",
        "headers": {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": f"v0={digest.hexdigest()}",
        },
        "requestContext": {"http": {"method": "POST", "path": "/slack/events"}},
        "body": body,
        "isBase64Encoded": False,
    }


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), LambdaApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_port}",
            "AWS_ACCESS_KEY_ID": "probe",
            "AWS_SECRET_ACCESS_KEY": "probe",
            "AWS_REGION": "us-east-1",
            "AURORA_RESTORE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:probe",
            "AURORA_RESTORE_SIGNING_SECRET": SIGNING_SECRET,
            "AURORA_RESTORE_BOT_TOKEN": "xoxb-probe",
            "AURORA_RESTORE_POLICY_PATH": sys.argv[1],
        }
    )
    from bot.lambda_entry import handler

    context = SimpleNamespace(
        function_name="aurora-restore-slack", invoked_function_arn=FUNCTION_ARN
    )
    answer = handler(signed_event(sys.argv[2]), context)
    server.shutdown()
    print(
        json.dumps(
            {
                "status": answer["statusCode"],
                "text": json.loads(answer["body"])["text"],
                "packages": sorted({name.split(".")[0] for name in sys.modules}),
                "invocations": invocations,
            }
        )
    )


if __name__ == "__main__":
    main()
