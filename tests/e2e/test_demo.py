"""`make demo` runs this scenario; it must succeed and show what a person needs to see."""

from __future__ import annotations

import io
import re

import pytest

from local_stack.demo import run_demo
from local_stack.stack import StackOptions
from tests.conftest import postgres_or_exit

pytestmark = pytest.mark.e2e


def test_demo_plays_an_approved_replace_restore_to_the_end() -> None:
    out = io.StringIO()

    with postgres_or_exit():
        assert run_demo(out, StackOptions(time_scale=0)) == 0

    text = out.getvalue()
    assert "Approve clicked by alex.approver" in text
    assert "Restore succeeded." in text
    assert "outcome          SUCCEEDED" in text
    assert re.search(r"kept cluster     staging-orders-old-[0-9a-f]{6} \(stopped, ", text), text
    assert re.search(r"did not answer for \d+(\.\d+)? s during the swap", text), text
    assert "emails masked (e.g. customer-1@example.invalid)" in text
    assert "can write: no" in text
    assert "<@U" not in text  # mentions are shown as names, as Slack shows them
