"""The Lambda handler, configured only through settings as on AWS (endpoint override: local)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.context import PipelineContext, set_default_context
from pipeline.database.config import load_database_config
from pipeline.errors import ConfigurationError
from pipeline.handlers import handle_setup_database
from pipeline.models import Stage, StageStatus
from pipeline.settings import PipelineSettings
from tests.conftest import REGION
from tests.database.conftest import Restored, connected


@dataclass
class FakeLambdaContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name: str = "aurora-restore-setup-database"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        f"arn:aws:lambda:{REGION}:123456789012:function:aurora-restore-setup-database"
    )
    aws_request_id: str = "req-1"


@pytest.fixture
def handler_context(restored: Restored, names: str, tmp_path: Path) -> Iterator[PipelineContext]:
    config = tmp_path / "database.yaml"
    config.write_text(
        f"targets: [{{pattern: 'staging-*', users: [{{name: api_{names}, role: read-write}}]}}]\n"
    )
    server = restored.server
    settings = PipelineSettings(
        **restored.ctx.settings.model_dump(
            exclude={"db_tls", "db_endpoint_override", "database_config_path"}
        ),
        db_tls=False,
        db_endpoint_override=f"{server.host}:{server.port}",
        database_config_path=str(config),
    )
    context = PipelineContext(settings, restored.ctx.clients)
    set_default_context(context)
    yield context
    set_default_context(None)
    load_database_config.cache_clear()


def test_the_handler_runs_the_stage_from_settings(
    restored: Restored, names: str, handler_context: PipelineContext
) -> None:
    result = handle_setup_database({"operation_id": restored.operation_id}, FakeLambdaContext())

    assert result == {"users": [f"api_{names}"], "scripts": []}
    secret = restored.secret(f"api_{names}")
    with connected(restored.connect(secret["username"], secret["password"])) as db:
        db.run("INSERT INTO customers (email) VALUES ('via-handler@example.com')")


def test_a_bad_configuration_fails_the_stage_with_its_message(
    restored: Restored, handler_context: PipelineContext, tmp_path: Path
) -> None:
    Path(handler_context.settings.database_config_path or "").write_text(
        "targets: [{pattern: '*', users: [{name: pg_bad, role: owner}]}]\n"
    )
    load_database_config.cache_clear()

    with pytest.raises(ConfigurationError, match="pg_"):
        handle_setup_database({"operation_id": restored.operation_id}, FakeLambdaContext())

    record = restored.ctx.store.get(restored.operation_id).stages[Stage.SETUP_DATABASE]
    assert record.status == StageStatus.FAILED
    assert "pg_" in record.detail
