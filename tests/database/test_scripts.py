"""Post-restore SQL: order, one transaction each, audit, failure reporting."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.database import parse_database_config, setup_database
from pipeline.errors import DatabaseSetupError
from pipeline.models import Stage, StageStatus
from tests.database.conftest import Restored, connected

LOG_TABLE = {
    "name": "00-log-table",
    "sql": "CREATE TABLE script_log (id serial PRIMARY KEY, script text NOT NULL);",
}


def _config(*scripts: dict[str, str]) -> str:
    return yaml.safe_dump({"targets": [{"pattern": "staging-*", "scripts": [LOG_TABLE, *scripts]}]})


def _run(restored: Restored, config_text: str, base_dir: Path | None = None) -> dict[str, object]:
    return setup_database(
        restored.operation_id,
        restored.ctx,
        connector=restored.clusters.connector(),
        config=parse_database_config(config_text, base_dir=base_dir or Path(".")),
    )


def _log(restored: Restored) -> list[str]:
    with connected(restored.admin()) as admin:
        return [row[0] for row in admin.run("SELECT script FROM script_log ORDER BY id")]


def _script_audit(restored: Restored) -> list[tuple[str, str]]:
    return [
        (str(e.detail["script"]), str(e.detail["outcome"]))
        for e in restored.ctx.store.audit_events(restored.operation_id)
        if e.action == "setup_database.script"
    ]


def test_scripts_run_in_order_and_are_audited(restored: Restored, tmp_path: Path) -> None:
    (tmp_path / "mask.sql").write_text(
        "UPDATE customers SET email = 'user' || id || '@example.invalid';\n"
        "INSERT INTO script_log (script) VALUES ('mask');\n"
    )
    config = _config(
        {"name": "mask-emails", "file": "mask.sql"},
        {
            "name": "count",
            "sql": "INSERT INTO script_log (script) SELECT 'count-' || count(*) FROM customers;",
        },
    )
    result = _run(restored, config, tmp_path)

    assert result["scripts"] == ["00-log-table", "mask-emails", "count"]
    assert _log(restored) == ["mask", "count-2"]
    with connected(restored.admin()) as admin:
        assert admin.run("SELECT email FROM customers ORDER BY id") == [
            ["user1@example.invalid"],
            ["user2@example.invalid"],
        ]
    assert _script_audit(restored) == [
        ("00-log-table", "succeeded"),
        ("mask-emails", "succeeded"),
        ("count", "succeeded"),
    ]


def test_a_failing_script_stops_the_stage_and_is_rolled_back(restored: Restored) -> None:
    config = _config(
        {"name": "first", "sql": "INSERT INTO script_log (script) VALUES ('first');"},
        {
            "name": "broken-masking",
            "sql": "INSERT INTO script_log (script) VALUES ('broken');\n"
            "UPDATE customers SET email = 'gone';\n"
            "SELECT 1 / 0;\n",
        },
        {"name": "never", "sql": "INSERT INTO script_log (script) VALUES ('never');"},
    )
    with pytest.raises(DatabaseSetupError) as failure:
        _run(restored, config)

    assert "broken-masking" in failure.value.message
    assert "division by zero" in failure.value.message
    assert _log(restored) == ["first"]  # its own insert rolled back, `never` not run
    with connected(restored.admin()) as admin:
        assert admin.run("SELECT count(*) FROM customers WHERE email = 'gone'") == [[0]]
    assert _script_audit(restored) == [
        ("00-log-table", "succeeded"),
        ("first", "succeeded"),
        ("broken-masking", "failed"),
    ]
    operation = restored.ctx.store.get(restored.operation_id)
    record = operation.stages[Stage.SETUP_DATABASE]
    assert record.status == StageStatus.FAILED
    assert "broken-masking" in record.detail


def test_a_retry_does_not_run_applied_scripts_again(restored: Restored) -> None:
    config = _config(
        {"name": "append", "sql": "INSERT INTO script_log (script) VALUES ('append');"}
    )
    _run(restored, config)
    _run(restored, config)  # the same operation again

    assert _log(restored) == ["append"]

    restored.new_operation()  # a new restore runs its scripts (here: on the same data)
    with pytest.raises(DatabaseSetupError, match="00-log-table"):
        _run(restored, config)  # the table exists now: the first script fails, by name


def test_a_script_may_not_end_its_own_transaction(restored: Restored) -> None:
    config = _config(
        {
            "name": "sneaky-commit",
            "sql": "INSERT INTO script_log (script) VALUES ('a'); COMMIT; "
            "INSERT INTO script_log (script) VALUES ('b');",
        }
    )
    with pytest.raises(DatabaseSetupError, match=r"sneaky-commit.*COMMIT or ROLLBACK"):
        _run(restored, config)
