"""Lambda code packaging without Docker."""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

import importlib
from pathlib import Path

import pytest

from infra import constants
from infra.functions import RUNTIME
from infra.packaging import (
    SOURCE_TREES,
    ProjectSources,
    pip_install_command,
    python_version,
    runtime_requirements,
)

pytestmark = pytest.mark.infra


def test_the_function_asset_holds_the_runtime_packages_and_no_cdk_code(tmp_path: Path):
    assert ProjectSources().try_bundle(str(tmp_path), image=None) is True
    shipped = {str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file()}
    assert "pipeline/statemachine/restore.asl.json" in shipped
    assert "pipeline/models.py" in shipped
    assert "bot/__init__.py" in shipped
    assert "infra/__init__.py" in shipped
    assert "infra/runtime/progress_metrics.py" in shipped
    assert "infra/stack.py" not in shipped  # the CDK app never ships to Lambda
    assert not any("__pycache__" in path or path.endswith(".pyc") for path in shipped)


def test_extra_files_such_as_the_database_config_directory_are_shipped(tmp_path: Path):
    config_dir = tmp_path / "config"
    (config_dir / "sql").mkdir(parents=True)
    (config_dir / "database.yaml").write_text("targets: []\n")
    (config_dir / "sql" / "grants.sql").write_text("select 1;\n")
    bundle = tmp_path / "asset"
    ProjectSources(extra={"database-config": config_dir}).try_bundle(str(bundle), image=None)
    assert (bundle / "database-config" / "database.yaml").read_text() == "targets: []\n"
    assert (bundle / "database-config" / "sql" / "grants.sql").is_file()


def test_dependencies_are_installed_as_arm64_wheels_for_the_lambda_python(tmp_path: Path):
    command = pip_install_command(["pydantic>=2"], tmp_path / "python", python_version(RUNTIME))
    assert python_version(RUNTIME) == RUNTIME.name.removeprefix("python")
    assert "--only-binary=:all:" in command
    platforms = [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"]
    assert "manylinux2014_aarch64" in platforms
    assert all(platform.endswith("_aarch64") for platform in platforms)
    assert command[command.index("--python-version") + 1] == python_version(RUNTIME)
    assert command[command.index("--target") + 1] == str(tmp_path / "python")
    assert command[-1] == "pydantic>=2"


def test_the_layer_installs_exactly_the_project_runtime_dependencies():
    requirements = runtime_requirements()
    assert any(req.startswith("aws-lambda-powertools") for req in requirements)
    assert any(req.startswith("slack-bolt") for req in requirements)
    assert not any(req.startswith("aws-cdk-lib") for req in requirements)


@pytest.mark.parametrize("spec", constants.ALL_FUNCTIONS, ids=lambda spec: spec.construct_id)
def test_every_deployed_handler_exists_in_the_shipped_packages(spec):
    module_name, attribute = spec.handler.rsplit(".", 1)
    assert module_name.startswith(tuple(tree.replace("/", ".") for tree in SOURCE_TREES))
    assert callable(getattr(importlib.import_module(module_name), attribute))
