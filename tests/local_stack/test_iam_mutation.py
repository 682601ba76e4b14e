"""make iam-mutation's triage: which statements a mutant run could possibly kill."""

from __future__ import annotations

from local_stack.iam_mutation import classify


def test_a_statement_no_call_needed_is_not_run_as_a_mutant():
    calls = [[[0, 1]], [[2]]]
    assert classify(3, calls) == "no call of the tests is allowed by it"


def test_a_statement_always_backed_by_another_is_redundant_for_the_tests():
    calls = [[[0, 1]], [[1], [0, 1]]]
    assert classify(0, calls) == "redundant: another statement allows every call it allows"


def test_the_only_statement_allowing_some_resource_of_a_call_is_mutated():
    calls = [[[0, 1], [2]]]  # the call names two resources; only statement 2 allows the second
    assert classify(2, calls) is None
    assert classify(1, calls) is not None
