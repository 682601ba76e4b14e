"""`make iam-mutation`: proof that the local stack's IAM bites, one Allow statement at a time.

First the tests run once with the real policies, recording which statements allowed each call a
function made, and in which test (AURORA_RESTORE_IAM_USAGE). Then, for every Allow statement of
every role:
- no call of the tests was allowed by it: not covered (nothing the tests do needs it);
- every call it allowed, another statement allowed too: not covered (redundant for the tests);
- else it is removed (a mutant policies file, AURORA_RESTORE_IAM_POLICIES) and the tests whose
  calls only it allowed run again, one at a time: covered as soon as one fails, a survivor when
  all pass. Other tests cannot notice the removal: every call they made had another allower.
The table is written to docs/iam-mutation.md. Not part of `make test`: it runs the suite once,
then a few tests per statement.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_stack import iam_policies
from local_stack.functions import FUNCTIONS
from local_stack.iam_roles import STATE_MACHINE_ROLE

DEFAULT_TESTS = ["tests"]
REPORT = Path("docs/iam-mutation.md")
ROLE_OF = {
    **{spec.construct_id: f"{spec.name}-role" for spec in FUNCTIONS},
    iam_policies.STATE_MACHINE: STATE_MACHINE_ROLE,
}


@dataclass(frozen=True)
class Call:
    """One authorized call: which statements allowed it on each resource, and in which test."""

    allowers: list[list[int]]
    test: str


@dataclass(frozen=True)
class Result:
    construct_id: str
    index: int
    label: str
    verdict: str


def run_tests(tests: list[str], env: dict[str, str]) -> tuple[bool, str]:
    """Whether the tests pass, and their output."""
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    completed = subprocess.run(  # noqa: S603 - our own interpreter running our own tests
        command, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    return completed.returncode == 0, completed.stdout + completed.stderr


# What a refusal of the local stack's IAM looks like in a failing test's output (its log).
REFUSAL_MARKS = ("is not authorized to perform", "AccessDenied", "AuthorizationError")


def usage_by_role(path: Path) -> dict[str, list[Call]]:
    found: dict[str, list[Call]] = defaultdict(list)
    for line in path.read_text("utf-8").splitlines():
        record = json.loads(line)
        found[record["role"]].append(Call(record["allowers"], record.get("test", "")))
    return found


def classify(index: int, calls: list[Call]) -> str | None:
    """Why removing statement `index` cannot fail a test, or None when it might."""
    if not any(index in allowers for call in calls for allowers in call.allowers):
        return "not covered: no call of the tests is allowed by it"
    if not sole_allower_tests(index, calls):
        return "not covered: redundant, another statement allows every call it allows"
    return None


def sole_allower_tests(index: int, calls: list[Call]) -> list[str]:
    """The tests that made a call only this statement allowed, most calls first."""
    counts: dict[str, int] = defaultdict(int)
    for call in calls:
        if any(allowers == [index] for allowers in call.allowers) and call.test:
            counts[call.test] += 1
    return sorted(counts, key=lambda test: -counts[test])


def mutate(
    policies: dict[str, list[dict[str, Any]]], construct_id: str, index: int, work: Path
) -> Path:
    statements = policies[construct_id]
    mutant = {**policies, construct_id: statements[:index] + statements[index + 1 :]}
    mutant_file = work / "mutant.json"
    mutant_file.write_text(json.dumps(mutant), encoding="utf-8")
    return mutant_file


def verdict_of(mutant_file: Path, tests: list[str]) -> str:
    """Covered when a test fails and its output shows the refusal; a failure without one is
    reported apart (a flaky test is no proof)."""
    unexplained = []
    for test in tests:
        passed, output = run_tests([test], {iam_policies.POLICIES_ENV: str(mutant_file)})
        if passed:
            continue
        if any(mark in output for mark in REFUSAL_MARKS):
            return f"covered: {test} fails without it"
        unexplained.append(test)
    if unexplained:
        return f"UNEXPLAINED: {unexplained[0]} fails, but shows no refusal"
    return f"SURVIVED: {len(tests)} test(s) still pass without it"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="construct ids of the roles to mutate")
    parser.add_argument("--report", type=Path, default=REPORT, help="markdown table to write")
    parser.add_argument("tests", nargs="*", default=DEFAULT_TESTS, help="pytest selection")
    args = parser.parse_args(argv)
    policies = iam_policies.load()
    started = time.monotonic()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="aurora-restore-iam-mutation-") as work:
        usage_file = Path(work) / "usage.jsonl"
        usage_file.touch()
        if not run_tests(args.tests, {"AURORA_RESTORE_IAM_USAGE": str(usage_file)})[0]:
            print("the tests fail with the real policies: fix that first")
            return 1
        usage = usage_by_role(usage_file)
        for construct_id, statements in policies.items():
            if args.only and construct_id not in args.only:
                continue
            calls = usage.get(ROLE_OF.get(construct_id, ""), [])
            for index, statement in enumerate(statements):
                if statement.get("Effect") != "Allow":
                    continue
                verdict = classify(index, calls)
                unemulated = why_not_needed(statement)
                if (
                    verdict is not None
                    and verdict.startswith("not covered: no call")
                    and unemulated
                ):
                    verdict = f"not covered: {unemulated}"
                if verdict is None:
                    mutant = mutate(policies, construct_id, index, Path(work))
                    verdict = verdict_of(mutant, sole_allower_tests(index, calls))
                result = Result(construct_id, index, _label(statement), verdict)
                results.append(result)
                print(f"{construct_id:16} #{index:<2} {result.label:50.50} {verdict}", flush=True)
    minutes = (time.monotonic() - started) / 60
    summary = _summary(results)
    print(f"\n{summary} ({minutes:.0f} min)")
    args.report.write_text(_report(results, summary, args.tests), encoding="utf-8")
    return 0


def _summary(results: list[Result]) -> str:
    def count(prefix: str) -> int:
        return sum(1 for r in results if r.verdict.startswith(prefix))

    return (
        f"{len(results)} Allow statements: {count('covered')} covered (removing it fails a "
        f"test), {count('SURVIVED')} survived, {count('not covered')} not covered"
    )


def _report(results: list[Result], summary: str, tests: list[str]) -> str:
    lines = [
        "# IAM mutation run",
        "",
        "Written by `make iam-mutation` (local_stack/iam_mutation.py): each Allow statement of",
        "each function's role removed in turn, and the tests whose calls only it allowed run",
        f"again. Tests of the first run: `{' '.join(tests)}`.",
        "",
        f"**{summary}.**",
        "",
        "| Role | # | Statement | Verdict |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {r.construct_id} | {r.index} | `{r.label}` | {r.verdict} |" for r in results]
    return "\n".join(lines) + "\n"


def _label(statement: dict[str, Any]) -> str:
    """The statement's Sid or actions, and what it is on (construct paths, ARN tails)."""
    actions = statement.get("Action")
    actions = actions if isinstance(actions, list) else [actions]
    shown = str(statement.get("Sid") or ", ".join(actions[:3]) + (" …" if actions[3:] else ""))
    resources = statement.get("Resource")
    resources = resources if isinstance(resources, list) else [resources]
    on = sorted({_resource_name(resource) for resource in resources})
    return f"{shown} on {', '.join(on[:3])}" + (f" (+{len(on) - 3})" if on[3:] else "")


