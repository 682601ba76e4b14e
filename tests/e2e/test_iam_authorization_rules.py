"""The authorization rules AWS applies beyond "this action on the resource named": listings on
every resource of the type, actions without resource-level permissions on `*`, tags on create as
rds:AddTagsToResource, task tokens on their state machine, and each service's own denial code.
Each test assumes a role made for it in the emulated account, as a person would."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local_stack import iam_enforcement, iam_resources
from local_stack.names import ACCOUNT
from local_stack.scenario import Driver, wait_for
from local_stack.stack import LocalStack
from tests.e2e.flows import request_restore

pytestmark = pytest.mark.e2e
WHERE = iam_resources.Where("aws", "us-east-1", "1")


def role_client(
    stack: LocalStack, name: str, service: str, statements: list[dict[str, Any]]
) -> Any:
    """A client of a new role holding exactly these statements."""
    iam = stack.clients.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    policy = {"Version": "2012-10-17", "Statement": statements}
    iam.put_role_policy(RoleName=name, PolicyName="probe", PolicyDocument=json.dumps(policy))
    info = stack.info
    sts = boto3.client("sts", endpoint_url=info["aws_endpoint_url"], region_name=info["region"])
    keys = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="probe")["Credentials"]
    return boto3.client(
        service,
        endpoint_url=info["aws_endpoint_url"],
        region_name=info["region"],
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )


def arn(stack: LocalStack, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{stack.info['region']}:{ACCOUNT}:{resource}"


def refusal(call: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    return dict(raised.value.response["Error"])


def test_a_listing_needs_a_grant_on_every_resource_of_the_type(stack):
    scoped = role_client(
        stack,
        "probe-scoped-describe",
        "rds",
        [
            {
                "Effect": "Allow",
                "Action": "rds:DescribeDBInstances",
                "Resource": arn(stack, "rds", "db:staging-*"),
            }
        ],
    )
    error = refusal(lambda: scoped.describe_db_instances())
    assert error["Code"] == "AccessDenied"
    assert error["Message"].endswith(
        ":db:* because no identity-based policy allows the rds:DescribeDBInstances action"
    )
    # Naming an instance the grant covers is allowed (it is simply not there).
    missing = refusal(lambda: scoped.describe_db_instances(DBInstanceIdentifier="staging-x-1"))
    assert missing["Code"] == "DBInstanceNotFound"


def test_an_action_without_resource_level_permissions_needs_resource_star(stack):
    statement = {"Effect": "Allow", "Action": "rds:DescribeOrderableDBInstanceOptions"}
    scoped = role_client(
        stack,
        "probe-orderable-scoped",
        "rds",
        [{**statement, "Resource": arn(stack, "rds", "db:*")}],
    )
    error = refusal(
        lambda: scoped.describe_orderable_db_instance_options(Engine="aurora-postgresql")
    )
    assert error["Code"] == "AccessDenied"
    assert "rds:DescribeOrderableDBInstanceOptions because" in error["Message"]
    everything = role_client(stack, "probe-orderable-star", "rds", [{**statement, "Resource": "*"}])
    assert "OrderableDBInstanceOptions" in everything.describe_orderable_db_instance_options(
        Engine="aurora-postgresql"
    )


def test_tags_on_create_need_add_tags_to_resource_on_the_new_resource(stack):
    seed = stack.info["seed"]
    cluster = seed["existing_target"]
    create = {
        "Effect": "Allow",
        "Action": "rds:CreateDBClusterSnapshot",
        "Resource": [
            arn(stack, "rds", f"cluster:{cluster}"),
            arn(stack, "rds", "cluster-snapshot:probe-*"),
        ],
    }
    rds = role_client(stack, "probe-snapshot-no-tags", "rds", [create])
    tags = [{"Key": "team", "Value": "data"}]
    error = refusal(
        lambda: rds.create_db_cluster_snapshot(
            DBClusterIdentifier=cluster, DBClusterSnapshotIdentifier="probe-tagged", Tags=tags
        )
    )
    assert "rds:AddTagsToResource on resource: " in error["Message"]
    assert (
        error["Message"]
        .split(" on resource: ")[1]
        .startswith(arn(stack, "rds", "cluster-snapshot:probe-tagged "))
    )
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier=cluster, DBClusterSnapshotIdentifier="probe-untagged"
    )
    tagging = {
        "Effect": "Allow",
        "Action": "rds:AddTagsToResource",
        "Resource": arn(stack, "rds", "cluster-snapshot:probe-*"),
    }
    allowed = role_client(stack, "probe-snapshot-tags", "rds", [create, tagging])
    allowed.create_db_cluster_snapshot(
        DBClusterIdentifier=cluster, DBClusterSnapshotIdentifier="probe-tagged", Tags=tags
    )


def test_a_task_token_is_answered_only_with_a_grant_on_its_state_machine(stack: LocalStack):
    driver = Driver(stack.info)
    seed = stack.info["seed"]
    operation_id = request_restore(driver, f"{seed['snapshot']} staging-token-probe")
    token = wait_for("the approval's task token", lambda: driver.store.task_token(operation_id), 20)
    machine = stack.info["state_machine_arn"]
    answers = ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"]
    other = machine.rsplit(":", 1)[0] + ":another-machine"
    elsewhere = role_client(
        stack,
        "probe-other-machine",
        "stepfunctions",
        [{"Effect": "Allow", "Action": answers, "Resource": other}],
    )
    error = refusal(lambda: elsewhere.send_task_heartbeat(taskToken=token))
    assert error["Message"].endswith(
        f"states:SendTaskHeartbeat on resource: {machine} because no identity-based policy "
        "allows the states:SendTaskHeartbeat action"
    )
    own = role_client(
        stack,
        "probe-own-machine",
        "stepfunctions",
        [{"Effect": "Allow", "Action": answers, "Resource": machine}],
    )
    answer = own.send_task_failure(taskToken=token, error="Probe", cause="authorized")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_sns_refuses_with_its_own_authorization_error(stack):
    other = {"Effect": "Allow", "Action": "sns:ListTopics", "Resource": "*"}
    sns = role_client(stack, "probe-no-publish", "sns", [other])
    error = refusal(lambda: sns.publish(TopicArn=stack.info["progress_topic_arn"], Message="{}"))
    assert error["Code"] == "AuthorizationError"
    assert "sns:Publish on resource: " in error["Message"]


def test_the_reference_names_the_resources_of_listings_and_tagged_creates():
    listing = iam_resources.resource_arns("rds", "DescribeDBClusterSnapshots", {}, WHERE)
    assert listing == [
        "arn:aws:rds:us-east-1:1:cluster:*",
        "arn:aws:rds:us-east-1:1:cluster-snapshot:*",
    ]
    assert iam_resources.resource_arns("rds", "DescribeOrderableDBInstanceOptions", {}, WHERE) == [
        "*"
    ]
    checks = iam_resources.authorizations(
        "rds",
        "CreateDBInstance",
        {"DBInstanceIdentifier": "staging-a-1", "DBClusterIdentifier": "staging-a", "Tags": ["x"]},
        WHERE,
    )
    assert [(c.action, c.resources) for c in checks] == [
        (
            "rds:CreateDBInstance",
            ("arn:aws:rds:us-east-1:1:db:staging-a-1", "arn:aws:rds:us-east-1:1:cluster:staging-a"),
        ),
        ("rds:AddTagsToResource", ("arn:aws:rds:us-east-1:1:db:staging-a-1",)),
    ]


def test_an_encrypted_queue_needs_the_key_to_send_and_to_receive(stack):
    queue_url = stack.info["lazy_work_failures_queue_url"]
    attributes = stack.clients.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn", "KmsMasterKeyId"]
    )["Attributes"]
    queue_arn, key = attributes["QueueArn"], attributes["KmsMasterKeyId"]
    use_queue = {
        "Effect": "Allow",
        "Action": ["sqs:SendMessage", "sqs:ReceiveMessage"],
        "Resource": queue_arn,
    }
    keyless = role_client(stack, "probe-queue-no-key", "sqs", [use_queue])
    error = refusal(lambda: keyless.send_message(QueueUrl=queue_url, MessageBody="{}"))
    assert error["Code"] == "KMS.AccessDeniedException"  # SQS's query-era code, as on AWS
    assert f"kms:GenerateDataKey on resource: {key} because" in error["Message"]
    refusal(lambda: keyless.receive_message(QueueUrl=queue_url))
    use_key = {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": key}
    keyed = role_client(stack, "probe-queue-key", "sqs", [use_queue, use_key])
    keyed.send_message(QueueUrl=queue_url, MessageBody="{}")
    assert keyed.receive_message(QueueUrl=queue_url)["Messages"]


def test_publishing_to_the_encrypted_progress_topic_needs_the_key(stack):
    topic = stack.info["progress_topic_arn"]
    publish = {"Effect": "Allow", "Action": "sns:Publish", "Resource": topic}
    sns = role_client(stack, "probe-topic-no-key", "sns", [publish])
    message = {"TopicArn": topic, "Message": "{}", "MessageGroupId": "probe"}
    error = refusal(lambda: sns.publish(**message, MessageDeduplicationId="one"))
    assert error["Code"] == "KMSAccessDenied"
    assert "kms:GenerateDataKey on resource: arn:aws:kms:" in error["Message"]


def test_a_parameter_group_left_out_is_authorized_as_the_engines_default():
    checks = iam_resources.authorizations(
        "rds",
        "RestoreDBClusterFromSnapshot",
        {
            "DBClusterIdentifier": "staging-a",
            "SnapshotIdentifier": "prod-nightly",
            "Engine": "aurora-postgresql",
            "EngineVersion": "15.4",
            "DBSubnetGroupName": "private",
        },
        WHERE,
    )
    assert "arn:aws:rds:us-east-1:1:cluster-pg:default.aurora-postgresql15" in checks[0].resources
    named = iam_resources.authorizations(
        "rds",
        "RestoreDBClusterFromSnapshot",
        {
            "DBClusterIdentifier": "staging-a",
            "Engine": "aurora-postgresql",
            "EngineVersion": "15.4",
            "DBClusterParameterGroupName": "tuned",
        },
        WHERE,
    )
    groups = [arn for arn in named[0].resources if ":cluster-pg:" in arn]
    assert groups == ["arn:aws:rds:us-east-1:1:cluster-pg:tuned"]


def test_an_instance_without_groups_needs_the_clusters_default_groups(stack):
    cluster = stack.info["seed"]["existing_target"]
    version = stack.clients.rds().describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][
        0
    ]["EngineVersion"]
    major = version.split(".")[0]
    create = {
        "Effect": "Allow",
        "Action": "rds:CreateDBInstance",
        "Resource": [
            arn(stack, "rds", f"db:{cluster}-probe"),
            arn(stack, "rds", f"cluster:{cluster}"),
            arn(stack, "rds", "og:default:*"),
        ],
    }
    rds = role_client(stack, "probe-instance-no-pg", "rds", [create])
    error = refusal(
        lambda: rds.create_db_instance(
            DBInstanceIdentifier=f"{cluster}-probe",
            DBClusterIdentifier=cluster,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )
    )
    assert f":pg:default.aurora-postgresql{major} because" in error["Message"]


def test_a_needed_resource_that_cannot_be_named_is_allowed_only_by_a_grant_on_everything():
    named = iam_resources.resource_arns("sqs", "GetQueueUrl", {"QueueName": "jobs"}, WHERE)
    assert named == ["arn:aws:sqs:us-east-1:1:jobs"]
    unnamed = iam_resources.resource_arns("sqs", "GetQueueUrl", {"QueueOwner": "1"}, WHERE)
    assert unnamed == ["unresolved-resource-of:sqs:GetQueueUrl"]
    scoped = [{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "arn:aws:sqs:*:*:*"}]
    assert not iam_enforcement.evaluate(scoped, "sqs:GetQueueUrl", unnamed, "probe").allowed
    everything = [{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "*"}]
    assert iam_enforcement.evaluate(everything, "sqs:GetQueueUrl", unnamed, "probe").allowed


def test_a_batch_call_is_authorized_on_every_table_it_names(stack):
    table = stack.info["operations_table"]
    read_one = {
        "Effect": "Allow",
        "Action": "dynamodb:BatchGetItem",
        "Resource": arn(stack, "dynamodb", f"table/{table}"),
    }
    dynamodb = role_client(stack, "probe-batch", "dynamodb", [read_one])
    key = {"operation_id": {"S": "ar-none"}}
    dynamodb.batch_get_item(RequestItems={table: {"Keys": [key]}})
    audit = stack.info["audit_table"]
    both = {table: {"Keys": [key]}, audit: {"Keys": [{**key, "event_key": {"S": "x"}}]}}
    error = refusal(lambda: dynamodb.batch_get_item(RequestItems=both))
    assert f"table/{audit} because" in error["Message"]


def test_a_copy_with_a_key_needs_the_key_through_rds_not_directly():
    via_rds = {
        "Effect": "Allow",
        "Action": ["kms:CreateGrant", "kms:DescribeKey"],
        "Resource": "arn:aws:kms:us-east-1:1:key/k",
        "Condition": {"StringLike": {"kms:ViaService": "rds.*.amazonaws.com"}},
    }
    rds_context = {"kms:ViaService": "rds.us-east-1.amazonaws.com"}
    key = ["arn:aws:kms:us-east-1:1:key/k"]
    assert iam_enforcement.evaluate([via_rds], "kms:CreateGrant", key, "p", rds_context).allowed
    # The function's own direct call to KMS carries no kms:ViaService: not allowed.
    assert not iam_enforcement.evaluate([via_rds], "kms:DescribeKey", key, "p").allowed
    unknown = {**via_rds, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
    assert not iam_enforcement.evaluate([unknown], "kms:CreateGrant", key, "p", rds_context).allowed
