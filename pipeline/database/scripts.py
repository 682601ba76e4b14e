"""Post-restore SQL scripts: in order, one transaction each, every outcome in the audit log.

A failing script stops the stage: it is rolled back, reported by name with the database's error,
and nothing after it runs. A script that already succeeded in this operation (per the audit log)
is not run again when the stage is retried, so non-idempotent scripts are applied once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pg8000.exceptions import DatabaseError, InterfaceError

from pipeline.database.cluster import ClusterSession
from pipeline.database.config import Script
from pipeline.database.connection import is_transient, server_message, transaction
from pipeline.errors import DatabaseSetupError, RetryableError
from pipeline.models import AuditEvent
from pipeline.observability import logger

SCRIPT_AUDIT_ACTION = "setup_database.script"

AuditFn = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class ScriptOutcome:
    name: str
    database: str
    ran: bool  # False when an earlier attempt of this operation already applied it


def applied_scripts(events: Iterable[AuditEvent]) -> set[str]:
    return {
        str(event.detail.get("script"))
        for event in events
        if event.action == SCRIPT_AUDIT_ACTION and event.detail.get("outcome") == "succeeded"
    }


def run_scripts(
    session: ClusterSession,
    scripts: Sequence[Script],
    *,
    already_applied: set[str],
    audit: AuditFn,
) -> list[ScriptOutcome]:
    outcomes = []
    for script in scripts:
        database = script.database or session.cluster.database
        if script.name in already_applied:
            outcomes.append(ScriptOutcome(script.name, database, ran=False))
            continue
        _run_one(session, script, database, audit)
        outcomes.append(ScriptOutcome(script.name, database, ran=True))
    return outcomes


def _run_one(session: ClusterSession, script: Script, database: str, audit: AuditFn) -> None:
    connection = session.connection(database)
    try:
        with transaction(connection):
            before = connection.run("SELECT pg_catalog.txid_current()")[0][0]
            connection.run(script.sql)  # no parameters: simple protocol, several statements
            rows = connection.row_count
            after = connection.run("SELECT pg_catalog.txid_current()")[0][0]
            if before != after:
                raise DatabaseSetupError(
                    f"post-restore script `{script.name}` ended its transaction itself "
                    "(COMMIT or ROLLBACK); scripts run in one transaction each and must not"
                )
    except (DatabaseError, InterfaceError) as exc:
        message = server_message(exc)
        audit(
            SCRIPT_AUDIT_ACTION,
            {"script": script.name, "database": database, "outcome": "failed", "error": message},
        )
        logger.warning("post-restore script failed", extra={"script": script.name})
        if is_transient(exc):
            raise RetryableError(
                f"post-restore script `{script.name}` was interrupted: {message}"
            ) from exc
        raise DatabaseSetupError(f"post-restore script `{script.name}` failed: {message}") from exc
    except DatabaseSetupError as exc:
        audit(
            SCRIPT_AUDIT_ACTION,
            {
                "script": script.name,
                "database": database,
                "outcome": "failed",
                "error": exc.message,
            },
        )
        raise
    audit(
        SCRIPT_AUDIT_ACTION,
        {"script": script.name, "database": database, "outcome": "succeeded", "rows": rows},
    )
    logger.info("post-restore script applied", extra={"script": script.name, "database": database})
