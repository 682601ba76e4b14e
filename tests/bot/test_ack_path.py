"""A cold container's first answer stays light: the real Lambda entry, in a fresh interpreter,
acknowledges `/restore` and hands the rest to its self-invocation without loading pydantic, YAML,
the pipeline's models or a boto3 client. (How fast that is belongs to `make bench`.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
HEAVY = {"pydantic", "pydantic_core", "pydantic_settings", "yaml", "aws_lambda_powertools"}


def first_answer(tmp_path: Path, text: str) -> dict[str, Any]:
    policy = tmp_path / "policy.yaml"
    policy.write_text("requesters: {users: [U0PROBE001]}\napprovers: {users: [U0APPROVER]}\n")
    finished = subprocess.run(
        [sys.executable, "-m", "tests.bot.ack_path_probe", str(policy), text],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPOSITORY,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    answer: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return answer


def test_the_first_restore_is_acked_and_handed_off_without_heavy_imports(
    tmp_path: Path,
) -> None:
    answer = first_answer(tmp_path, "nightly-snap staging-db --replace")

    assert answer["status"] == 200
    assert "Checking your request: `nightly-snap` → `staging-db`" in answer["text"]
    assert HEAVY.isdisjoint(answer["packages"]), HEAVY & set(answer["packages"])
    [invocation] = answer["invocations"]
    assert invocation["type"] == "Event"
    assert invocation["path"].startswith("/2015-03-31/functions/arn%3Aaws%3Alambda%3A")
    assert invocation["lazy_function"] == "answer_restore_command"
    assert "Boto3" not in invocation["user_agent"]  # made without a boto3 Lambda client


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("staging-db", "Give exactly a snapshot and a target cluster"),
        ("snap Bad--Name", "<target-cluster>: `Bad--Name` is not a valid cluster identifier"),
    ],
)
def test_a_mistake_is_answered_by_the_ack_alone(tmp_path: Path, text: str, says: str) -> None:
    answer = first_answer(tmp_path, text)

    assert answer["status"] == 200
    assert says in answer["text"]
    assert answer["invocations"] == []
    assert HEAVY.isdisjoint(answer["packages"])
