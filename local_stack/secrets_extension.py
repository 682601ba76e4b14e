"""The AWS Parameters and Secrets Lambda Extension, emulated: the local HTTP cache the deployed bot
functions read their Slack secrets and policy through (infra gives them the extension layer).

It answers the extension's two documented GETs from the stack's moto Secrets Manager and Parameter
Store, with the same JSON bodies as `GetSecretValue` and `GetParameter`.
`store_bot_configuration` puts the values there the way an operator does after `cdk deploy`.

The real extension runs inside one function's execution environment: a caller proves it is that
function by sending the function's AWS_SESSION_TOKEN in X-Aws-Parameters-Secrets-Token, and the
extension calls GetSecretValue and GetParameter with the function's execution role, which must
allow them (and kms:Decrypt on a customer managed key): "Use Secrets Manager secrets in Lambda
functions", https://docs.aws.amazon.com/lambda/latest/dg/with-secrets-manager.html, and
https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-integration-lambda-extensions.html.
Here one emulator serves every function: the token names the calling function's role session
(each has its own), and the calls are made with that role's credentials, so the local stack's
IAM authorizes secretsmanager:GetSecretValue and ssm:GetParameter as AWS would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from bot.secrets_extension import PORT_VARIABLE, TOKEN_HEADER
from local_stack.http_server import BurstHTTPServer
from local_stack.iam_credentials import acting_as
from pipeline.aws import AwsClients

SIGNING_SECRET_NAME = "aurora-restore/slack-signing-secret"  # noqa: S105 (a secret's name)
BOT_TOKEN_SECRET_NAME = "aurora-restore/slack-bot-token"  # noqa: S105 (a secret's name)
# As the deployed one is named: without a leading slash, since its grant is `parameter/<name>`.
POLICY_PARAMETER_NAME = "aurora-restore-policy"
# A missing or wrong token: AWS's open-source Secrets Manager Agent, which serves the extension's
# `/secretsmanager/get` with the same header and AWS_SESSION_TOKEN as its token in Lambda, answers
# 403 "Bad Token" (github.com/aws/aws-secretsmanager-agent, aws_secretsmanager_agent/src/server.rs,
# validate_token); the Lambda extension's own documentation gives no status for it.
BAD_TOKEN = 403
Sessions = Callable[[str], Credentials | None]  # a session token -> that function's credentials


@dataclass(frozen=True)
class BotConfiguration:
    signing_secret_arn: str
    bot_token_secret_arn: str
    policy_parameter: str

    def environment(self) -> dict[str, str]:
        return {
            "AURORA_RESTORE_SIGNING_SECRET_ARN": self.signing_secret_arn,
            "AURORA_RESTORE_BOT_TOKEN_SECRET_ARN": self.bot_token_secret_arn,
            "AURORA_RESTORE_POLICY_PARAMETER": self.policy_parameter,
        }


def store_bot_configuration(
    clients: AwsClients, *, signing_secret: str, bot_token: str, policy: dict[str, Any]
) -> BotConfiguration:
    secrets = clients.secretsmanager
    signing = secrets.create_secret(Name=SIGNING_SECRET_NAME, SecretString=signing_secret)
    token = secrets.create_secret(Name=BOT_TOKEN_SECRET_NAME, SecretString=bot_token)
    clients.client("ssm").put_parameter(
        Name=POLICY_PARAMETER_NAME, Value=yaml.safe_dump(policy), Type="String"
    )
    return BotConfiguration(signing["ARN"], token["ARN"], POLICY_PARAMETER_NAME)


class SecretsExtensionEmulator:
    """`start()` serves on a free loopback port; `environment()` is what a function sees.
    `sessions` finds the function whose session token a request carries (LambdaRuntime.session)."""

    def __init__(self, clients: AwsClients, sessions: Sessions) -> None:
        self._clients = clients
        self._sessions = sessions
        self._server: BurstHTTPServer | None = None
        self.requests = 0  # answered GETs: the tests read how often the cache was asked
        self.not_ready_answers = 0  # the next this many GETs get "not ready", as at start-up
        self._counting = threading.Lock()  # the server answers each GET on its own thread

    def start(self) -> None:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = emulator.answer(self.path, self.headers.get(TOKEN_HEADER, ""))
                encoded = json.dumps(body, default=_json_default).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, *args: Any) -> None:
                return None

        self._server = BurstHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def environment(self) -> dict[str, str]:
        assert self._server is not None
        return {PORT_VARIABLE: str(self._server.server_port)}

    def answer(self, path: str, token: str) -> tuple[int, dict[str, Any]]:
        caller = self._sessions(token) if token else None
        if caller is None:
            return BAD_TOKEN, {"message": "Bad Token"}
        with self._counting:
            not_ready = self.not_ready_answers > 0
            self.not_ready_answers -= int(not_ready)
        if not_ready:
            return 400, {"message": "not ready to serve traffic, please wait"}
        url = urlsplit(path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        try:
            with acting_as(caller):  # the extension's calls are the function's own
                answer = self._read(url.path, query)
        except ClientError as exc:
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
            return status, {"message": str(exc.response.get("Error", {}).get("Code", ""))}
        if answer is None:
            return 400, {"message": f"unknown request {url.path}"}
        with self._counting:
            self.requests += 1
        answer.pop("ResponseMetadata", None)
        return 200, answer

    def _read(self, path: str, query: dict[str, str]) -> dict[str, Any] | None:
        if path == "/secretsmanager/get" and "secretId" in query:
            return dict(self._clients.secretsmanager.get_secret_value(SecretId=query["secretId"]))
        if path == "/systemsmanager/parameters/get" and "name" in query:
            decrypt = query.get("withDecryption", "false").lower() == "true"
            ssm = self._clients.client("ssm")
            return dict(ssm.get_parameter(Name=query["name"], WithDecryption=decrypt))
        return None


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