def _resource_name(resource: Any) -> str:
    text = json.dumps(resource)
    local = [part.split("/")[0] for part in text.split('"Local": "')[1:]]
    if local:
        return "+".join(dict.fromkeys(local))
    if isinstance(resource, dict) and "Fn::Join" in resource:
        parts = resource["Fn::Join"][1]
        resource = "".join(part if isinstance(part, str) else "" for part in parts)
    if not isinstance(resource, str):
        return "…"
    # arn:partition:service:region:account:resource -> the resource part
    return resource.split(":", 5)[-1] if resource.startswith("arn:") else resource


# Why a statement no test can need: the calls it allows are not made by our code on the local
# stack, but by a service that the local stack does not emulate on the function's behalf.
UNEMULATED = {
    "logs": "Lambda writes the function's logs with its role",
    "xray": "Lambda sends the function's traces with its role",
    "kms": "DynamoDB, Secrets Manager and RDS use the key on the caller's behalf",
    "dynamodb:GetRecords": "Lambda's DynamoDB stream event source reads with the role",
    "dynamodb:GetShardIterator": "Lambda's DynamoDB stream event source reads with the role",
}


def why_not_needed(statement: dict[str, Any]) -> str | None:
    """Which unemulated caller would need this statement, when every action it allows has one."""
    actions = statement.get("Action")
    actions = actions if isinstance(actions, list) else [actions]
    reasons = [UNEMULATED.get(a) or UNEMULATED.get(str(a).split(":")[0]) for a in actions]
    if not all(reasons):
        return None
    return "; ".join(dict.fromkeys(str(r) for r in reasons)) + ", not emulated"


if __name__ == "__main__":
    sys.exit(main())
