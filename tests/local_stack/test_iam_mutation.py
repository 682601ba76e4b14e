"""make iam-mutation's triage: which statements a mutant run could possibly kill, and which
tests it runs for each."""

from __future__ import annotations

from local_stack.iam_mutation import Call, classify, sole_allower_tests, why_not_needed


def test_a_statement_no_call_needed_is_not_run_as_a_mutant():
    calls = [Call([[0, 1]], "t1"), Call([[2]], "t2")]
    assert classify(3, calls) == "not covered: no call of the tests is allowed by it"


def test_a_statement_always_backed_by_another_is_redundant_for_the_tests():
    calls = [Call([[0, 1]], "t1"), Call([[1], [0, 1]], "t2")]
    assert classify(0, calls) == (
        "not covered: redundant, another statement allows every call it allows"
    )


def test_the_only_statement_allowing_some_resource_of_a_call_is_mutated():
    calls = [Call([[0, 1], [2]], "t1")]  # two resources; only statement 2 allows the second
    assert classify(2, calls) is None
    assert classify(1, calls) is not None


def test_a_mutant_runs_only_the_tests_that_relied_on_the_statement_alone():
    calls = [
        Call([[2]], "tests/a.py::one"),
        Call([[2]], "tests/b.py::two"),
        Call([[2]], "tests/b.py::two"),
        Call([[1, 2]], "tests/c.py::three"),  # another statement allowed it too
    ]
    assert sole_allower_tests(2, calls) == ["tests/b.py::two", "tests/a.py::one"]


def test_a_statement_only_an_unemulated_service_uses_says_so():
    logs = {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"]}
    assert why_not_needed(logs) == "Lambda writes the function's logs with its role, not emulated"
    mixed = {"Effect": "Allow", "Action": ["logs:PutLogEvents", "sqs:ReceiveMessage"]}
    assert why_not_needed(mixed) is None
