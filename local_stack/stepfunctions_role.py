"""The state machine's own role, for the Lambda tasks of the local stack's executions.

Step Functions invokes a Task's function with the execution role of the state machine (or the
Task's `Credentials.RoleArn`), which must allow lambda:InvokeFunction on it ("IAM policies for
AWS Lambda", https://docs.aws.amazon.com/step-functions/latest/dg/lambda-iam.html). moto's
interpreter signs those invocations with a fixed fake key
(moto/stepfunctions/parser/asl/utils/boto_client.py), which the local stack's IAM does not check.
Here each Lambda task's client signs with a session of that role instead (a role the stack
holds no session of keeps moto's key), so iam_enforcement authorizes the Invoke on the
function's ARN as AWS would.

A refused invocation fails the Task the way Step Functions reports Lambda's errors,
`Lambda.<exception>` ("Handle Lambda service exceptions", https://docs.aws.amazon.com/
step-functions/latest/dg/bp-lambda-serviceexception.html), where an error Lambda's API does not
model (AccessDeniedException is not among the error shapes of botocore's `lambda` model) is the
SDK's generic one: Lambda.AWSLambdaException, with the error code in the cause.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, cast

import boto3
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.session import get_session
from moto.settings import moto_server_port
from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
    lambda_eval_utils,
    state_task_lambda,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_lambda,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

Patch = Callable[[Any, str, Any], None]  # moto_patches._patch: records each change for uninstall
GENERIC_ERROR = "AWSLambdaException"  # the SDK's exception for an error the model does not name
TIMEOUT_SECONDS = 60  # moto's interpreter allows its Lambda client as long (TimeoutSeconds)


def install(patch: Patch, sessions: Mapping[str, Credentials]) -> None:
    """Lambda tasks sign with `sessions[role ARN]` (a role without a session keeps moto's key)."""
    original = lambda_eval_utils.boto_client_for

    @functools.wraps(original)
    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        credentials = sessions.get(str(getattr(state_credentials, "role_arn", "")))
        if credentials is None:
            return original(region=region, service=service, state_credentials=state_credentials)
        keys = credentials.get_frozen_credentials()
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=f"http://localhost:{moto_server_port()}",
            aws_access_key_id=keys.access_key,
            aws_secret_access_key=keys.secret_key,
            aws_session_token=keys.token,
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},  # the ASL's Retry retries
                connect_timeout=TIMEOUT_SECONDS,
                read_timeout=TIMEOUT_SECONDS,
            ),
        )

    patch(lambda_eval_utils, "boto_client_for", boto_client_for)
    service_task = state_task_service_lambda.StateTaskServiceLambda
    patch(service_task, "_error_cause_from_client_error", staticmethod(error_and_cause))
    patch(
        state_task_lambda.StateTaskLambda,
        "_from_error",
        _client_errors_as_lambda_errors(state_task_lambda.StateTaskLambda._from_error),
    )


def error_and_cause(client_error: ClientError) -> tuple[str, str]:
    """The Task's error and cause for a refused Invoke, as Step Functions words them."""
    response = client_error.response
    code = str(response.get("Error", {}).get("Code", ""))
    metadata = response.get("ResponseMetadata", {})
    details = (
        f"Service: AWSLambda; Status Code: {metadata.get('HTTPStatusCode', '')}; "
        f"Error Code: {code}; Request ID: {metadata.get('RequestId', '')}; Proxy: null"
    )
    error = code if code in _modeled_errors() else GENERIC_ERROR
    return f"Lambda.{error}", f"{response.get('Error', {}).get('Message', '')} ({details})"


@functools.cache
def _modeled_errors() -> frozenset[str]:
    return frozenset(shape.name for shape in get_session().get_service_model("lambda").error_shapes)


def _client_errors_as_lambda_errors(original: Callable[..., Any]) -> Callable[..., Any]:
    """A Task whose Resource is a function ARN fails as the Lambda integration does (moto
    reports any client error of it as `Exception`)."""

    @functools.wraps(original)
    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        error, cause = error_and_cause(ex)
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.LambdaFunctionFailed,
            event_details=cast(
                EventDetails,
                {
                    "lambdaFunctionFailedEventDetails": LambdaFunctionFailedEventDetails(
                        error=error, cause=cause
                    )
                },
            ),
        )

    return from_error
