"""The HTTP face of the emulator: `/api/<method>` like slack.com, `/response/<key>` like
Slack's response_url.

Requests are read the way Slack reads them: arguments from the query string, a form body or a JSON
body; the token from `Authorization: Bearer` or, for form and query arguments, a `token` field
(Slack ignores a token inside a JSON body).
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local_stack.http_server import BurstHTTPServer
from local_stack.slack_emulator import methods
from local_stack.slack_emulator.faults import FailureResponse, FaultPlan
from local_stack.slack_emulator.workspace import Workspace

_log = logging.getLogger(__name__)

API_PREFIX = "/api/"
RESPONSE_PREFIX = "/response/"


class BadRequestBody(Exception):
    """The body cannot be read as the content type it claims; `error` is Slack's code."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class EmulatorHTTPServer(BurstHTTPServer):
    def __init__(
        self, address: tuple[str, int], *, workspace: Workspace, faults: FaultPlan, bot_token: str
    ) -> None:
        super().__init__(address, _SlackRequestHandler)
        self.workspace = workspace
        self.faults = faults
        self.bot_token = bot_token


class _SlackRequestHandler(BaseHTTPRequestHandler):
    server: EmulatorHTTPServer
    server_version = "SlackEmulator/1.0"

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def log_message(self, format: str, *args: Any) -> None:
        # Silent on purpose: request lines can carry tokens in query strings.
        return

    def _route(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith(API_PREFIX):
            self._api_call(path.removeprefix(API_PREFIX))
        elif path.startswith(RESPONSE_PREFIX) and len(path) > len(RESPONSE_PREFIX):
            self._response_url(path.removeprefix(RESPONSE_PREFIX))
        else:
            self._send_json(404, {"ok": False, "error": "not_found"})

    # -- Web API -------------------------------------------------------------------------------

    def _api_call(self, method: str) -> None:
        try:
            args, token = self._read_arguments()
        except BadRequestBody as exc:
            self.server.workspace.record_call(method, {})
            self._send_json(200, {"ok": False, "error": exc.error})
            return
        self.server.workspace.record_call(method, dict(args))
        failure = self.server.faults.before_call(method)
        if failure is not None:
            self._send_failure(failure)
            return
        if token is None:
            self._send_json(200, {"ok": False, "error": "not_authed"})
            return
        if token != self.server.bot_token:
            self._send_json(200, {"ok": False, "error": "invalid_auth"})
            return
        if method == "chat.postMessage" and args.get("channel"):
            channel_id = self.server.workspace.channel_id(str(args["channel"]))
            failure = self.server.faults.check_post_rate(channel_id)
            if failure is not None:
                self._send_failure(failure)
                return
        try:
            body = methods.call(self.server.workspace, method, args)
        except Exception:
            # A bug in the emulator, not a Slack answer: say so loudly rather than hang the client.
            _log.exception("Slack emulator failed on %s", method)
            self._send_json(500, {"ok": False, "error": "emulator_internal_error"})
            return
        self._send_json(200, body)

    def _read_arguments(self) -> tuple[dict[str, Any], str | None]:
        query_args = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        body = self._read_body()
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        args: dict[str, Any] = dict(query_args)
        token = query_args.pop("token", None)
        if body and content_type == "application/json":
            try:
                parsed = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise BadRequestBody("invalid_json") from None
            if not isinstance(parsed, dict):
                raise BadRequestBody("invalid_json")
            parsed.pop("token", None)
            args.update(parsed)
        elif body and content_type == "multipart/form-data":
            raise BadRequestBody("invalid_form_data")
        elif body:
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            token = form.pop("token", token)
            args.update(form)
        args.pop("token", None)
        authorization = self.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            token = authorization.removeprefix("Bearer ").strip()
        return args, token

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    # -- response_url --------------------------------------------------------------------------

    def _response_url(self, key: str) -> None:
        workspace = self.server.workspace
        if self.command == "GET":
            self._send_json(200, workspace.response_urls.responses(key))
            return
        body = self._read_body()
        failure = self.server.faults.before_response_url()
        if failure is not None:
            self._send_failure(failure)
            return
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._send_text(400, "invalid_payload")
            return
        refusal = workspace.response_urls.record(key, payload)
        if refusal is not None:
            self._send_text(404, refusal)
            return
        self._send_text(200, "ok")

    # -- writing -------------------------------------------------------------------------------

    def _send_failure(self, failure: FailureResponse) -> None:
        self._send_json(failure.status, failure.body, failure.headers)

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self._send(status, payload, "application/json; charset=utf-8", headers or {})

    def _send_text(self, status: int, text: str) -> None:
        self._send(status, text.encode(), "text/html; charset=utf-8", {})

    def _send(
        self, status: int, payload: bytes, content_type: str, headers: dict[str, str]
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
