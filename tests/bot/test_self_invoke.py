"""The bot's asynchronous self-invocation: the very request boto3 would send (checked on the wire
against boto3's own and verified as AWS verifies a signature), and boto3 itself whenever the
short path cannot or did not deliver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bot.self_invoke import AsyncSelfInvoker

ACCESS_KEY, SECRET_KEY, SESSION_TOKEN = "AKIAEXAMPLE", "secret-key-example", "session-token-x"
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:aurora-restore-slack"
PAYLOAD = json.dumps({"body": "text=snap%20target&x=1", "headers": {"x-slack-bolt-lazy-only": "1"}})


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LambdaEndpoint:
    """A stand-in Lambda API on localhost: records each request, answers from a script."""

    url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # then 202 for every later request


@pytest.fixture
def endpoint() -> Iterator[LambdaEndpoint]:
    recorder = LambdaEndpoint(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            recorder.received.append(
                Received(self.path, dict(self.headers), self.rfile.read(length))
            )
            status = recorder.statuses.pop(0) if recorder.statuses else 202
            body = b"" if status == 202 else b'{"Type":"User","message":"refused"}'
            self.send_response(status)
            self.send_header("x-amzn-RequestId", f"request-{len(recorder.received)}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_port}"
    yield recorder
    server.shutdown()
    server.server_close()


def environment(**extra: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
        **extra,
    }


def boto3_client(endpoint_url: str) -> Any:
    return boto3.client(
        "lambda",
        region_name="eu-west-1",
        endpoint_url=endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        aws_session_token=SESSION_TOKEN,
    )


def invoke(invoker: Any) -> dict[str, Any]:
    return dict(invoker.invoke(FunctionName=FUNCTION_ARN, InvocationType="Event", Payload=PAYLOAD))


def signature_is_valid(request: Received, base_url: str, secret_key: str = SECRET_KEY) -> bool:
    """Verify as AWS does: recompute the signature from what arrived, with the signer's key."""
    authorization = request.headers["Authorization"]
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = {name: value for name, value in request.headers.items() if name.lower() in signed}
    rebuilt = AWSRequest(
        method="POST", url=base_url + request.path, data=request.body, headers=headers
    )
    rebuilt.context["timestamp"] = request.headers["X-Amz-Date"]
    signer = SigV4Auth(Credentials(ACCESS_KEY, secret_key, SESSION_TOKEN), "lambda", "eu-west-1")
    expected = signer.signature(
        signer.string_to_sign(rebuilt, signer.canonical_request(rebuilt)), rebuilt
    )
    return authorization.endswith(f"Signature={expected}")


