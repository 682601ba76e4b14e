"""IAM as AWS evaluates it, for calls signed with a role's credentials in the emulated account.

moto's own IAM check (`INITIAL_NO_AUTH_ACTION_COUNT`, moto.iam.access_control) compares a policy's
resources with `"*"` for every service but S3, SQS, IAM and STS, so a scoped grant never matches,
and it fails a statement whose Condition it cannot evaluate as an explicit Deny. This module
authorizes instead: the caller's role (the access key of an sts:AssumeRole session) must hold an
Allow for each action the request needs on every resource it names, with no matching Deny.
Which actions and resources a request needs is local_stack.iam_resources' business (AWS's
Service Authorization Reference and its documented exceptions).

Conditions and NotAction/NotResource are not evaluated (none of our policies carry them, a test
says so): such an Allow never applies and such a Deny always does, so neither can let through
what AWS refuses. Calls signed with any other key (the test harness, the stack's own set-up) are
not checked.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from local_stack import iam_resources

log = logging.getLogger("aurora_restore.local_stack.iam")
USAGE_ENV = "AURORA_RESTORE_IAM_USAGE"
UNEVALUATED = ("NotAction", "NotResource")
_USAGE_LOCK = threading.Lock()  # one writer at a time to the usage file of make iam-mutation


@dataclass(frozen=True)
class IamDecision:
    allowed: bool
    message: str = ""


def _matches(patterns: Any, value: str, *, case_sensitive: bool) -> bool:
    for pattern in patterns if isinstance(patterns, list) else [patterns]:
        # IAM wildcards: `*` any run of characters (`:` and `/` too), `?` one; nothing else.
        escaped = str(pattern).replace("[", "[[]")
        if case_sensitive and fnmatch.fnmatchcase(value, escaped):
            return True
        if not case_sensitive and fnmatch.fnmatchcase(value.lower(), escaped.lower()):
            return True
    return False


def _applies(
    statement: Mapping[str, Any],
    action: str,
    resource: str | None,
    context: Mapping[str, str] | None = None,
) -> bool:
    if any(key in statement for key in UNEVALUATED):
        return statement.get("Effect") == "Deny"  # never an accidental Allow (module docstring)
    if not _matches(statement.get("Action", []), action, case_sensitive=False):
        return False
    if resource is not None and not _matches(
        statement.get("Resource", []), resource, case_sensitive=True
    ):
        return False
    condition = statement.get("Condition")
    if condition is None:
        return True
    met = condition_met(condition, context or {})
    return met if met is not None else statement.get("Effect") == "Deny"


def condition_met(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool | None:
    """Whether every operator's keys match the request's context (IAM ANDs operators and keys,
    ORs a key's values; a key the request lacks does not match: IAM user guide,
    reference_policies_elements_condition_logic); None for an operator not evaluated here."""
    for operator, keys in condition.items():
        if operator not in CONDITION_OPERATORS:
            return None
        for key, expected in keys.items():
            value = context.get(key)
            if value is None:
                return False
            if operator == "StringEquals" and value not in _as_list(expected):
                return False
            if operator == "StringLike" and not _matches(expected, value, case_sensitive=True):
                return False
    return True


CONDITION_OPERATORS = ("StringEquals", "StringLike")


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def evaluate(
    statements: list[dict[str, Any]],
    action: str,
    resources: list[str],
    principal: str,
    context: Mapping[str, str] | None = None,
) -> IamDecision:
    """Allowed when, for each resource (or the action alone, when none), an Allow applies and
    no Deny does."""
    targets: list[str | None] = list(resources) or [None]
    for resource in targets:
        applying = [s for s in statements if _applies(s, action, resource, context)]
        denied = any(s.get("Effect") == "Deny" for s in applying)
        if denied or not any(s.get("Effect") == "Allow" for s in applying):
            # AWS names the resource unless the action takes none ("*").
            target = f" on resource: {resource}" if resource not in (None, "*") else ""
            reason = "an explicit deny" if denied else "no identity-based policy allows"
            return IamDecision(
                False,
                f"User: {principal} is not authorized to perform: {action}{target} because "
                f"{reason} the {action} action",
            )
    return IamDecision(True)


def role_statements(account: str, partition: str, role_name: str) -> list[dict[str, Any]]:
    """The statements of the role's inline and attached policies in the emulated account."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account][partition]
    statements: list[dict[str, Any]] = []
    for name in backend.list_role_policies(role_name):
        _, document = backend.get_role_policy(role_name, name)
        statements.extend(_statements(document))
    attached, _ = backend.list_attached_role_policies(role_name)
    for policy in attached:
        version = next(v for v in policy.versions if v.is_default)
        statements.extend(_statements(version.document))
    return statements


