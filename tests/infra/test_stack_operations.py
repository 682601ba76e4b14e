"""Alarms, the dashboard, cdk-nag and the cloud assembly of the synthesized template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk.assertions import Annotations, Match
from cdk_nag import AwsSolutionsChecks

from infra import constants
from infra.nag import render_cfn_value
from tests.infra.stack_queries import (
    actions_on,
    alarms_by_metric,
    function_named,
    queue_id,
    statements_of,
)

pytestmark = pytest.mark.infra
CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"


def test_every_alarm_notifies_the_operator_topic(synthesized):
    topic = {"Ref": synthesized.logical_id(synthesized.stack.operator_topic)}
    alarms = synthesized.of_type("AWS::CloudWatch::Alarm")
    assert alarms
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [topic]
        assert alarm["Properties"]["AlarmDescription"]


def test_alarms_cover_executions_functions_and_waiting_approvals(synthesized):
    alarms = alarms_by_metric(synthesized)
    assert {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"} <= set(alarms)
    (failed,) = alarms["ExecutionsFailed"]
    expression = next(m["Expression"] for m in failed["alarm"]["Metrics"] if "Expression" in m)
    assert "denied" in expression and "expired" in expression and "cancelled" in expression
    expired = [
        entry
        for entry in alarms[constants.RESTORE_OUTCOME_METRIC]
        if entry["dimensions"] == [{"Name": constants.OUTCOME_DIMENSION, "Value": "EXPIRED"}]
        and len(entry["alarm"]["Metrics"]) == 1
    ]
    assert len(expired) == 1  # approvals left waiting until they expired
    assert len(alarms["Errors"]) == len(constants.ALL_FUNCTIONS)
    assert len(alarms["Throttles"]) == len(constants.ALL_FUNCTIONS)


def test_a_message_in_a_dead_letter_queue_alarms_the_operator(synthesized):
    dead_letter_ids = {
        queue_id(queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for queue in synthesized.of_type("AWS::SQS::Queue").values()
        if "RedrivePolicy" in queue["Properties"]
    }
    assert len(dead_letter_ids) == 2
    watched = set()
    for entry in alarms_by_metric(synthesized)["ApproximateNumberOfMessagesVisible"]:
        alarm = entry["alarm"]
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        (dimension,) = entry["dimensions"]
        assert dimension["Name"] == "QueueName"
        watched.add(dimension["Value"]["Fn::GetAtt"][0])
    lazy_failures = synthesized.logical_id(synthesized.stack.lazy_work_failures)
    assert watched == dead_letter_ids | {lazy_failures}


def test_the_dashboard_shows_outcomes_stage_durations_and_approval_latency(synthesized):
    (dashboard,) = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    body = render_cfn_value(dashboard["Properties"]["DashboardBody"])
    assert "Restores by outcome" in body and '"Outcome","SUCCEEDED"' in body
    assert "Stage duration" in body and '"Stage","restore_cluster"' in body
    assert "Approval latency" in body and '"Stage","approval"' in body


def test_cdk_nag_reports_nothing_unacknowledged(synthesized):
    report = AwsSolutionsChecks(synthesized.app).validate_scope(synthesized.app)
    findings = [
        f"{violation.rule_name}: {violation.description}" for violation in report.violations
    ]
    assert findings == []
    annotations = Annotations.from_stack(synthesized.stack)
    assert annotations.find_error("*", Match.any_value()) == []
    assert annotations.find_warning("*", Match.any_value()) == []


def test_every_acknowledgement_carries_a_reason(synthesized):
    acknowledged = 0
    for construct in synthesized.stack.node.find_all():
        for entry in construct.node.metadata:
            if "acknowledge" in str(entry.type).lower():
                for rule, reason in dict(entry.data).items():
                    acknowledged += 1
                    assert isinstance(reason, str) and len(reason) > 30, rule
    assert acknowledged > 0


def test_the_cloud_assembly_is_written_offline_and_environment_agnostic(synthesized):
    template = json.loads((synthesized.outdir / "AuroraRestore.template.json").read_text())
    assert "Resources" in template
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
    assert (
        manifest["artifacts"]["AuroraRestore"]["environment"]
        == "aws://unknown-account/unknown-region"
    )


def test_lazy_work_that_fails_every_attempt_is_kept_and_alarms(synthesized):
    # Bolt's lazy listeners are asynchronous self-invocations: after Lambda's retries, the
    # record goes to an encrypted queue instead of being dropped, and that queue alarms.
    (config,) = synthesized.of_type("AWS::Lambda::EventInvokeConfig").values()
    props = config["Properties"]
    endpoint, _ = function_named(synthesized, constants.SLACK_ENDPOINT)
    assert props["FunctionName"] == {"Ref": endpoint}
    assert props["MaximumRetryAttempts"] == constants.LAZY_RETRY_ATTEMPTS
    assert props["MaximumEventAgeInSeconds"] == constants.LAZY_MAX_EVENT_AGE_SECONDS
    queue_id = synthesized.logical_id(synthesized.stack.lazy_work_failures)
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [queue_id, "Arn"]
    }
    queue = synthesized.resources[queue_id]["Properties"]
    assert queue["KmsMasterKeyId"] == {
        "Fn::GetAtt": [synthesized.logical_id(synthesized.stack.key), "Arn"]
    }
    assert actions_on(statements_of(synthesized, "SlackEndpointRole"), "sqs:SendMessage") == [
        f"<{queue_id}.Arn>"
    ]
    alarms = [
        alarm["Properties"]
        for alarm in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Dimensions")
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    ]
    assert len(alarms) == 1
    operator = synthesized.logical_id(synthesized.stack.operator_topic)
    assert alarms[0]["AlarmActions"] == [{"Ref": operator}]
