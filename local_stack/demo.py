"""`aurora-restore demo`: one restore played through the real interfaces, printed for people."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TextIO

from local_stack.scenario import APPROVE, Driver, ScenarioError
from local_stack.stack import CHANNEL, USERS, LocalStack, StackOptions
from local_stack.transcript import read_channel, render_channel


def run_demo(out: TextIO = sys.stdout, options: StackOptions | None = None) -> int:
    """Request a replace-restore, approve it as another person, follow it to the end."""
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
        return 0 if execution["status"] == "SUCCEEDED" else 1


def _summary(driver: Driver, operation_id: str, execution: dict, target: str) -> str:
    started: datetime = execution["startDate"]
    stopped: datetime = execution["stopDate"]
    cluster = driver.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0]
    instances = [member["DBInstanceIdentifier"] for member in cluster["DBClusterMembers"]]
    final = driver.rds.describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=f"{target}-final-{operation_id}"
    )["DBClusterSnapshots"]
    lines = [
        "Summary",
        "-------",
        f"operation        {operation_id}",
        f"outcome          {execution['status']}",
        f"duration         {(stopped - started).total_seconds():.1f} s (waits scaled down)",
        f"cluster          {cluster['DBClusterIdentifier']} ({cluster['Status']}, "
        f"{cluster['Engine']} {cluster['EngineVersion']})",
        f"instances        {', '.join(sorted(instances))}",
        f"final snapshot   {final[0]['DBClusterSnapshotIdentifier']} ({final[0]['Status']}, kept)"
        if final
        else "final snapshot   none",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    try:
        return run_demo()
    except ScenarioError as error:
        sys.stderr.write(f"demo failed: {error}\n")
        return 1
