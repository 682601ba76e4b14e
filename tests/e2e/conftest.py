"""End-to-end fixtures: a whole local stack per test, driven only through its interfaces."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_stack.scenario import Driver
from local_stack.stack import LocalStack, StackOptions
from pipeline.store import OperationStore
from tests.conftest import running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack_options() -> StackOptions:
    """Override in a module to change the stack (e.g. a short approval expiry)."""
    return StackOptions(time_scale=0)


@pytest.fixture
def stack(stack_options: StackOptions) -> Iterator[LocalStack]:
    with running_stack(stack_options) as running:
        yield running


@pytest.fixture
def driver(stack: LocalStack) -> Driver:
    return Driver(stack.info)


@pytest.fixture
def operations(stack: LocalStack) -> OperationStore:
    """The operations and audit tables, read with boto3 through the stack's AWS endpoint."""
    return Driver(stack.info).store
