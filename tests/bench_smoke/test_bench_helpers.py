"""The benchmarks' own arithmetic and outputs: percentiles, summaries, goals, the results JSON and
table, importtime parsing, and the reading of the notifier's thread replies. No timing here."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bench.import_costs import by_package, extra_imports, parse_importtime
from bench.rate_limited_progress import _parse_step
from bench.results import BenchResult, Goal, Measure, document, render_table, write_json
from bench.run import BENCHMARKS, parse_args
from bench.stats import percentile, summarize
from bot.render import progress_text
from pipeline.models import OperationStatus, ProgressEvent, Stage, StageStatus


def test_percentiles_interpolate_between_closest_ranks() -> None:
    samples = [float(n) for n in range(10, 0, -1)]  # unordered on purpose
    assert percentile(samples, 0) == 1
    assert percentile(samples, 50) == 5.5
    assert percentile(samples, 90) == pytest.approx(9.1)
    assert percentile(samples, 100) == 10
    assert percentile([7.0], 99) == 7


@pytest.mark.parametrize(("samples", "q"), [([], 50), ([1.0], -1), ([1.0], 101)])
def test_percentile_refuses_nonsense(samples: list[float], q: float) -> None:
    with pytest.raises(ValueError):
        percentile(samples, q)


def test_summary_reports_count_spread_and_scales_units() -> None:
    summary = summarize([0.001, 0.002, 0.003, 0.004, 0.100])
    assert (summary.n, summary.min, summary.max, summary.p50) == (5, 0.001, 0.100, 0.003)
    assert summary.iqr == pytest.approx(0.002)
    in_ms = summary.scaled(1000)
    assert in_ms.n == 5 and in_ms.p50 == pytest.approx(3) and in_ms.max == pytest.approx(100)


@pytest.mark.parametrize(
    ("goal", "value", "met"),
    [
        (Goal("<", 25, "ms"), 24.9, True),
        (Goal("<", 25, "ms"), 25, False),
        (Goal("<=", 1.3, "x"), 1.3, True),
        (Goal("<=", 1.3, "x"), 1.31, False),
        (Goal("==", 0), 0, True),
        (Goal("==", 0), 1, False),
    ],
)
def test_goals(goal: Goal, value: float, met: bool) -> None:
    assert Measure("m", value, goal.unit, goal=goal).met is met


def test_results_json_has_the_documented_shape(tmp_path) -> None:
    result = BenchResult("ack_latency", "Ack", notes=["a note"], data={"n": 3})
    result.add(Measure("p99", 30.0, "ms", "n=3", Goal("<", 25, "ms")))
    result.add(Measure("p50", 8.0, "ms"))
    broken = BenchResult("cold_start", "Cold", error="RuntimeError: boom\ntraceback")
    path = tmp_path / "out" / "results.json"

    write_json(path, document([result, broken], quick=True, started_at=datetime.now(UTC)))

    payload = json.loads(path.read_text())
    assert payload["schema"] == 1 and payload["quick"] is True
    assert {"cpus", "python", "platform", "load_average"} <= set(payload["machine"])
    first, second = payload["benchmarks"]
    assert first["name"] == "ack_latency" and first["error"] is None and first["data"] == {"n": 3}
    assert first["measures"][0] == {
        "name": "p99",
        "value": 30.0,
        "unit": "ms",
        "detail": "n=3",
        "goal": {"comparison": "<", "limit": 25, "text": "< 25 ms"},
        "met": False,
    }
    assert first["measures"][1]["goal"] is None and first["measures"][1]["met"] is None
    assert second["error"].startswith("RuntimeError") and second["measures"] == []


def test_table_flags_missed_goals_errors_and_notes() -> None:
    result = BenchResult("ack_latency", "Ack", notes=["drained between samples"])
    result.add(Measure("p99", 30.5, "ms", "n=500", Goal("<", 25, "ms")))
    result.add(Measure("p50", 8.25, "ms", "n=500", Goal("<", 25, "ms")))
    table = render_table([result, BenchResult("pipeline", "P", error="RuntimeError: boom\nx")])
    lines = table.splitlines()
    assert "MISSED" in lines[2] and "30.5 ms" in lines[2] and "< 25 ms" in lines[2]
    assert "8.25 ms" in lines[3]
    assert "yes" in lines[3] and "MISSED" not in lines[3]
    assert "ERROR" in lines[4] and "boom" in lines[4] and "\nx" not in table
    assert lines[-1] == "[ack_latency] drained between samples"


def test_importtime_output_is_compared_module_by_module() -> None:
    ours = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       100 |        100 |     json\n"
        "import time:      3000 |       5000 |   pydantic.main\n"
        "import time:      2000 |       2000 |     pydantic_core\n"
        "import time:       500 |       8000 | bot.app\n"
    )
    baseline = "import time:       100 |        100 |     json\n"
    assert parse_importtime(ours)["pydantic.main"].depth == 1
    extra = extra_imports(ours, baseline)
    assert [cost.module for cost in extra] == ["bot.app", "pydantic.main", "pydantic_core"]
    assert by_package(extra) == {"pydantic": 3.0, "pydantic_core": 2.0, "bot": 0.5}


@pytest.mark.parametrize(
    ("status", "extra"),
    [
        (StageStatus.STARTED, {}),
        (StageStatus.SUCCEEDED, {"duration_seconds": 75.0, "resources": {"cluster": "x"}}),
        (StageStatus.SKIPPED, {}),
        (StageStatus.FAILED, {"operation_status": OperationStatus.FAILED}),
    ],
)
@pytest.mark.parametrize("stage", list(Stage))
def test_thread_replies_are_read_back_as_the_stage_events_they_announce(
    stage: Stage, status: StageStatus, extra: dict
) -> None:
    event = ProgressEvent.for_stage("ar-20260101120000-1a2b3c", stage, status, "detail", **extra)
    assert _parse_step(progress_text(event)) == (stage, status)
    assert _parse_step(":raising_hand: Approval needed from <@U1>") is None


def test_command_line() -> None:
    assert parse_args([]).only is None
    args = parse_args(["--quick", "--only", "cold_start", "--only", "pipeline"])
    assert args.quick and args.only == ["cold_start", "pipeline"]
    assert set(BENCHMARKS) == {"ack_latency", "cold_start", "pipeline", "progress_rate_limit"}
    with pytest.raises(SystemExit):
        parse_args(["--only", "nonsense"])
