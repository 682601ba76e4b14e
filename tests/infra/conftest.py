"""One synthesis per test session: jsii is slow, so every stack test asserts on the same template."""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.app import build_cdk_app
from infra.config import EXAMPLE_CONFIG, InfraConfig, load_config
from infra.stack import AuroraRestoreStack


@dataclass
class Synthesized:
    app: App
    stack: AuroraRestoreStack
    config: InfraConfig
    template: Template
    outdir: Path

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.template.to_json()["Resources"])

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res["Type"] == kind}

    def logical_id(self, construct: Any) -> str:
        return str(self.stack.resolve(self.stack.get_logical_id(construct.node.default_child)))


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    config = load_config(EXAMPLE_CONFIG)
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = build_cdk_app(config, outdir=str(outdir))
    # from_stack synthesizes the app, which runs the registered cdk-nag plugin: an
    # unacknowledged finding fails here already.
    template = Template.from_stack(stack)
    yield Synthesized(app, stack, config, template, outdir)