def _statements(document: Any) -> list[dict[str, Any]]:
    parsed = json.loads(unquote(document)) if isinstance(document, str) else document
    found = parsed["Statement"]
    return list(found) if isinstance(found, list) else [found]


@dataclass(frozen=True)
class Session:
    role_name: str
    arn: str
    session_token: str


def assumed_session(account: str, partition: str, access_key_id: str) -> Session | None:
    from moto.sts.models import sts_backends

    for assumed in sts_backends[account][partition].assumed_roles:
        if assumed.access_key_id == access_key_id:
            role_name = assumed.role_arn.split("/")[-1]
            arn = f"arn:{partition}:sts::{account}:assumed-role/{role_name}/{assumed.session_name}"
            return Session(role_name, arn, assumed.session_token)
    return None


_SCOPE = re.compile(r"Credential=([A-Z0-9]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


def authorize(response: Any) -> tuple[int, dict[str, str], str] | None:
    """For moto's BaseResponse before it calls the action: None to go on, or the AccessDenied
    answer (AWS's wording) when the caller's role may not make this call."""
    scope = _SCOPE.search(str(response.headers.get("Authorization", "")))
    if scope is None:
        return None
    access_key, region, prefix = scope.groups()
    account, partition = response.current_account, response.partition
    session = assumed_session(account, partition, access_key)
    if session is None:
        return None  # the harness's own key, not a function's role
    if response.headers.get("X-Amz-Security-Token") != session.session_token:
        return _denied(response, "The security token included in the request is invalid")
    operation = response._get_action()
    params = _parameters(response, operation)
    where = iam_resources.Where(partition, region, account)
    statements = role_statements(account, partition, session.role_name)
    checks = iam_resources.authorizations(prefix, operation, params, where)
    for check in checks:
        decision = evaluate(
            statements, check.action, list(check.resources), session.arn, dict(check.context)
        )
        if not decision.allowed:
            log.warning("AccessDenied: %s", decision.message)
            return _denied(response, decision.message, check.denial_code)
    for check in checks:
        _record_usage(
            session.role_name, check.action, statements, list(check.resources), dict(check.context)
        )
    return None


def _record_usage(
    role_name: str,
    action: str,
    statements: list[dict[str, Any]],
    resources: list[str],
    context: Mapping[str, str],
) -> None:
    """With AURORA_RESTORE_IAM_USAGE set (make iam-mutation): which statements allowed this
    call, per resource, so a statement that is the only one allowing some call is known."""
    path = os.environ.get(USAGE_ENV)
    if not path:
        return
    targets: list[str | None] = list(resources) or [None]
    allowers = [
        [
            index
            for index, statement in enumerate(statements)
            if statement.get("Effect") == "Allow" and _applies(statement, action, target, context)
        ]
        for target in targets
    ]
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]  # pytest sets it
    line = json.dumps({"role": role_name, "action": action, "allowers": allowers, "test": test})
    with _USAGE_LOCK, open(path, "a", encoding="utf-8") as usage:
        usage.write(line + "\n")


