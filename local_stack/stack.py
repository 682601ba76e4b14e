"""The local stack: moto as AWS, the Slack emulator as Slack, the real code in between.

One stack per process: it sets the environment the handlers read, exactly as Lambda would.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.credentials import Credentials
from moto.server import ThreadedMotoServer

from bot.policy import Policy
from infra.constants import NOTIFIER, retention_environment, visibility_timeout_seconds
from local_stack import iam_credentials, moto_patches
from local_stack.faults import AwsFaults
from local_stack.functions import BOT_FUNCTION, NOTIFIER_FUNCTION, RETENTION_FUNCTION
from local_stack.iam_policies import LOCAL_SNAPSHOT_PATTERNS
from local_stack.iam_roles import (
    LocalResources,
    local_resources,
)
from local_stack.lambda_runtime import LambdaRuntime
from local_stack.manifest import messages_tab_enabled
from local_stack.names import (
    ACCOUNT,
    CHANNEL,
    PROTECTED_TARGETS,
    STATE_MACHINE_NAME,
    TEAM_ID,
    USERS,
)
from local_stack.postgres import ClusterDatabases
from local_stack.postgres_server import LocalPostgres
from local_stack.queue_poller import QueuePoller, queued_messages
from local_stack.rds_rules import RdsRules
from local_stack.secrets_extension import (
    BotConfiguration,
    SecretsExtensionEmulator,
    store_bot_configuration,
)
from local_stack.seed_data import CLUSTER_DATA
from local_stack.slack_emulator import SlackEmulator
from local_stack.slack_endpoint import SlackEndpoint
from local_stack.stack_deploy import deploy_functions_and_state_machine, stack_file
from local_stack.stack_resources import (
    create_resources,
    process_aws_env,
)
from local_stack.world import MASTER_USER, SeededWorld, seed_world
from pipeline.aws import AwsClients

DATABASE_CONFIG = Path(__file__).resolve().parents[1] / "config" / "database.example.yaml"
# Failed notifier batches come back after the queue's visibility timeout, scaled like the Wait
# states; never sooner than this, so a Slack outage is retried, not spun on.
MIN_RETRY_DELAY_SECONDS = 0.2


@dataclass
class StackOptions:
    region: str = "us-east-1"
    source_region: str = "eu-west-1"
    time_scale: float = 0.01  # Wait states, retry intervals and RDS statuses, relative to AWS
    approval_timeout_seconds: int = 3600
    extra_env: dict[str, str] = field(default_factory=dict)
    # Policy sections over the local stack's own (e.g. `retention`), as a policy file sets them.
    policy_extra: dict[str, Any] = field(default_factory=dict)


class LocalStack:
    """Start with `start()` (or a `with` block); `info` is the stack file's content."""

    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.runtime = LambdaRuntime(
            account=ACCOUNT, region=self.options.region, time_scale=self.options.time_scale
        )
        self.faults = AwsFaults()
        # RDS statuses take no time until the seeded world exists, then `time_scale` of AWS's.
        self.rds_rules = RdsRules(time_scale=0)
        self.slack = SlackEmulator(team_id=TEAM_ID, messages_tab_enabled=messages_tab_enabled())
        self.endpoint = SlackEndpoint(self.runtime, BOT_FUNCTION)
        self.signing_secret = secrets.token_hex(16)
        self.info: dict[str, Any] = {}
        self.world: SeededWorld | None = None
        self.postgres: LocalPostgres | None = None
        self.databases: ClusterDatabases | None = None
        self.progress_poller: QueuePoller | None = None
        self.secrets_extension: SecretsExtensionEmulator | None = None
        self.bot_configuration: BotConfiguration | None = None
        self._saved_env: dict[str, str | None] = {}
        self.roles: dict[str, str] = {}  # function name -> role ARN
        self.state_machine_role = ""  # the role the state machine invokes its tasks with
        self.role_sessions: dict[str, Credentials] = {}  # role ARN -> the session moto acts with
        self.local_resources: LocalResources | None = None  # what the CDK policies name, here

    # ----- lifecycle ----------------------------------------------------------------------------
    def start(self) -> LocalStack:
        try:
            return self._start()
        except BaseException:
            self.stop()  # nothing half-started stays behind (servers, moto patches, env)
            raise

    def _start(self) -> LocalStack:
        # moto logs every request, and its interpreter every failed execution with a traceback;
        # the stack's own outputs (Slack threads, audit, execution history) say it better.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        endpoint_url = f"http://{host}:{port}"
        self._set_env(process_aws_env(endpoint_url, port, self.options.region))
        # Before any client exists: each function signs with its own role (iam_credentials).
        iam_credentials.install()
        self._start_postgres()
        moto_patches.install(
            self.runtime, self.faults, self.databases, self.rds_rules, self.role_sessions
        )
        # moto keeps its state per process: a new stack starts from an empty account.
        reset = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")  # noqa: S310
        urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310 - our loopback moto server
        self.slack.start()
        self._seed_slack()
        self.clients = AwsClients(region=self.options.region, endpoint_url=endpoint_url)
        names = create_resources(self.clients, self.runtime)
        self._start_secrets_extension()
        master_password = secrets.token_urlsafe(18)
        self.world = seed_world(
            self.clients,
            source_region=self.options.source_region,
            master_password=master_password,
            kms_key_id=names["kms_key_id"],  # the configured key (rds.kms_key_arn), as deployed
        )
        self._seed_data(master_password)
        self.rds_rules.time_scale = self.options.time_scale
        self._set_env(self._function_env(endpoint_url, names))
        self._reset_process_caches()
        state_machine_arn = deploy_functions_and_state_machine(self, names)
        self._start_progress_poller(names)
        self.endpoint.start()
        self.info = stack_file(self, endpoint_url, names, state_machine_arn)
        return self

    def stop(self) -> None:
        self.runtime.wait_idle(timeout=5)
        for closer in (
            self._stop_progress_poller,
            self.endpoint.stop,
            self.slack.stop,
            self._stop_secrets_extension,
            self._moto.stop,
            self.runtime.shutdown,
            moto_patches.uninstall,
            iam_credentials.uninstall,
            self._stop_postgres,
        ):
            try:
                closer()
            except Exception:  # noqa: S112 - stopping is best effort, every part gets its turn
                continue
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._reset_process_caches()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_stack_file(self, path: Path) -> None:
        path.write_text(json.dumps(self.info, indent=2), encoding="utf-8")

    def run_retention_sweep(self, now: datetime) -> dict[str, Any]:
        """One run of the deployed retention sweep, as its hourly schedule invokes it, with `now`
        as the scheduled event's `time`: a test makes a kept cluster expire without waiting days.
        Runs as the function's role, so its IAM policy is enforced; a function error raises."""
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "time": now.isoformat()}
        result = self.runtime.invoke(RETENTION_FUNCTION, event)
        answer: dict[str, Any] = json.loads(result.payload)
        if result.error_type is not None:
            raise RuntimeError(f"the retention sweep failed: {answer}")
        return answer

    # ----- progress delivery --------------------------------------------------------------------
    def wait_for_progress_delivered(self, timeout: float = 30) -> bool:
        """Once the executions that publish progress have ended: wait until no asynchronous
        invocation runs and the notifier's queue holds nothing, waiting or in flight (a message
        leaves it only when the notifier succeeded with it). False at the deadline, or when
        events ended in the dead-letter queue."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            if (
                self.runtime.wait_idle(remaining)
                and self._queued_progress(self.info["progress_queue_url"]) == 0
                and self.runtime.wait_idle(0)
            ):
                return self.dead_lettered_progress() == 0
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def dead_lettered_progress(self) -> int:
        """Progress events that failed every retry (the deployed stack alarms on this)."""
        return self._queued_progress(self.info["progress_dead_letter_queue_url"])

    def _queued_progress(self, queue_url: str) -> int:
        return queued_messages(self.clients.client("sqs"), queue_url)

    # ----- building blocks ----------------------------------------------------------------------
    def _set_env(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def _start_postgres(self) -> None:
        self.postgres = LocalPostgres.start()  # in a run directory of its own, removed on stop
        self.databases = ClusterDatabases(self.postgres)

    def _stop_postgres(self) -> None:
        if self.postgres is not None:
            self.postgres.stop()

    def _seed_data(self, master_password: str) -> None:
        """Fill the seeded clusters, then give their existing snapshots the same data."""
        assert self.databases is not None and self.world is not None
        for cluster_id, sql in CLUSTER_DATA.items():
            self.databases.seed_cluster(cluster_id, MASTER_USER, master_password, sql)
        for region in (self.options.region, self.world.source_region):
            listing = self.clients.rds(region).describe_db_cluster_snapshots()
            for snapshot in listing["DBClusterSnapshots"]:
                self.databases.on_snapshot(
                    snapshot["DBClusterIdentifier"], snapshot["DBClusterSnapshotIdentifier"]
                )

    def _seed_slack(self) -> None:
        for user_id, name in USERS.values():
            self.slack.add_user(user_id, name)
        self.slack.add_channel(*CHANNEL)

    def _start_secrets_extension(self) -> None:
        """The Slack secrets in Secrets Manager and the policy in Parameter Store, read by the
        bot's functions through the (emulated) Parameters and Secrets extension, as on AWS."""
        self.bot_configuration = store_bot_configuration(
            self.clients,
            signing_secret=self.signing_secret,
            bot_token=self.slack.bot_token,
            policy=self.policy(),
        )
        self.secrets_extension = SecretsExtensionEmulator(self.clients, self.runtime.session)
        self.secrets_extension.start()

    def policy(self) -> dict[str, Any]:
        return {
            "requesters": {"users": [USERS["requester"][0]]},
            "approvers": {"users": [USERS["approver"][0], USERS["second_approver"][0]]},
            "protected_targets": PROTECTED_TARGETS,
            "two_approver_targets": ["shared-*"],
            "approval_expiry_seconds": self.options.approval_timeout_seconds,
            **self.options.policy_extra,
        }

    def _stop_secrets_extension(self) -> None:
        if self.secrets_extension is not None:
            self.secrets_extension.stop()
            self.secrets_extension = None

    def _start_progress_poller(self, names: dict[str, str]) -> None:
        retry_delay = max(
            MIN_RETRY_DELAY_SECONDS, visibility_timeout_seconds(NOTIFIER) * self.options.time_scale
        )
        self.progress_poller = QueuePoller(
            sqs=self.clients.client("sqs"),
            queue_url=names["progress_queue_url"],
            queue_arn=names["progress_queue_arn"],
            function_name=NOTIFIER_FUNCTION,
            runtime=self.runtime,
            retry_delay=retry_delay,
        ).start()

    def _stop_progress_poller(self) -> None:
        if self.progress_poller is not None:
            self.progress_poller.stop()
            self.progress_poller = None

    def _function_env(self, endpoint_url: str, names: dict[str, str]) -> dict[str, str]:
        assert self.world is not None
        assert self.secrets_extension is not None and self.bot_configuration is not None
        env = {
            "AURORA_RESTORE_OPERATIONS_TABLE": names["operations_table"],
            "AURORA_RESTORE_AUDIT_TABLE": names["audit_table"],
            "AURORA_RESTORE_PROGRESS_TOPIC_ARN": names["topic_arn"],
            "AURORA_RESTORE_DB_SUBNET_GROUP": self.world.subnet_group,
            "AURORA_RESTORE_VPC_SECURITY_GROUP_IDS": json.dumps([self.world.security_group_id]),
            "AURORA_RESTORE_PROTECTED_CLUSTERS": json.dumps(PROTECTED_TARGETS),
            "AURORA_RESTORE_KMS_KEY_ID": names["kms_key_id"],
            "AURORA_RESTORE_SNAPSHOT_PATTERNS": json.dumps(LOCAL_SNAPSHOT_PATTERNS),
            "AURORA_RESTORE_AWS_ENDPOINT_URL": endpoint_url,
            "AURORA_RESTORE_STATE_MACHINE_ARN": self._state_machine_arn(),
            "AURORA_RESTORE_SLACK_API_URL": self.slack.api_url,
            "AURORA_RESTORE_RESPONSE_URL_BASE": self.slack.response_url_base,
            **self.bot_configuration.environment(),
            **self.secrets_extension.environment(),
            "AURORA_RESTORE_DATABASE_CONFIG_PATH": str(DATABASE_CONFIG),
            "AURORA_RESTORE_DB_TLS": "false",  # the local server listens on loopback only
        }
        # As the stack passes them: the policy's retention defaults (infra.functions).
        defaults = Policy.model_validate(self.policy()).retention.defaults
        env |= {str(name): value for name, value in retention_environment(defaults).items()}
        if self.postgres is not None:
            env["AURORA_RESTORE_DB_ENDPOINT_OVERRIDE"] = (
                f"{self.postgres.host}:{self.postgres.port}"
            )
        env.update(self.options.extra_env)
        return env

    def _state_machine_arn(self) -> str:
        return f"arn:aws:states:{self.options.region}:{ACCOUNT}:stateMachine:{STATE_MACHINE_NAME}"

    def resources_for(self, names: dict[str, str]) -> LocalResources:
        assert self.bot_configuration is not None
        return local_resources(
            region=self.options.region,
            account=ACCOUNT,
            names=names,
            bot=self.bot_configuration,
            state_machine=(self._state_machine_arn(), STATE_MACHINE_NAME),
        )

    def _reset_process_caches(self) -> None:
        """Handlers cache settings per process, as on Lambda; a new stack is a new deployment."""
        from bot import lambda_entry
        from bot.container import set_default_dependencies
        from pipeline.context import set_default_context
        from pipeline.settings import get_settings

        get_settings.cache_clear()
        set_default_context(None)
        set_default_dependencies(None)
        lambda_entry.reset()
