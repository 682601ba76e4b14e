"""Secrets and parameters through the AWS Parameters and Secrets Lambda Extension: a local HTTP
cache in front of Secrets Manager and Parameter Store, which AWS recommends for Lambda.

The bot's functions read the Slack signing secret and bot token on every cold start, before the
first answer. Through the SDK that meant importing the pipeline's settings, a boto3 session, a
Secrets Manager client and Powertools; through the extension it is two GETs on localhost. The
extension is present when its port is configured (CDK's `paramsAndSecrets` sets
`PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`); otherwise, or when it cannot answer, the caller falls
back to the SDK.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

logger = logging.getLogger("aurora_restore.bot")

PORT_VARIABLE = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
# The function's session token, sent in this header, proves the caller to the extension.
TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"  # noqa: S105 (a header name)
TIMEOUT_SECONDS = 3.0
# The extension answers 400 "not ready to serve traffic" for a moment after it starts.
NOT_READY_RETRIES = 3
NOT_READY_PAUSE_SECONDS = 0.05


class ExtensionUnavailableError(Exception):
    """The extension did not give the value (not running, not ready, or refused): use the SDK."""


class ParametersAndSecretsExtension:
    def __init__(self, port: int, session_token: str, *, host: str = "localhost") -> None:
        self._base_url = f"http://{host}:{port}"
        self._session_token = session_token
        # Never through a proxy (HTTP_PROXY): the session token in the header stays on the host.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> ParametersAndSecretsExtension | None:
        """The extension this function was deployed with, if any."""
        port, token = environ.get(PORT_VARIABLE, ""), environ.get("AWS_SESSION_TOKEN", "")
        if not (port.isascii() and port.isdigit() and token):
            return None
        return cls(int(port), token)

    def secret(self, secret_id: str) -> str:
        """The current `SecretString` of a Secrets Manager secret (ARN or name)."""
        answer = self._get("/secretsmanager/get", {"secretId": secret_id})
        value = answer.get("SecretString")
        if not isinstance(value, str):
            raise ExtensionUnavailableError(f"secret {secret_id} has no SecretString")
        return value

    def parameter(self, name: str) -> str:
        """A Parameter Store value (decrypted when it is a SecureString)."""
        answer = self._get(
            "/systemsmanager/parameters/get", {"name": name, "withDecryption": "true"}
        )
        value = (answer.get("Parameter") or {}).get("Value")
        if not isinstance(value, str):
            raise ExtensionUnavailableError(f"parameter {name} has no value")
        return value

    def _get(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 (always http://localhost)
            f"{self._base_url}{path}?{urlencode(query)}",
            headers={TOKEN_HEADER: self._session_token},
        )
        for attempt in range(NOT_READY_RETRIES + 1):
            try:
                with self._opener.open(request, timeout=TIMEOUT_SECONDS) as response:
                    document = json.loads(response.read())
                    return document if isinstance(document, dict) else {}
            except urllib.error.HTTPError as exc:
                not_ready = exc.code == 400 and b"not ready" in exc.read().lower()
                if not not_ready or attempt == NOT_READY_RETRIES:
                    # The body may name the secret; never the value. The status is enough here.
                    raise ExtensionUnavailableError(f"the extension answered {exc.code}") from exc
            except (OSError, ValueError, http.client.HTTPException) as exc:
                raise ExtensionUnavailableError(f"the extension is unreachable: {exc}") from exc
            time.sleep(NOT_READY_PAUSE_SECONDS * (attempt + 1))
        raise ExtensionUnavailableError("the extension was not ready")