def _parameters(response: Any, operation: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        key: value[0] if isinstance(value, list) and len(value) == 1 else value
        for key, value in (response.querystring or {}).items()
    }
    parsed: Any = response.body  # some moto services (DynamoDB) have parsed it already
    if isinstance(parsed, bytes):
        parsed = parsed.decode("utf-8", "replace")
    if isinstance(parsed, str) and parsed.lstrip().startswith("{"):
        try:
            parsed = json.loads(parsed)
        except ValueError:
            parsed = {}
    if isinstance(parsed, dict):
        params.update({k: v for k, v in parsed.items() if isinstance(v, str | list)})
        if isinstance(parsed.get("RequestItems"), dict):  # DynamoDB's batch calls name tables
            params["TableName"] = list(parsed["RequestItems"])
    if operation == "Invoke":  # the function is in the path: /2015-03-31/functions/NAME/...
        params["FunctionName"] = unquote(
            str(response.path).split("/functions/", 1)[1].split("/")[0]
        )
    return params


def _denied(
    response: Any, message: str, code: str | None = None
) -> tuple[int, dict[str, str], str]:
    """AccessDenied in the service's own protocol (botocore's models: query services answer
    XML `AccessDenied`, JSON services `AccessDeniedException`), or the service's own denial
    error where its model declares one (SNS: AuthorizationErrorException, code
    AuthorizationError, "the user has been denied access to the requested resource")."""
    from botocore.session import get_session

    protocol, own_code, query_compatible = _protocol(get_session(), response.boto3_service_name)
    own_code = code or own_code
    if protocol == "ec2":
        body = (
            "<Response><Errors><Error><Code>UnauthorizedOperation</Code>"
            f"<Message>{_xml(message)}</Message></Error></Errors><RequestID>local</RequestID>"
            "</Response>"
        )
        return 403, {"status": "403", "Content-Type": "text/xml"}, body
    if protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{own_code or 'AccessDenied'}</Code>"
            f"<Message>{_xml(message)}</Message></Error><RequestId>local</RequestId>"
            "</ErrorResponse>"
        )
        return 403, {"status": "403", "Content-Type": "text/xml"}, body
    json_code = own_code or "AccessDeniedException"
    headers = {"status": "403", "x-amzn-ErrorType": json_code}
    if protocol == "json" and query_compatible:
        # A former query service (SQS): the JSON error carries its query-era code in
        # x-amzn-query-error, which is what botocore reports (botocore parsers,
        # _do_query_compatible_error_parse): AccessDenied, or KMS.AccessDeniedException for
        # a key the caller may not use (SQS API reference, common errors).
        legacy = QUERY_ERROR_CODES.get(json_code, "AccessDenied")
        status = 403 if legacy == "AccessDenied" else 400
        headers = {"status": str(status), "x-amzn-query-error": f"{legacy};Sender"}
        return status, headers, json.dumps({"__type": json_code, "message": message})
    if protocol == "json":
        headers["status"] = "400"
        return 400, headers, json.dumps({"__type": json_code, "message": message})
    return 403, headers, json.dumps({"Type": "User", "message": message, "Message": message})


_PROTOCOLS: dict[str, tuple[str, str | None, bool]] = {}
_OWN_DENIAL_SHAPE = "AuthorizationErrorException"
QUERY_ERROR_CODES = {"KmsAccessDenied": "KMS.AccessDeniedException"}


def _protocol(session: Any, service: str) -> tuple[str, str | None, bool]:
    """The service's protocol, its own denial code when its model declares one, and whether it
    answers JSON errors with query-era codes (awsQueryCompatible)."""
    if service not in _PROTOCOLS:
        model = session.get_service_model(service)
        own = None
        if _OWN_DENIAL_SHAPE in model.shape_names:
            own = model.shape_for(_OWN_DENIAL_SHAPE).metadata["error"]["code"]
        compatible = "awsQueryCompatible" in model.metadata
        _PROTOCOLS[service] = (model.metadata["protocol"], own, compatible)
    return _PROTOCOLS[service]


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
