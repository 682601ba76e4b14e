"""Two restores of one snapshot at once: both succeed, each cluster with its own credentials."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pg8000.native
import pytest

from local_stack.scenario import APPROVE, Driver
from local_stack.stack import LocalStack
from tests.e2e.flows import click, request_restore

pytestmark = pytest.mark.e2e


def test_concurrent_restores_of_one_snapshot_are_isolated(
    driver: Driver, stack: LocalStack
) -> None:
    snapshot = driver.info["seed"]["snapshot"]
    # Not `staging-*`: the local server shares application users between clusters (see
    # local_stack/postgres.py); this is about each cluster's own master credentials.
    targets = ["rehearsal-left", "rehearsal-right"]
    operation_ids = [request_restore(driver, f"{snapshot} {target}") for target in targets]

    def approve_and_finish(operation_id: str) -> str:
        click(driver, operation_id, APPROVE, driver.info["users"]["approver"])
        return str(driver.wait_for_execution_end(operation_id)["status"])

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(approve_and_finish, operation_ids)) == ["SUCCEEDED", "SUCCEEDED"]

    secrets = stack.clients.secretsmanager
    postgres = driver.info["postgres"]
    masters = {}
    for target in targets:
        value = secrets.get_secret_value(SecretId=f"aurora-restore/{target}/master")
        masters[target] = json.loads(value["SecretString"])
    assert masters["rehearsal-left"]["username"] != masters["rehearsal-right"]["username"]
    for target, master in masters.items():
        connection = pg8000.native.Connection(
            master["username"],
            host=postgres["host"],
            port=postgres["port"],
            database=target,
            password=master["password"],
        )
        try:
            rows = connection.run("SELECT count(*) FROM public.customers")
        finally:
            connection.close()
        assert rows[0][0] == 3  # the source's rows, in each copy
