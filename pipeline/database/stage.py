"""Stage 8, set up the database: master password, users and grants, post-restore SQL.

Order matters: the master password the restore carried over from the source is replaced first,
before anything else touches the cluster and before anyone is told it is ready.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pg8000.exceptions import DatabaseError, InterfaceError

from pipeline.context import PipelineContext
from pipeline.database.cluster import (
    ClusterInfo,
    ClusterSession,
    describe_cluster_endpoint,
    reset_master_password,
)
from pipeline.database.config import ClusterSetup, DatabaseConfig, UserSpec, load_database_config
from pipeline.database.connection import (
    Connector,
    connector_from_settings,
    is_transient,
    server_message,
    transaction,
)
from pipeline.database.credentials import CredentialStore, secret_name
from pipeline.database.scripts import SCRIPT_AUDIT_ACTION, applied_scripts, run_scripts
from pipeline.database.users import act_for_owners, apply_grants, ensure_login_role, ensure_schema
from pipeline.errors import DatabaseSetupError, FatalError, RetryableError
from pipeline.models import AuditEvent, Stage, StageStatus
from pipeline.observability import logger
from pipeline.progress import PIPELINE_ACTOR
from pipeline.secret_versions import PENDING_SECRETS
from pipeline.stages.common import ensure_acting, hold_target_lock

USER_AUDIT_ACTION = "setup_database.user"

MASTER_AUDIT_ACTION = "setup_database.master_password"


@dataclass(frozen=True)
class UserOutcome:
    name: str
    created: bool
    secret_name: str
    password_rotated: bool


def setup_database(
    operation_id: str,
    ctx: PipelineContext,
    *,
    connector: Connector | None = None,
    config: DatabaseConfig | None = None,
) -> dict[str, Any]:
    """Run stage 8 for the operation's target cluster; returns `{users, scripts}`."""
    settings = ctx.settings
    operation = ctx.store.get(operation_id)
    done = operation.stages.get(Stage.SETUP_DATABASE)
    if done is not None and done.status == StageStatus.SUCCEEDED:
        # A repeated invocation of a call that succeeded (Lambda or Step Functions retried it):
        # answer as the first one did, without touching the cluster, secrets or audit log again.
        return recorded_result(ctx.store.audit_events(operation_id))
    ensure_acting(operation)
    hold_target_lock(ctx, operation)
    connector = connector or connector_from_settings(settings)
    # A swap sets up the cluster restored beside the target, under the target's name for its
    # secrets (written as pending) and its configuration.
    plan = operation.plan
    cluster_id = plan.restore_cluster if plan is not None else operation.target_cluster
    reporter = ctx.reporter
    reporter.started(
        operation_id, Stage.SETUP_DATABASE, f"Setting up database users on {cluster_id}"
    )
    try:
        if config is None:  # loaded once per process; a bad file fails the stage by its message
            config = load_database_config(settings.database_config_path)
        result, detail, resources = _run(
            operation_id, ctx, connector, config, cluster_id, operation.target_cluster
        )
    except FatalError as exc:
        reporter.finished(operation_id, Stage.SETUP_DATABASE, StageStatus.FAILED, exc.message)
        raise
    # A RetryableError is not reported as a failure: the state machine retries the stage.
    reporter.finished(
        operation_id, Stage.SETUP_DATABASE, StageStatus.SUCCEEDED, detail, resources=resources
    )
    return result


def recorded_result(events: Sequence[AuditEvent]) -> dict[str, Any]:
    """`{users, scripts}` of a completed set-up, from what its audit events recorded."""
    users = [str(e.detail.get("user")) for e in events if e.action == USER_AUDIT_ACTION]
    scripts = [
        str(e.detail.get("script"))
        for e in events
        if e.action == SCRIPT_AUDIT_ACTION and e.detail.get("outcome") == "succeeded"
    ]
    return {"users": list(dict.fromkeys(users)), "scripts": list(dict.fromkeys(scripts))}


