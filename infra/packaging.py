"""Lambda code without Docker: the project's packages copied as they are, and the runtime
dependencies pip-installed as arm64 wheels into a layer.

Both are CDK local bundlers (`ILocalBundling`), so CDK skips them when the stack is not being
bundled (`aws:cdk:bundling-stacks`, empty for tests and `make synth`). The Docker image CDK asks
for is only a fallback that local bundling never reaches.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parent.parent
# What the functions import: the pipeline, the bot and the metrics subscriber of this package.
SOURCE_TREES = ("pipeline", "bot", "infra/runtime")
SOURCE_FILES = ("infra/__init__.py",)
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", ".mypy_cache")
# Lambda's Python 3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34); pip does not infer
# older-compatible tags from one --platform, so every tag we accept is listed.
ARM64_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")


class BundlingError(RuntimeError):
    """Packaging the Lambda code failed."""


def runtime_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The project's runtime dependencies, read from pyproject.toml so the layer cannot drift."""
    with pyproject.open("rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def python_version(runtime: lambda_.Runtime) -> str:
    """`python3.14` -> `3.14`."""
    return runtime.name.removeprefix("python")


def pip_install_command(requirements: Sequence[str], target: Path, version: str) -> list[str]:
    platforms = [argument for tag in ARM64_PLATFORMS for argument in ("--platform", tag)]
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",  # the runtime compiles on first import; .pyc here would be for 3.11
        *platforms,
        "--implementation",
        "cp",
        "--python-version",
        version,
        "--only-binary=:all:",
        "--target",
        str(target),
        *requirements,
    ]


@jsii.implements(ILocalBundling)
class ProjectSources:
    """Copies the project's packages into the asset directory."""

    def __init__(self, root: Path = REPO_ROOT, extra: Mapping[str, Path] | None = None) -> None:
        self._root = root
        self._extra = dict(extra or {})  # asset path -> file or directory to ship as well

    # jsii passes BundlingOptions as keyword arguments only to a keyword-only signature.
    def try_bundle(self, output_dir: str, *, image: DockerImage | None, **_options: Any) -> bool:
        out = Path(output_dir)
        for tree in SOURCE_TREES:
            shutil.copytree(self._root / tree, out / tree, ignore=_IGNORED, dirs_exist_ok=True)
        files = {name: self._root / name for name in SOURCE_FILES} | self._extra
        for name, source in files.items():
            if source.is_dir():
                shutil.copytree(source, out / name, ignore=_IGNORED, dirs_exist_ok=True)
            else:
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, out / name)
        return True


@jsii.implements(ILocalBundling)
class PipDependencies:
    """pip-installs arm64 wheels for the Lambda runtime's Python into the layer's `python/`."""

    def __init__(self, requirements: Sequence[str], version: str) -> None:
        self._requirements = list(requirements)
        self._version = version

    # jsii passes BundlingOptions as keyword arguments only to a keyword-only signature.
    def try_bundle(self, output_dir: str, *, image: DockerImage | None, **_options: Any) -> bool:
        command = pip_install_command(
            self._requirements, Path(output_dir) / "python", self._version
        )
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise BundlingError(
                "pip could not install the Lambda dependencies as arm64 wheels "
                f"(Python {self._version}):\n{result.stderr.strip()}"
            )
        return True


def _fallback_image(runtime: lambda_.Runtime) -> DockerImage:
    return DockerImage.from_registry(f"public.ecr.aws/sam/build-{runtime.name}")


def function_code(
    runtime: lambda_.Runtime, extra: Mapping[str, Path] | None = None
) -> lambda_.Code:
    """The project's source (plus `extra` files); when bundling is skipped CDK stages the
    (small) pipeline directory instead."""
    return lambda_.Code.from_asset(
        str(REPO_ROOT / "pipeline"),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(image=_fallback_image(runtime), local=ProjectSources(extra=extra)),
    )


def dependencies_code(runtime: lambda_.Runtime) -> lambda_.Code:
    """The dependency layer, hashed by what it installs so an unchanged layer is not re-uploaded."""
    requirements = runtime_requirements()
    version = python_version(runtime)
    fingerprint = hashlib.sha256(
        "\n".join([version, *ARM64_PLATFORMS, *requirements]).encode()
    ).hexdigest()
    return lambda_.Code.from_asset(
        str(REPO_ROOT / "pipeline"),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=fingerprint,
        bundling=BundlingOptions(
            image=_fallback_image(runtime), local=PipDependencies(requirements, version)
        ),
    )
