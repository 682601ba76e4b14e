"""Bolt's lazy listeners on Lambda: the function invokes itself asynchronously to do the slow half
of a request after the ack. Bolt makes that call with `boto3.client("lambda")`, and creating that
client (reading the Lambda service model and the endpoint rules from disk) was the largest single
cost of a cold container's first answer, about 100 ms on a 2-core machine.

`AsyncSelfInvoker` makes the same one request, `Invoke` with `InvocationType=Event`, without the
service model: botocore's own SigV4 signer and HTTP session (already imported by Bolt's adapter)
over a URL built from the function's ARN. Whatever it cannot do itself goes to a real boto3
client: no credentials in the environment, an endpoint setting it does not model (FIPS,
dual-stack, a partition other than aws/aws-cn/aws-us-gov), a refused call or a network error.
A retried invocation is safe: the bot's lazy work is idempotent (see `bot.restore_flow`).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpsession import URLLib3Session
from botocore.utils import get_environ_proxies

logger = logging.getLogger("aurora_restore.bot")

API_VERSION = "2015-03-31"
ACCEPTED = 202  # Lambda's answer to an accepted asynchronous invocation
TIMEOUT_SECONDS = 2.0  # well inside Slack's 3 s; Lambda accepts an Event invocation at once
# DNS suffix per partition; anything else is left to boto3's endpoint rules.
_DNS_SUFFIXES = {
    "aws": "amazonaws.com",
    "aws-cn": "amazonaws.com.cn",
    "aws-us-gov": "amazonaws.com",
}
# Settings that change the endpoint in ways only boto3's rules know.
_ENDPOINT_VARIANTS = ("AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT")


def _boto3_lambda_client() -> Any:
    import boto3
    from botocore.config import Config

    # On the ack path: Slack waits 3 s, so no minute-long timeouts or long retry chains.
    return boto3.client(
        "lambda",
        config=Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 2}),
    )


class AsyncSelfInvoker:
    """Duck-types the one boto3 Lambda client method Bolt's `LambdaLazyListenerRunner` calls."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        fallback: Callable[[], Any] = _boto3_lambda_client,
        timeout_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self._fallback_factory = fallback
        self._fallback_client: Any = None
        self._timeout_seconds = timeout_seconds
        self._session: URLLib3Session | None = None

    # boto3's parameter names, since Bolt calls it as a boto3 client
    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: str | bytes) -> Any:
        request = self.signed_request(FunctionName, InvocationType, Payload)
        if request is not None:
            try:
                response = self._http(request.url).send(request.prepare())
            except Exception as exc:  # the network, not the request: let boto3 retry it
                # (after a read timeout Lambda may have queued it already: running the lazy work
                # twice is safe, it is idempotent; losing it would leave the user unanswered)
                logger.warning(
                    "self-invocation failed (%s); retrying with boto3", type(exc).__name__
                )
            else:
                request_id = response.headers.get("x-amzn-RequestId", "")
                if response.status_code == ACCEPTED:
                    return {
                        "StatusCode": ACCEPTED,
                        "ResponseMetadata": {"RequestId": request_id, "HTTPStatusCode": ACCEPTED},
                    }
                logger.warning(
                    "self-invocation answered %s (request %s); retrying with boto3",
                    response.status_code,
                    request_id,
                )
        return self._fallback().invoke(
            FunctionName=FunctionName, InvocationType=InvocationType, Payload=Payload
        )

    def signed_request(
        self, function_arn: str, invocation_type: str, payload: str | bytes
    ) -> AWSRequest | None:
        """The signed request, or None when only boto3 can make it correctly."""
        env = self._environ
        access_key, secret_key = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        parts = function_arn.split(":")
        if len(parts) < 7 or parts[0] != "arn" or parts[2] != "lambda" or not parts[3]:
            return None  # not the ARN Bolt passes (the invoked function's): boto3 resolves it
        partition, region = parts[1], parts[3]
        endpoint = self._endpoint(partition, region)
        if invocation_type != "Event" or not (access_key and secret_key and endpoint):
            return None
        credentials = Credentials(access_key, secret_key, env.get("AWS_SESSION_TOKEN") or None)
        headers = {"X-Amz-Invocation-Type": invocation_type}
        trace = env.get("_X_AMZN_TRACE_ID")
        if trace and "AWS_LAMBDA_FUNCTION_NAME" in env:  # as botocore does: X-Ray links the two
            headers["X-Amzn-Trace-Id"] = quote(trace, safe="-=;:+&[]{}\"',")
        request = AWSRequest(
            method="POST",
            url=f"{endpoint}/{API_VERSION}/functions/{quote(function_arn, safe='')}/invocations",
            data=payload.encode() if isinstance(payload, str) else payload,
            headers=headers,
        )
        SigV4Auth(credentials, "lambda", region).add_auth(request)
        return request

    def _endpoint(self, partition: str, region: str) -> str | None:
        """The Lambda endpoint boto3 would use for the function's own region."""
        env = self._environ
        explicit = env.get("AWS_ENDPOINT_URL_LAMBDA") or env.get("AWS_ENDPOINT_URL")
        if explicit:
            return explicit.rstrip("/")
        if any(env.get(name, "").lower() == "true" for name in _ENDPOINT_VARIANTS):
            return None
        suffix = _DNS_SUFFIXES.get(partition)
        return f"https://lambda.{region}.{suffix}" if suffix else None

    def _http(self, url: str) -> URLLib3Session:
        if self._session is None:
            self._session = URLLib3Session(
                verify=self._environ.get("AWS_CA_BUNDLE") or True,
                proxies=get_environ_proxies(url),
                timeout=self._timeout_seconds,
                # As boto3's clients do: without it, Nagle's algorithm meeting delayed ACKs held
                # each request on a kept-alive connection for ~40 ms.
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            )
        return self._session

    def _fallback(self) -> Any:
        if self._fallback_client is None:
            self._fallback_client = self._fallback_factory()
        return self._fallback_client
