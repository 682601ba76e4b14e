"""`aurora-restore demo`: one restore played through the real interfaces, printed for people."""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import datetime
from typing import Any, TextIO

import pg8000.native

from local_stack.names import CHANNEL, USERS
from local_stack.scenario import APPROVE, Driver, ScenarioError
from local_stack.stack import LocalStack, StackOptions
from local_stack.transcript import read_channel, render_channel
from pipeline.rds import describe_cluster
from pipeline.stages.swap_steps import KEEP_UNTIL_TAG
from pipeline.swap_plan import kept_cluster_id


def run_demo(out: TextIO = sys.stdout, options: StackOptions | None = None) -> int:
    """Request a replace-restore (restored beside the target, then swapped in), approve it as
    another person, follow it to the end."""
    with LocalStack(options) as stack:
        info = stack.info
        driver = Driver(info)
        seed = info["seed"]
        requester, approver = info["users"]["requester"], info["users"]["approver"]
        command = f"{seed['snapshot']} {seed['existing_target']} --replace --instances 2"
        out.write(f"$ /restore {command}    (typed by {USERS['requester'][1]})\n")
        reply, response_url = driver.request(requester, command)
        if reply.status != 200:
            out.write(f"the bot answered HTTP {reply.status}: {reply.body}\n")
            return 1
        operation_id = driver.operation_id_from(response_url)
        card = driver.card(operation_id)
        out.write(f"Approve clicked by {USERS['approver'][1]}\n\n")
        driver.click(approver, card, APPROVE)
        execution = driver.wait_for_execution_end(operation_id)
        stack.wait_for_progress_delivered(timeout=30)  # the notifier's last thread replies
        names = {user_id: name for user_id, name in USERS.values()}
        out.write(render_channel(read_channel(driver.web, info["channel_id"]), names, CHANNEL[1]))
        out.write("\n" + _summary(driver, operation_id, execution, seed["existing_target"]))
        if execution["status"] != "SUCCEEDED":
            return 1
        out.write(_database_check(stack, seed["existing_target"]))
        return 0


def _summary(driver: Driver, operation_id: str, execution: dict, target: str) -> str:
    started: datetime = execution["startDate"]
    stopped: datetime = execution["stopDate"]
    cluster = driver.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0]
    instances = [member["DBInstanceIdentifier"] for member in cluster["DBClusterMembers"]]
    kept = describe_cluster(driver.rds, kept_cluster_id(target, operation_id))
    lines = [
        "Summary",
        "-------",
        f"operation        {operation_id}",
        f"outcome          {execution['status']}",
        f"duration         {(stopped - started).total_seconds():.1f} s (waits scaled down)",
        f"cluster          {cluster['DBClusterIdentifier']} ({cluster['Status']}, "
        f"{cluster['Engine']} {cluster['EngineVersion']})",
        f"instances        {', '.join(sorted(instances))}",
        _kept_line(kept),
    ]
    return "\n".join(lines) + "\n"


def _kept_line(kept: dict[str, Any] | None) -> str:
    if kept is None:
        return "kept cluster     none"
    tags = {tag["Key"]: tag["Value"] for tag in kept.get("TagList", [])}
    until = tags.get(KEEP_UNTIL_TAG, "?")
    return (
        f"kept cluster     {kept['DBClusterIdentifier']} ({kept['Status']}, the replaced "
        f"cluster, kept for rollback until {until})"
    )


def _database_check(stack: LocalStack, target: str) -> str:
    """Log in as the read-only user with the password the pipeline stored in Secrets Manager."""
    secrets = stack.clients.secretsmanager
    prefix = f"aurora-restore/{target}/"
    names = sorted(
        entry["Name"]
        for page in secrets.get_paginator("list_secrets").paginate()
        for entry in page["SecretList"]
        if entry["Name"].startswith(prefix)
    )
    analytics: dict[str, Any] = json.loads(
        secrets.get_secret_value(SecretId=prefix + "analytics")["SecretString"]
    )
    postgres = stack.info["postgres"]
    with contextlib.closing(
        pg8000.native.Connection(
            analytics["username"],
            host=postgres["host"],
            port=postgres["port"],
            database=target,
            password=analytics["password"],
        )
    ) as connection:
        customers = connection.run("SELECT count(*) FROM public.customers")[0][0]
        sample = connection.run("SELECT email FROM public.customers ORDER BY id LIMIT 1")[0][0]
        orders = connection.run("SELECT count(*) FROM orders.orders")[0][0]
        try:
            connection.run("DELETE FROM orders.orders")
            writable = "yes (unexpected!)"
        except pg8000.native.DatabaseError:
            writable = "no (read-only, as configured)"
    users = ", ".join(name.removeprefix(prefix) for name in names)
    return "\n".join(
        [
            f"secrets          {users} (Secrets Manager, under {prefix})",
            f"as `analytics`   {customers} customers, {orders} orders from the source snapshot;",
            f"                 emails masked (e.g. {sample}); can write: {writable}",
            "",
        ]
    )


def main() -> int:
    try:
        return run_demo()
    except ScenarioError as error:
        sys.stderr.write(f"demo failed: {error}\n")
        return 1
