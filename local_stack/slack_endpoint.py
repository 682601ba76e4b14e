"""The bot's HTTPS endpoint as API Gateway would present it, on a local port.

Slack's requests (slash commands, `payload=` interactions) arrive here exactly as Slack sends
them; each becomes an API Gateway proxy event for the bot's real Lambda function, which verifies
the signature itself (unsigned, forged or stale requests get its 401).
"""

from __future__ import annotations

import base64
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from local_stack.http_server import BurstHTTPServer
from local_stack.lambda_runtime import LambdaRuntime

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1_000_000  # far above anything Slack sends; larger bodies are refused
DRAIN_LIMIT_BYTES = 10_000_000  # API Gateway's own payload limit: read (and drop) up to this
BAD_GATEWAY_BODY = b'{"message": "Internal server error"}'


def proxy_event(
    headers: dict[str, str], body: str, *, base64_encoded: bool = False, stage: str
) -> dict[str, Any]:
    """A POST to /slack/events as API Gateway (REST, v1 proxy integration) hands it to Lambda."""
    return {
        "httpMethod": "POST",
        "path": EVENTS_PATH,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "body": body,
        "isBase64Encoded": base64_encoded,
        "requestContext": {"httpMethod": "POST", "path": EVENTS_PATH, "stage": stage},
    }


class SlackEndpoint:
    """Serves POST /slack/events by invoking the bot function through the Lambda runtime."""

    def __init__(self, runtime: LambdaRuntime, function_name: str, host: str = "127.0.0.1") -> None:
        self._runtime = runtime
        self._function_name = function_name
        self._server = BurstHTTPServer((host, 0), _SlackRequestHandler)
        self._server.endpoint = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{EVENTS_PATH}"

    def start(self) -> SlackEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() would wait forever for a loop never started
            self._server.shutdown()
        self._server.server_close()

    def dispatch(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Invoke the bot function with an API Gateway (REST, v1) proxy event."""
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        event = proxy_event(headers, text, base64_encoded=encoded, stage="local")
        result = self._runtime.invoke(self._function_name, event)
        if result.error_type is not None:
            # API Gateway turns a crashed integration into a 502; the bot should never get here.
            return HTTPStatus.BAD_GATEWAY, {"Content-Type": "application/json"}, BAD_GATEWAY_BODY
        response = json.loads(result.payload or b"{}")
        payload = response.get("body") or ""
        data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        return int(response.get("statusCode", 200)), dict(response.get("headers") or {}), data


class _SlackRequestHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        if self.path.split("?")[0] != EVENTS_PATH:
            self._reply(HTTPStatus.NOT_FOUND, {}, b"not found")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            if 0 < length <= DRAIN_LIMIT_BYTES:
                self._drain(length)  # so the client reads our answer, not a broken pipe
            self.close_connection = True
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {}, b"payload too large")
            return
        body = self.rfile.read(length) if length else b""
        endpoint: SlackEndpoint = self.server.endpoint  # type: ignore[attr-defined]
        status, headers, payload = endpoint.dispatch(dict(self.headers.items()), body)
        self._reply(status, headers, payload)

    def do_GET(self) -> None:
        self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {}, b"POST only")

    def _drain(self, length: int) -> None:
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                return
            length -= len(chunk)

    def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in {"content-length", "connection"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return  # request lines carry nothing useful here; bodies must never be logged
