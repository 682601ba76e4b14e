"""Alarms to the operator topic and the operations dashboard."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constants import (
    METRICS_NAMESPACE,
    OUTCOME_DIMENSION,
    RESTORE_OUTCOME_METRIC,
    STAGE_DIMENSION,
    STAGE_DURATION_METRIC,
    FunctionSpec,
)
from pipeline.models import TERMINAL_STATUSES, OperationStatus, Stage

ALARM_PERIOD = Duration.minutes(5)
DASHBOARD_PERIOD = Duration.days(1)
# Ends decided by people, not failures: the execution still ends in a Fail state for them.
HUMAN_ENDS = (OperationStatus.DENIED, OperationStatus.EXPIRED, OperationStatus.CANCELLED)


def outcome_metric(status: OperationStatus, period: Duration = ALARM_PERIOD) -> cw.Metric:
    return cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=RESTORE_OUTCOME_METRIC,
        dimensions_map={OUTCOME_DIMENSION: str(status)},
        statistic=cw.Stats.SUM,
        period=period,
        label=str(status).lower(),
    )


def stage_duration_metric(stage: Stage, statistic: str, label: str | None = None) -> cw.Metric:
    return cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=STAGE_DURATION_METRIC,
        dimensions_map={STAGE_DIMENSION: str(stage)},
        statistic=statistic,
        period=DASHBOARD_PERIOD,
        label=label or stage.label,
    )


class Monitoring(Construct):
    """Every alarm notifies the operator topic; the dashboard reads the same metrics."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.StateMachine,
        functions: Mapping[FunctionSpec, lambda_.Function],
        api: apigw.RestApi,
        operator_topic: sns.ITopic,
        dead_letter_queues: Mapping[FunctionSpec, sqs.IQueue],
        lazy_work_failures: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self._action = cw_actions.SnsAction(operator_topic)
        self.alarms: list[cw.Alarm] = []
        self._build_execution_alarms(state_machine)
        self._build_approval_alarm()
        self._build_function_alarms(functions)
        self._build_dead_letter_alarms(dead_letter_queues)
        self._alarm(
            "SlackLazyWorkFailed",
            lazy_work_failures.metric_approximate_number_of_messages_visible(
                period=ALARM_PERIOD, statistic=cw.Stats.MAXIMUM
            ),
            "An invocation of the Slack endpoint's lazy work (starting a restore, a decision, a "
            "status answer) timed out, crashed or could not start on every attempt: someone's "
            "command got no answer. It waits in the SlackLazyWorkFailures queue with its "
            "error; tell that person.",
        )
        self._alarm(
            "SlackApiServerErrors",
            api.metric_server_error(period=ALARM_PERIOD, statistic=cw.Stats.SUM),
            "The Slack endpoint answered 5xx: Slack shows users an error.",
        )
        self.dashboard = self._build_dashboard(state_machine, functions)

    def _alarm(self, construct_id: str, metric: cw.IMetric, description: str) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        self.alarms.append(alarm)
        return alarm

    def _build_execution_alarms(self, state_machine: sfn.StateMachine) -> None:
        # A denial, an expiry and a cancellation also end in a Fail state; subtracting those
        # outcomes leaves the restores that really failed, including a failure so early or so
        # broken that RecordFailure never published an outcome.
        failed = cw.MathExpression(
            expression="FILL(failed, 0) - FILL(denied, 0) - FILL(expired, 0) - FILL(cancelled, 0)",
            using_metrics={
                "failed": state_machine.metric_failed(period=ALARM_PERIOD, statistic="Sum"),
                **{str(end).lower(): outcome_metric(end) for end in HUMAN_ENDS},
            },
            label="failed restores",
            period=ALARM_PERIOD,
        )
        self._alarm(
            "RestoreFailed",
            failed,
            "A restore execution failed (not a denial, expiry or cancellation). "
            "The request's Slack thread and the audit table say which stage and why.",
        )
        self._alarm(
            "ExecutionTimedOut",
            state_machine.metric_timed_out(period=ALARM_PERIOD, statistic="Sum"),
            "A restore execution hit the state machine's overall timeout; its target lock may "
            "still be held until it expires.",
        )
        self._alarm(
            "ExecutionAborted",
            state_machine.metric_aborted(period=ALARM_PERIOD, statistic="Sum"),
            "A restore execution was stopped; check the operation's status and its target.",
        )

    def _build_approval_alarm(self) -> None:
        self._alarm(
            "ApprovalExpired",
            outcome_metric(OperationStatus.EXPIRED),
            "A restore request waited for approval until it expired: nobody acted on the card.",
        )

    def _build_function_alarms(self, functions: Mapping[FunctionSpec, lambda_.Function]) -> None:
        for spec, function in functions.items():
            self._alarm(
                f"{spec.construct_id}Errors",
                function.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
                f"{spec.construct_id} ({spec.handler}) raised errors.",
            )
            self._alarm(
                f"{spec.construct_id}Throttles",
                function.metric_throttles(period=ALARM_PERIOD, statistic="Sum"),
                f"{spec.construct_id} ({spec.handler}) was throttled.",
            )

    def _build_dead_letter_alarms(self, queues: Mapping[FunctionSpec, sqs.IQueue]) -> None:
        for spec, queue in queues.items():
            self._alarm(
                f"{spec.construct_id}DeadLetters",
                queue.metric_approximate_number_of_messages_visible(
                    period=ALARM_PERIOD, statistic=cw.Stats.MAXIMUM
                ),
                f"Progress events for {spec.construct_id} ({spec.handler}) failed every retry "
                "and wait in its dead-letter queue: fix the cause (Slack token, permissions), "
                "then start a DLQ redrive to the source queue (docs/deploy.md).",
            )

    def _build_dashboard(
        self, state_machine: sfn.StateMachine, functions: Mapping[FunctionSpec, lambda_.Function]
    ) -> cw.Dashboard:
        outcomes = [
            outcome_metric(status, DASHBOARD_PERIOD)
            for status in OperationStatus
            if status in TERMINAL_STATUSES
        ]
        timed_stages = [stage for stage in Stage if stage not in (Stage.APPROVAL, Stage.RETENTION)]
        dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.days(14))
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Restores by outcome (per day)",
                left=outcomes,
                stacked=True,
                width=12,
            ),
            cw.GraphWidget(
                title="Executions",
                left=[
                    state_machine.metric_started(period=DASHBOARD_PERIOD, statistic="Sum"),
                    state_machine.metric_succeeded(period=DASHBOARD_PERIOD, statistic="Sum"),
                    state_machine.metric_failed(period=DASHBOARD_PERIOD, statistic="Sum"),
                    state_machine.metric_aborted(period=DASHBOARD_PERIOD, statistic="Sum"),
                    state_machine.metric_timed_out(period=DASHBOARD_PERIOD, statistic="Sum"),
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Stage duration, average (seconds)",
                left=[stage_duration_metric(stage, cw.Stats.AVERAGE) for stage in timed_stages],
                width=12,
            ),
            cw.GraphWidget(
                title="Stage duration, maximum (seconds)",
                left=[stage_duration_metric(stage, cw.Stats.MAXIMUM) for stage in timed_stages],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Approval latency (seconds from the card to approval)",
                left=[
                    stage_duration_metric(Stage.APPROVAL, cw.Stats.p(50), "p50"),
                    stage_duration_metric(Stage.APPROVAL, cw.Stats.p(90), "p90"),
                    stage_duration_metric(Stage.APPROVAL, cw.Stats.MAXIMUM, "max"),
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Function errors",
                left=[
                    function.metric_errors(
                        period=Duration.hours(1), statistic="Sum", label=spec.construct_id
                    )
                    for spec, function in functions.items()
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24)
        )
        return dashboard
