"""`make iam-mutation`: proof that the local stack's IAM bites, one Allow statement at a time.

First the tests run once with the real policies, recording which statements allowed each call a
function made (AURORA_RESTORE_IAM_USAGE). Then, for every Allow statement of every role:
- no call of the tests was allowed by it: not covered (nothing the tests do needs it);
- every call it allowed, another statement allowed too: not covered (redundant for the tests);
- else it is removed (a mutant policies file, AURORA_RESTORE_IAM_POLICIES) and the tests run
  again: covered when some test then fails, a survivor when all still pass.
Not part of `make test`: each mutant is a run of the selected tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from local_stack import iam_policies
from local_stack.functions import FUNCTIONS
from local_stack.iam_roles import STATE_MACHINE_ROLE

DEFAULT_TESTS = [
    "tests/e2e/test_restore_flows.py",
    "tests/e2e/test_iam_enforcement.py",
    "tests/e2e/test_demo.py",
]
ROLE_OF = {
    **{spec.construct_id: f"{spec.name}-role" for spec in FUNCTIONS},
    iam_policies.STATE_MACHINE: STATE_MACHINE_ROLE,
}


def run_tests(tests: list[str], env: dict[str, str]) -> bool:
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    completed = subprocess.run(  # noqa: S603 - our own interpreter running our own tests
        command, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    return completed.returncode == 0


def usage_by_role(path: Path) -> dict[str, list[list[list[int]]]]:
    found: dict[str, list[list[list[int]]]] = defaultdict(list)
    for line in path.read_text("utf-8").splitlines():
        record = json.loads(line)
        found[record["role"]].append(record["allowers"])
    return found


def classify(index: int, calls: list[list[list[int]]]) -> str | None:
    """Why removing statement `index` cannot fail a test, or None when it might."""
    if not any(index in allowers for call in calls for allowers in call):
        return "no call of the tests is allowed by it"
    if not any(allowers == [index] for call in calls for allowers in call):
        return "redundant: another statement allows every call it allows"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="construct ids of the roles to mutate")
    parser.add_argument("tests", nargs="*", default=DEFAULT_TESTS, help="pytest selection")
    args = parser.parse_args(argv)
    policies = iam_policies.load()
    with tempfile.TemporaryDirectory(prefix="aurora-restore-iam-mutation-") as work:
        usage_file = Path(work) / "usage.jsonl"
        usage_file.touch()
        if not run_tests(args.tests, {"AURORA_RESTORE_IAM_USAGE": str(usage_file)}):
            print("the tests fail with the real policies: fix that first")
            return 1
        usage = usage_by_role(usage_file)
        results: list[tuple[str, int, str, str]] = []
        for construct_id, statements in policies.items():
            if args.only and construct_id not in args.only:
                continue
            for index, statement in enumerate(statements):
                if statement.get("Effect") != "Allow":
                    continue
                label = _label(statement)
                role = ROLE_OF.get(construct_id)
                reason = "not deployed by the local stack" if role is None else None
                reason = reason or classify(index, usage.get(str(role), []))
                if reason is None:
                    mutant = {
                        **policies,
                        construct_id: statements[:index] + statements[index + 1 :],
                    }
                    mutant_file = Path(work) / "mutant.json"
                    mutant_file.write_text(json.dumps(mutant), encoding="utf-8")
                    survived = run_tests(args.tests, {iam_policies.POLICIES_ENV: str(mutant_file)})
                    reason = "SURVIVED: every test still passes" if survived else "covered"
                results.append((construct_id, index, label, reason))
                print(f"{construct_id:16} #{index:<2} {label:60.60} {reason}", flush=True)
    covered = sum(1 for *_, reason in results if reason == "covered")
    print(f"\n{covered} of {len(results)} Allow statements covered (removing it fails a test)")
    return 0


def _label(statement: dict[str, Any]) -> str:
    actions = statement.get("Action")
    actions = actions if isinstance(actions, list) else [actions]
    return str(statement.get("Sid") or ",".join(actions))


if __name__ == "__main__":
    sys.exit(main())
