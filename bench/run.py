"""Run the benchmarks on the local stack, print a table and write bench/results.json.

python -m bench.run                      # everything (about 6-9 minutes on 2 cores)
python -m bench.run --quick              # fewer samples: a smoke run
python -m bench.run --only ack_latency --only cold_start
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import ack_latency, cold_start, pipeline_throughput, rate_limited_progress
from bench.results import BenchResult, document, render_table, write_json

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results.json"
BENCHMARKS: dict[str, Callable[[bool], BenchResult]] = {
    ack_latency.NAME: ack_latency.run,
    cold_start.NAME: cold_start.run,
    pipeline_throughput.NAME: pipeline_throughput.run,
    rate_limited_progress.NAME: rate_limited_progress.run,
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Benchmarks of aurora-restore on the local stack (see bench/README in the "
        "module docstrings).",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer samples, for a smoke run (figures are rough)"
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON results"
    )
    return parser.parse_args(argv)


def run_one(name: str, quick: bool) -> BenchResult:
    load_before = _load()
    started = time.perf_counter()
    print(f"== {name}{' (quick)' if quick else ''} ...", file=sys.stderr, flush=True)
    try:
        result = BENCHMARKS[name](quick)
    except Exception as exc:  # one broken benchmark must not hide the others' figures
        traceback.print_exc()
        result = BenchResult(name, name, error=f"{type(exc).__name__}: {exc}")
    result.seconds = time.perf_counter() - started
    # Other work on the machine shows up in the tails; say how busy it was.
    result.data["load_average_before_after"] = [load_before, _load()]
    result.notes.append(
        f"1-min load average {load_before:.1f} before, {_load():.1f} after, on "
        f"{os.cpu_count()} CPUs; took {result.seconds:.0f} s."
    )
    print(f"== {name} took {result.seconds:.0f}s", file=sys.stderr, flush=True)
    return result


def _load() -> float:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the stack's own chatter would bury the table
    names = args.only or list(BENCHMARKS)
    started_at = datetime.now(UTC)
    results = [run_one(name, args.quick) for name in names]
    print(render_table(results))
    write_json(args.output, document(results, quick=args.quick, started_at=started_at))
    print(f"\nwritten to {args.output}")
    missed = [m.name for r in results for m in r.missed]
    if missed:
        print(f"goals missed: {'; '.join(missed)}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
