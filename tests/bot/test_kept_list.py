"""`/restore list --kept`: kept clusters and the tool's snapshots, read from RDS (moto), answered
ephemerally through the command's response_url."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.deps import BotDependencies
from bot.queries import KEPT_LIMIT, kept_answer
from pipeline.models import RestoreRequest, new_operation_id
from pipeline.rds import OPERATION_TAG
from pipeline.retention import ANNOUNCED_TAG
from pipeline.stages.swap_steps import KEEP_UNTIL_TAG, KEPT_BY_TAG
from tests.bot.conftest import ENGINE, EXISTING_TARGET, REQUESTER, SlackHttp


def kept_cluster(deps: BotDependencies, name: str, operation_id: str, until: str, **tags: str):
    deps.aws.rds().create_db_cluster(
        DBClusterIdentifier=name,
        Engine=ENGINE,
        MasterUsername="postgres",
        MasterUserPassword="not-a-real-password",
        Tags=[
            {"Key": key, "Value": value}
            for key, value in {KEPT_BY_TAG: operation_id, KEEP_UNTIL_TAG: until, **tags}.items()
        ],
    )


def operation(deps: BotDependencies) -> str:
    operation_id = new_operation_id()
    request = RestoreRequest(snapshot="s", target_cluster="staging-db", requester=REQUESTER)
    deps.store.create(operation_id, request)
    return operation_id


def test_kept_clusters_and_own_snapshots_are_listed_with_when_they_go(
    slack_http: SlackHttp, deps: BotDependencies
) -> None:
    first, second = operation(deps), operation(deps)
    kept_cluster(deps, "staging-db-old-aaaaaa", first, "2026-12-05T10:00Z", **{ANNOUNCED_TAG: "x"})
    kept_cluster(deps, "staging-db-old-bbbbbb", second, "2026-12-04T09:30Z")
    rds = deps.aws.rds()
    own = f"{EXISTING_TARGET}-final-{first}"
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier=EXISTING_TARGET,
        DBClusterSnapshotIdentifier=own,
        Tags=[{"Key": OPERATION_TAG, "Value": first}],
    )
    # Not the tool's: no operation tag, or not one of its names.
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier=EXISTING_TARGET,
        DBClusterSnapshotIdentifier=f"{EXISTING_TARGET}-final-{second}",
    )
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier=EXISTING_TARGET,
        DBClusterSnapshotIdentifier="someone-elses",
        Tags=[{"Key": OPERATION_TAG, "Value": first}],
    )

    _, key = slack_http.command(REQUESTER, "list --kept")
    (reply,) = slack_http.wait_reply(key)

    text = reply["text"]
    assert reply.get("response_type", "ephemeral") == "ephemeral"
    lines = text.splitlines()
    kept = [line for line in lines if "-old-" in line]
    # Soonest deletion first, each with its operation, status and keep-until.
    assert kept[0].startswith("• `staging-db-old-bbbbbb` kept by `" + second)
    assert "until 2026-12-04 09:30 UTC" in kept[0]
    assert "until 2026-12-05 10:00 UTC (deletion announced)" in kept[1]
    (snapshot,) = [line for line in lines if "-final-" in line]
    assert own in snapshot and f"of `{first}`" in snapshot and "deleted after 20" in snapshot
    assert "someone-elses" not in text


def test_an_empty_answer_says_so_and_a_long_one_is_cut_to_a_readable_length(
    deps: BotDependencies,
) -> None:
    assert kept_answer(deps).count("None.") == 2
    op = operation(deps)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for number in range(KEPT_LIMIT + 3):
        until = (start + timedelta(hours=number)).strftime("%Y-%m-%dT%H:%MZ")
        kept_cluster(deps, f"staging-db-old-{number:06x}", op, until)
    text = kept_answer(deps)
    assert text.count("kept by") == KEPT_LIMIT
    assert "… and 3 more" in text
