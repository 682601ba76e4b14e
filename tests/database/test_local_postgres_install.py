"""The local PostgreSQL starts wherever the project is cloned, says in one sentence why when it
cannot, and leaves nothing behind."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from local_stack import postgres_install, postgres_server
from local_stack.postgres_install import BIN_ENV, PostgresStartError
from local_stack.postgres_server import LocalPostgres
from tests.database.conftest import connected
from tests.leftovers import our_folders, our_servers

REPOSITORY = Path(__file__).resolve().parents[2]


def _pgserver_site() -> Path:
    """The site-packages directory holding the pgserver wheel that `make install` installs."""
    spec = importlib.util.find_spec("pgserver")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))).parent


def _private(directory: Path) -> Path:
    """A directory nobody but us may enter, as `mktemp -d`, /root and many homes are."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    return directory


def _assert_one_sentence(text: str) -> None:
    assert "\n" not in text.strip() and "Traceback" not in text
    assert text.strip().endswith(".")


def test_a_server_starts_from_an_install_inside_a_directory_nobody_else_may_enter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a virtualenv's pgserver wheel inside a 0700 clone (its vendored libraries beside it)
    site = _pgserver_site()
    clone_site = _private(tmp_path / "clone") / "site-packages"
    for name in ("pgserver", "pgserver.libs"):
        if (site / name).is_dir():
            shutil.copytree(site / name, clone_site / name)
    monkeypatch.setenv(BIN_ENV, str(clone_site / "pgserver" / "pginstall" / "bin"))
    before = our_folders()

    # When the local PostgreSQL starts from it (as root, it runs as another account)
    server = LocalPostgres.start()
    try:
        with connected(server.connect()) as admin:
            assert admin.run("SELECT 1 + 1") == [[2]]
        if os.geteuid() == 0:
            assert server.run_as is not None
            assert server.account is not None and server.account.can_enter(server.bin_dir)
            assert server.run_dir in server.bin_dir.parents  # the copy lives in its run directory
    finally:
        server.stop()

    # Then stopping it leaves neither its folder nor its process behind
    assert not server.run_dir.exists()
    assert our_folders() == before
    assert not any(str(server.run_dir) in entry for entry in our_servers())


def test_a_temporary_directory_the_server_cannot_enter_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private_tmp = _private(tmp_path / "run-user")
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))  # as TMPDIR=/run/user/<uid>

    server = LocalPostgres.start()
    try:
        with connected(server.connect()) as admin:
            assert admin.run("SELECT current_setting('data_directory')")[0][0] == str(server.pgdata)
        inside_private = private_tmp in server.run_dir.parents
        assert inside_private == (os.geteuid() != 0)  # ourselves: TMPDIR; as root: elsewhere
    finally:
        server.stop()
    assert not server.run_dir.exists()


def test_missing_binaries_are_one_sentence_saying_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BIN_ENV, str(tmp_path))  # a directory without initdb, pg_ctl, postgres
    before = our_folders()

    with pytest.raises(PostgresStartError) as refused:
        LocalPostgres.start()

    _assert_one_sentence(str(refused.value))
    assert BIN_ENV in str(refused.value) and "make install" in str(refused.value)
    assert our_folders() == before


def test_root_without_an_account_to_run_the_server_is_told_how_to_fix_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(postgres_install, "SERVICE_ACCOUNTS", ("no-such-account-1", "no-such-2"))

    with pytest.raises(PostgresStartError) as refused:
        LocalPostgres.start()

    _assert_one_sentence(str(refused.value))
    assert "useradd" in str(refused.value) and "ordinary user" in str(refused.value)


def test_the_demo_says_in_one_sentence_that_postgresql_cannot_start(tmp_path: Path) -> None:
    environment = {**os.environ, BIN_ENV: str(tmp_path)}

    with subprocess.Popen(
        [sys.executable, "-m", "local_stack.cli", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPOSITORY,
        env=environment,
    ) as demo:
        stdout, stderr = demo.communicate(timeout=120)

    assert demo.returncode == 1
    assert stdout == ""
    _assert_one_sentence(stderr)
    assert stderr.startswith("aurora-restore: the local PostgreSQL could not start.")
    assert our_folders(demo.pid) == set()


def test_a_start_that_fails_half_way_stops_the_server_and_removes_its_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pg_ctl gives up at once while the postmaster it launched is still starting
    monkeypatch.setattr(postgres_server, "START_TIMEOUT_SECONDS", 0)
    before_folders, before_servers = our_folders(), our_servers()

    with pytest.raises(PostgresStartError) as refused:
        LocalPostgres.start()

    _assert_one_sentence(str(refused.value))
    assert our_folders() == before_folders
    assert our_servers() == before_servers
