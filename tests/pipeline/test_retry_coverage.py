"""Every Task of the state machine retries exactly the retryable errors its function can raise.

Step Functions matches `ErrorEquals` against the error's name exactly (Lambda reports the
exception's class name as `errorType`), never against a base class: a Retry that lists
`RetryableError` does not catch `AwsThrottledError`. So each name must be listed, for each Task:
`pipeline.errors.RETRYABLE_ERROR_NAMES`, plus the names of the retryable errors the function's own
modules define. A name listed where the function cannot raise it hides a typo or a stale copy.
https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
"""

from __future__ import annotations

import inspect
import json
import pkgutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import pipeline
from infra.constants import ALL_FUNCTIONS
from pipeline import errors
from pipeline.errors import RETRYABLE_ERROR_NAMES, RETRYABLE_ERRORS, RetryableError
from pipeline.statemachine import definition_text, placeholders

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"

# Prints the names of every RetryableError subclass the modules' import graph defines.
_PROBE = """
import importlib, json, sys
from pipeline.errors import RetryableError
for module in sys.argv[1:]:
    importlib.import_module(module)
def walk(cls):
    for sub in cls.__subclasses__():
        yield sub.__name__
        yield from walk(sub)
print(json.dumps(sorted({RetryableError.__name__, *walk(RetryableError)})))
"""


def modules_of(handler_module: str) -> list[str]:
    """What a handler can run: its module's imports, and for the pipeline's handlers every pipeline
    module (the set-up handler imports the database stage on its first call, not at import)."""
    if not handler_module.startswith("pipeline."):
        return [handler_module]
    return sorted(info.name for info in pkgutil.walk_packages(pipeline.__path__, "pipeline."))


@cache
def retryable_names(handler_module: str) -> frozenset[str]:
    # A fresh interpreter per handler: only the modules that handler imports define classes.
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *modules_of(handler_module)],
        capture_output=True,
        text=True,
        check=True,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": ""},
    ).stdout
    return frozenset(json.loads(out))


HANDLER_OF_PLACEHOLDER = {
    spec.placeholder: spec.handler.rsplit(".", 1)[0] for spec in ALL_FUNCTIONS if spec.placeholder
}


def tasks() -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(state name, handler module, Retry) of every Task that invokes one of our functions."""
    found = []
    for name, state in json.loads(definition_text())["States"].items():
        if state["Type"] != "Task":
            continue
        text = json.dumps(state.get("Parameters", {})) + state["Resource"]
        (placeholder,) = placeholders(text)
        found.append((name, HANDLER_OF_PLACEHOLDER[placeholder], state.get("Retry", [])))
    return found


def ours(retry: list[dict[str, Any]]) -> set[str]:
    """The names a Retry lists that are our errors (AWS's, `Lambda.*` and `States.*`, are dotted)."""
    return {error for retrier in retry for error in retrier["ErrorEquals"] if "." not in error}


def test_every_task_is_checked():
    assert {name for name, _, _ in tasks()} >= {"RequestApproval", "SetupDatabase", "Finish"}


def test_the_mapping_is_every_retryable_error_of_pipeline_errors():
    defined = {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, RetryableError) and cls.__module__ == errors.__name__
    }
    assert set(RETRYABLE_ERRORS) == defined


@pytest.mark.parametrize(("state", "module", "retry"), tasks(), ids=[t[0] for t in tasks()])
def test_the_task_retries_every_retryable_error_its_function_raises(state, module, retry):
    listed = {error for retrier in retry for error in retrier["ErrorEquals"]}
    if "States.ALL" in listed:
        return
    missing = retryable_names(module) - listed
    assert not missing, f"{state} ({module}) does not retry {sorted(missing)}"


@pytest.mark.parametrize(("state", "module", "retry"), tasks(), ids=[t[0] for t in tasks()])
def test_the_task_retries_the_mapping_and_its_functions_own_errors_only(state, module, retry):
    # What the function's modules define beyond the mapping: none for a pipeline stage.
    own = retryable_names(module) - set(RETRYABLE_ERROR_NAMES)
    if module.startswith("pipeline."):
        assert not own, f"{module} defines {sorted(own)} outside pipeline.errors"
    assert ours(retry) == {*RETRYABLE_ERROR_NAMES, *own}, f"{state} ({module})"


def test_the_contract_names_every_retryable_error():
    text = CONTRACTS.read_text(encoding="utf-8")
    assert all(f"`{name}`" in text for name in RETRYABLE_ERROR_NAMES)
