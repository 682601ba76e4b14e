"""The CDK app: `python -m infra.app --output cdk.out [--config FILE] [--bundle]`.

Synthesizes offline without AWS credentials: no lookups, an environment-agnostic stack unless the
configuration names an account and region. Lambda code is only bundled (pip, network) with
`--bundle` or when the CDK CLI asks for it (`cdk deploy` sets `aws:cdk:bundling-stacks`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import EXAMPLE_CONFIG, ConfigError, InfraConfig, load_config, parse_config
from infra.constants import (
    BUNDLING_STACKS_CONTEXT,
    CONTEXT_BUNDLE,
    CONTEXT_CONFIG_FILE,
    CONTEXT_CONFIG_INLINE,
)
from infra.stack import AuroraRestoreStack


def config_from_context(app: App) -> InfraConfig:
    """Inline context (`aurora-restore`), else a file named in context, else the example."""
    inline = app.node.try_get_context(CONTEXT_CONFIG_INLINE)
    if inline is not None:
        return parse_config(inline, f"context `{CONTEXT_CONFIG_INLINE}`")
    path = app.node.try_get_context(CONTEXT_CONFIG_FILE)
    if path:
        return load_config(Path(path))
    print(f"aurora-restore: no configuration given, using {EXAMPLE_CONFIG}", file=sys.stderr)
    return load_config(EXAMPLE_CONFIG)


def build_cdk_app(
    config: InfraConfig | None = None,
    *,
    outdir: str | None = None,
    bundle: bool = False,
    context: dict[str, Any] | None = None,
) -> tuple[App, AuroraRestoreStack]:
    """The app with its one stack and the AwsSolutions checks registered (synth fails on any
    unacknowledged finding)."""
    defaults: dict[str, Any] = dict(context or {})
    if not bundle and not _truthy(defaults.get(CONTEXT_BUNDLE)):
        # CDK then skips every asset bundler; the CLI overrides this when it deploys.
        defaults.setdefault(BUNDLING_STACKS_CONTEXT, [])
    app = App(outdir=outdir, context=defaults)
    if _truthy(app.node.try_get_context(CONTEXT_BUNDLE)):
        app.node.set_context(BUNDLING_STACKS_CONTEXT, ["**"])
    config = config or config_from_context(app)
    env = Environment(account=config.account, region=config.region) if config.account else None
    stack = AuroraRestoreStack(app, config.stack_name, config=config, env=env)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def _truthy(value: object) -> bool:
    return value is True or str(value).lower() in {"1", "true", "yes"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.app", description=__doc__)
    parser.add_argument("--output", help="cloud assembly directory (default: cdk.out)")
    parser.add_argument(
        "--config", type=Path, help="configuration YAML (infra/config.example.yaml)"
    )
    parser.add_argument("--bundle", action="store_true", help="package the Lambda code (pip)")
    args = parser.parse_args(argv)
    outdir = args.output or os.environ.get("CDK_OUTDIR") or "cdk.out"
    context = {CONTEXT_CONFIG_FILE: str(args.config)} if args.config else None
    try:
        app, _stack = build_cdk_app(outdir=outdir, bundle=args.bundle, context=context)
    except ConfigError as exc:
        print(f"aurora-restore: {exc}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