def test_the_request_is_the_one_boto3_sends(
    endpoint: LambdaEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_lambda = {  # what the Lambda runtime sets: boto3 forwards the X-Ray trace, and so must we
        "AWS_LAMBDA_FUNCTION_NAME": "aurora-restore-slack",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    }
    for name, value in on_lambda.items():
        monkeypatch.setenv(name, value)
    answer = invoke(AsyncSelfInvoker(environment(AWS_ENDPOINT_URL=endpoint.url, **on_lambda)))
    invoke(boto3_client(endpoint.url))

    ours, boto3s = endpoint.received
    assert answer["StatusCode"] == 202
    assert answer["ResponseMetadata"]["RequestId"] == "request-1"
    assert ours.path == boto3s.path
    assert ours.path.startswith("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A")
    assert ours.body == boto3s.body == PAYLOAD.encode()
    headers = ("Host", "X-Amz-Invocation-Type", "X-Amz-Security-Token", "Accept-Encoding")
    for name in (*headers, "X-Amzn-Trace-Id"):
        assert ours.headers[name] == boto3s.headers[name], name
    # The same credential scope and signed headers; only the time-dependent signature differs.
    assert (
        ours.headers["Authorization"].split(", Signature=")[0]
        == (boto3s.headers["Authorization"].split(", Signature=")[0])
    )
    assert "Boto3" in boto3s.headers["User-Agent"]
    assert "Boto3" not in ours.headers.get("User-Agent", "")


def test_the_signature_verifies_on_the_wire(endpoint: LambdaEndpoint) -> None:
    invoke(AsyncSelfInvoker(environment(AWS_ENDPOINT_URL=endpoint.url)))
    invoke(boto3_client(endpoint.url))

    ours, boto3s = endpoint.received
    assert signature_is_valid(boto3s, endpoint.url)  # the verifier accepts boto3's own request
    assert signature_is_valid(ours, endpoint.url)
    assert not signature_is_valid(ours, endpoint.url, secret_key="another-secret")
    tampered = Received(ours.path, ours.headers, ours.body + b" ")
    assert not signature_is_valid(tampered, endpoint.url)


@pytest.mark.parametrize(
    "region", ["eu-west-1", "us-east-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1"]
)
def test_the_public_endpoint_is_the_one_boto3_resolves(region: str) -> None:
    partition = {"cn": "aws-cn", "us-gov": "aws-us-gov"}.get(region.rsplit("-", 2)[0], "aws")
    arn = f"arn:{partition}:lambda:{region}:123456789012:function:bot"
    request = AsyncSelfInvoker(environment()).signed_request(arn, "Event", "{}")
    client = boto3.client("lambda", region_name=region)

    assert request is not None
    assert request.url.startswith(client.meta.endpoint_url.rstrip("/") + "/2015-03-31/functions/")


@pytest.mark.parametrize(
    ("env", "arn", "invocation_type"),
    [
        pytest.param({"AWS_ACCESS_KEY_ID": ACCESS_KEY}, FUNCTION_ARN, "Event", id="no-secret-key"),
        pytest.param(environment(AWS_USE_FIPS_ENDPOINT="true"), FUNCTION_ARN, "Event", id="fips"),
        pytest.param(environment(), FUNCTION_ARN.replace(":aws:", ":aws-iso:"), "Event", id="iso"),
        pytest.param(environment(), "aurora-restore-slack", "Event", id="bare-name"),
        pytest.param(environment(), FUNCTION_ARN, "RequestResponse", id="synchronous"),
    ],
)
def test_what_only_boto3_models_is_left_to_boto3(
    env: dict[str, str], arn: str, invocation_type: str
) -> None:
    assert AsyncSelfInvoker(env).signed_request(arn, invocation_type, "{}") is None


def test_without_credentials_in_the_environment_boto3_makes_the_call(
    endpoint: LambdaEndpoint,
) -> None:
    invoker = AsyncSelfInvoker({}, fallback=lambda: boto3_client(endpoint.url))

    assert invoke(invoker)["StatusCode"] == 202
    [only] = endpoint.received
    assert "Boto3" in only.headers["User-Agent"]


def test_a_refused_invocation_is_retried_by_boto3(endpoint: LambdaEndpoint) -> None:
    endpoint.statuses = [403]
    invoker = AsyncSelfInvoker(
        environment(AWS_ENDPOINT_URL=endpoint.url), fallback=lambda: boto3_client(endpoint.url)
    )

    assert invoke(invoker)["StatusCode"] == 202
    refused, retried = endpoint.received
    assert "Boto3" not in refused.headers.get("User-Agent", "")
    assert "Boto3" in retried.headers["User-Agent"]
    assert retried.body == refused.body == PAYLOAD.encode()


def test_an_unreachable_endpoint_is_retried_by_boto3(endpoint: LambdaEndpoint) -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    unreachable = f"http://127.0.0.1:{closed.server_port}"
    closed.server_close()  # nothing listens there any more
    invoker = AsyncSelfInvoker(
        environment(AWS_ENDPOINT_URL=unreachable), fallback=lambda: boto3_client(endpoint.url)
    )

    assert invoke(invoker)["StatusCode"] == 202
    [only] = endpoint.received
    assert "Boto3" in only.headers["User-Agent"]