def _run(
    operation_id: str,
    ctx: PipelineContext,
    connector: Connector,
    config: DatabaseConfig,
    cluster_id: str,
    target: str,
) -> tuple[dict[str, Any], str, dict[str, str]]:
    rds = ctx.clients.rds()
    cluster = describe_cluster_endpoint(rds, cluster_id, published_as=target)
    setup = config.for_cluster(target)
    _check_setup(cluster, setup)
    credentials = CredentialStore(
        ctx.clients.secretsmanager,
        kms_key_id=ctx.settings.secrets_kms_key_id,
        pending=cluster.published_as is not None,
    )
    master = reset_master_password(
        rds,
        credentials,
        cluster,
        operation_id=operation_id,
        secret_prefix=ctx.settings.secret_name_prefix,
    )
    ctx.store.audit(
        operation_id,
        PIPELINE_ACTOR,
        MASTER_AUDIT_ACTION,
        {"cluster": cluster_id, "secret": master.secret_name, "rotated": not master.reused},
    )
    resources = {"master_secret": master.secret_name}
    if not cluster.is_postgres:  # _check_setup made sure nothing else is configured
        _list_pending(resources, cluster, [master.secret_name])
        return {"users": [], "scripts": []}, "Master password reset", resources

    def audit(action: str, detail: dict[str, Any]) -> None:
        ctx.store.audit(operation_id, PIPELINE_ACTOR, action, {"cluster": cluster_id, **detail})

    session = ClusterSession(connector, cluster, master, tls=ctx.settings.db_tls, rds=rds)
    try:
        session.connection()  # proves the new master password works before anyone is told
        users = _ensure_users(session, setup.users, credentials, operation_id, ctx, audit)
        done = applied_scripts(ctx.store.audit_events(operation_id)) if setup.scripts else set()
        scripts = run_scripts(session, setup.scripts, already_applied=done, audit=audit)
    finally:
        session.close()
    detail = (
        f"Master password reset; {len(users)} user(s) ready; "
        f"{len(scripts)} post-restore script(s) applied"
    )
    _list_pending(resources, cluster, [master.secret_name, *(u.secret_name for u in users)])
    if cluster.published_as is not None:
        detail += f" on `{cluster_id}`; its credentials go live when it takes `{target}`'s name"
    return (
        {"users": [u.name for u in users], "scripts": [s.name for s in scripts]},
        detail,
        resources,
    )


def _list_pending(resources: dict[str, str], cluster: ClusterInfo, names: list[str]) -> None:
    """The secrets whose AWSPENDING versions the swap promotes (pipeline.stages.swap)."""
    if cluster.published_as is not None:
        resources[PENDING_SECRETS] = ",".join(names)


def _check_setup(cluster: ClusterInfo, setup: ClusterSetup) -> None:
    if not cluster.is_postgres and (setup.users or setup.scripts):
        raise DatabaseSetupError(
            f"`{cluster.cluster_id}` runs {cluster.engine}: users and post-restore SQL are "
            "supported for Aurora PostgreSQL only"
        )
    for user in setup.users:
        if user.name == cluster.master_username:
            raise DatabaseSetupError(
                f"user `{user.name}` is the master user of `{cluster.cluster_id}`; "
                "configure application users only"
            )


def _ensure_users(
    session: ClusterSession,
    users: Sequence[UserSpec],
    credentials: CredentialStore,
    operation_id: str,
    ctx: PipelineContext,
    audit: Callable[[str, dict[str, Any]], None],
) -> list[UserOutcome]:
    cluster = session.cluster
    outcomes = []
    for user in users:
        databases = user.databases or [cluster.database]
        credential = credentials.credential_for_operation(
            secret_name(ctx.settings.secret_name_prefix, cluster.secret_cluster_id, user.name),
            username=user.name,
            operation_id=operation_id,
            cluster_id=cluster.secret_cluster_id,
            endpoint=cluster.endpoint(databases[0]),
        )
        connection = session.connection()
        with _sql_errors(f"creating user `{user.name}`"), transaction(connection):
            created = ensure_login_role(connection, user.name, credential.password)
        outcome = UserOutcome(user.name, created, credential.secret_name, not credential.reused)
        audit(
            USER_AUDIT_ACTION,
            {
                "user": user.name,
                "created": created,
                "databases": databases,
                "secret": credential.secret_name,
                "password_rotated": outcome.password_rotated,
            },
        )
        logger.info("database user ensured", extra={"db_user": user.name, "role_created": created})
        outcomes.append(outcome)
    for database, members in _users_by_database(users, cluster.database).items():
        _grant_in_database(session, database, members)
    return outcomes


def _users_by_database(users: Sequence[UserSpec], default: str) -> dict[str, list[UserSpec]]:
    by_database: dict[str, list[UserSpec]] = {}
    for user in users:
        for database in user.databases or [default]:
            by_database.setdefault(database, []).append(user)
    return by_database


def _grant_in_database(session: ClusterSession, database: str, users: list[UserSpec]) -> None:
    """All grants of one database in one transaction: a failure leaves none half-applied."""
    creators = [session.master.username] + [u.name for u in users if u.creates_objects]
    schemas = list(dict.fromkeys(schema for user in users for schema in user.schemas))
    connection = session.connection(database)
    with _sql_errors(f"granting privileges in database `{database}`"), transaction(connection):
        for schema in schemas:
            ensure_schema(connection, schema)
        act_for_owners(connection, schemas, creators[1:])
        # The server's name for it: the local stack serves every configured name from one database.
        actual = str(connection.run("SELECT pg_catalog.current_database()")[0][0])
        for user in users:
            apply_grants(connection, user, actual, creators)


@contextmanager
def _sql_errors(doing: str) -> Iterator[None]:
    """Turn database errors into DatabaseSetupError (or RetryableError when transient)."""
    try:
        yield
    except (DatabaseError, InterfaceError) as exc:
        if is_transient(exc):
            raise RetryableError(f"{doing} was interrupted: {server_message(exc)}") from exc
        raise DatabaseSetupError(f"{doing} failed: {server_message(exc)}") from exc
