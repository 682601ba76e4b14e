"""`aurora-restore`: run the local stack (`local`) or the demo (`demo`)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from local_stack.postgres_install import PostgresStartError
from local_stack.stack import LocalStack, StackOptions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aurora-restore",
        description="ChatOps for Amazon Aurora restores: the local stack and its demo.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser(
        "local",
        help="run the whole system on this machine until interrupted",
        description="Start emulated AWS and Slack with the real bot, pipeline and state machine; "
        "write the stack file once ready; serve until Ctrl-C.",
    )
    local.add_argument("--stack-file", type=Path, required=True, help="where to write the JSON")
    _stack_options(local)
    demo = commands.add_parser("demo", help="play one approved restore and print the channel")
    _stack_options(demo)
    return parser


def _stack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--time-scale",
        type=float,
        default=0.01,
        help="factor applied to Wait states, retry intervals and how long RDS statuses last "
        "(default 0.01; 0 for no waits)",
    )
    parser.add_argument(
        "--approval-timeout",
        type=int,
        default=3600,
        help="seconds before an approval card expires (default 3600)",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = StackOptions(
        time_scale=args.time_scale, approval_timeout_seconds=args.approval_timeout
    )
    try:
        if args.command == "demo":
            from local_stack.demo import run_demo

            return run_demo(options=options)
        return serve(args.stack_file, options)
    except PostgresStartError as exc:  # the stack cannot run without it: say why, no traceback
        sys.stderr.write(f"aurora-restore: the local PostgreSQL could not start. {exc}\n")
        return 1


def serve(stack_file: Path, options: StackOptions) -> int:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with LocalStack(options) as stack:
        stack.write_stack_file(stack_file)
        sys.stderr.write(f"local stack ready; stack file: {stack_file}\n")
        stop.wait()
    stack_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
