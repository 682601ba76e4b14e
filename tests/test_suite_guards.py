"""The suite's own guards, run as a separate pytest with this repository's hooks: one sentence when
the local PostgreSQL cannot start, and a failed run when a passing one leaves folders behind."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from local_stack.postgres_install import BIN_ENV

REPOSITORY = Path(__file__).resolve().parents[1]
HOOKS = "from tests.conftest import pytest_sessionfinish, pytest_sessionstart  # noqa: F401\n"


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", str(REPOSITORY))  # the inner run imports `tests.conftest`
    pytester.makeconftest(HOOKS)
    return pytester


def test_a_run_without_postgresql_ends_in_one_sentence(
    inner: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BIN_ENV, str(tmp_path))  # no initdb, pg_ctl or postgres there
    inner.makepyfile(
        """
        from local_stack.postgres_server import LocalPostgres
        from tests.conftest import postgres_or_exit

        def test_needs_postgresql():
            with postgres_or_exit():
                LocalPostgres.start()

        def test_after_it():
            pass
        """
    )

    result = inner.runpytest_subprocess("-p", "no:cacheprovider")

    assert result.ret == 1
    output = result.stdout.str()
    assert "The tests need a local PostgreSQL, which could not start." in output
    assert "Traceback" not in output and "1 passed" not in output


def test_a_passing_run_that_leaves_a_folder_behind_fails(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        from local_stack.postgres_install import run_directory, server_account

        def test_forgets_its_run_directory():
            run_directory(server_account())
        """
    )

    result = inner.runpytest_subprocess("-p", "no:cacheprovider")

    output = result.stdout.str()
    left = re.findall(r"\S*aurora-restore-pg-\d+-\w+", output)
    for folder in set(left):
        shutil.rmtree(folder, ignore_errors=True)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "the run left these behind" in output and left
    assert "1 left behind" in output  # the summary line says so, not only "1 passed"
