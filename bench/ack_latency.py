"""Warm ack latency of `/restore` and of an Approve click through the bot's Lambda entry.

Each sample is a signed API Gateway event handed to `bot.lambda_entry.handler` in this process
(signing is Slack's work and is done before the clock starts); the clock stops when the handler
returns the ack. The ack includes Bolt's asynchronous self-invocation (Lambda Invoke against the
local stack's moto), as on AWS; the lazy work it queues runs in the local stack's async Lambda
runtime, held until the ack has returned and drained before the next sample, because on AWS it
runs in another container and never shares a CPU with the ack (here it would, and without the
drain it would pile up and slow later samples). The Lambda Invoke call inside each ack is timed
too (around `AsyncSelfInvoker.invoke`), to show how much of the ack is the emulated AWS API
rather than the bot's code.

The requests are real: `/restore <snapshot> shared-bench-ack` by the requester (the lazy work
finds the target locked by a pending restore, so no new workflow starts per sample), and clicks
on Approve of that restore's real card by an approver (two approvals are needed for `shared-*`,
the first is given during set-up, so the card keeps its buttons and each later click is answered
"you have already approved").
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from bench.results import BenchResult, Goal, Measure
from bench.scenes import drain, first_of_two_approvals, pending_restore
from bench.slack_events import (
    api_gateway_event,
    bot_function_context,
    click_body,
    slash_command_body,
)
from bench.stats import Summary, summarize
from bot.self_invoke import AsyncSelfInvoker
from local_stack.functions import BOT_FUNCTION
from local_stack.scenario import APPROVE, Driver
from local_stack.stack import LocalStack, StackOptions

NAME = "ack_latency"
TARGET = "shared-bench-ack"
P99_GOAL = Goal("<", 25, "ms")
ACK_TEXT = "Checking your request"


class InvokeTimer:
    """Times the bot's self-invocation (`AsyncSelfInvoker.invoke`, the Lambda Invoke of its lazy
    work) when it runs on the measuring thread; installed for the run, removed after it."""

    def __init__(self) -> None:
        self._thread = threading.get_ident()
        self._original: Callable[..., Any] | None = None
        self.last = 0.0

    def install(self) -> None:
        original = AsyncSelfInvoker.invoke
        timer = self

        def timed(invoker: AsyncSelfInvoker, **call: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(invoker, **call)
            finally:
                if threading.get_ident() == timer._thread:
                    timer.last = time.perf_counter() - started

        self._original = original
        setattr(AsyncSelfInvoker, "invoke", timed)  # noqa: B010 (instrumenting a method)

    def uninstall(self) -> None:
        if self._original is not None:
            setattr(AsyncSelfInvoker, "invoke", self._original)  # noqa: B010
            self._original = None


class AckGate:
    """Holds the bot's lazy invocations until the measured ack has returned."""

    def __init__(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> None:
        self._handler = handler
        self._open = threading.Event()
        self._open.set()

    def lazy_handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self._open.wait(timeout=60)
        return self._handler(event, context)

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()


@dataclass
class Series:
    acks: list[float] = field(default_factory=list)
    invokes: list[float] = field(default_factory=list)


def run(quick: bool) -> BenchResult:
    samples, warmup = (60, 10) if quick else (500, 50)
    result = BenchResult(NAME, "Warm ack latency through bot.lambda_entry.handler")
    timer = InvokeTimer()
    timer.install()
    try:
        restore, click, failed_lazy = _measure(samples, warmup, timer)
    finally:
        timer.uninstall()
    _report(result, {"/restore": restore, "Approve click": click}, warmup, failed_lazy)
    return result


def _measure(samples: int, warmup: int, timer: InvokeTimer) -> tuple[Series, Series, int]:
    with LocalStack(StackOptions(time_scale=0, approval_timeout_seconds=3600)) as stack:
        driver = Driver(stack.info)
        pending = pending_restore(stack, driver, TARGET)
        first_of_two_approvals(stack, driver, pending)
        card = driver.card(pending.operation_id)  # as refreshed after the first approval
        from bot.lambda_entry import handler  # the stack has set the function's environment

        gate = AckGate(handler)
        stack.runtime.register(BOT_FUNCTION, gate.lazy_handler)
        context = SimpleNamespace(**bot_function_context(stack.info["region"]))
        measure = Measurement(stack, handler, context, gate, timer)
        restore = measure.series(lambda: _restore_event(stack), _is_restore_ack, samples, warmup)
        click = measure.series(lambda: _click_event(stack, card), _is_click_ack, samples, warmup)
        return restore, click, len(stack.runtime.failed_async)


def _restore_event(stack: LocalStack) -> dict[str, Any]:
    info = stack.info
    text = f"{info['seed']['snapshot']} {TARGET}"
    body = slash_command_body(info, info["users"]["requester"], text)
    return api_gateway_event(body, info["signing_secret"])


def _click_event(stack: LocalStack, card: dict[str, Any]) -> dict[str, Any]:
    info = stack.info
    body = click_body(info, info["users"]["approver"], card, APPROVE)
    return api_gateway_event(body, info["signing_secret"])


def _is_restore_ack(response: dict[str, Any]) -> bool:
    return response["statusCode"] == 200 and ACK_TEXT in json.loads(response["body"])["text"]


def _is_click_ack(response: dict[str, Any]) -> bool:
    return response["statusCode"] == 200 and not response["body"]


@dataclass
class Measurement:
    stack: LocalStack
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    context: Any
    gate: AckGate
    timer: InvokeTimer

    def series(
        self,
        make_event: Callable[[], dict[str, Any]],
        is_ack: Callable[[dict[str, Any]], bool],
        samples: int,
        warmup: int,
    ) -> Series:
        series = Series()
        for index in range(warmup + samples):
            event = make_event()  # Slack's side: body and signature, before the clock starts
            self.gate.close()
            self.timer.last = 0.0
            started = time.perf_counter()
            response = self.handler(event, self.context)
            elapsed = time.perf_counter() - started
            self.gate.open()
            if not is_ack(response):
                raise RuntimeError(f"unexpected answer: {response}")
            drain(self.stack)  # the lazy work runs elsewhere on AWS: never during a sample
            if index >= warmup:
                series.acks.append(elapsed)
                series.invokes.append(self.timer.last)
        return series


def _report(
    result: BenchResult, all_series: dict[str, Series], warmup: int, failed_lazy: int
) -> None:
    for label, series in all_series.items():
        summary: Summary = summarize(series.acks).scaled(1000)
        invokes = summarize(series.invokes).scaled(1000)
        own = summarize([a - i for a, i in zip(series.acks, series.invokes, strict=True)])
        own = own.scaled(1000)
        detail = (
            f"n={summary.n} (+{warmup} warm-up) min {summary.min:.1f} p90 {summary.p90:.1f} "
            f"max {summary.max:.1f} IQR {summary.iqr:.1f}"
        )
        result.add(Measure(f"{label} ack p50", summary.p50, "ms", detail))
        result.add(Measure(f"{label} ack p99", summary.p99, "ms", detail, P99_GOAL))
        result.add(
            Measure(
                f"{label} ack p50 without the Invoke call",
                own.p50,
                "ms",
                f"Lambda Invoke to moto: p50 {invokes.p50:.1f} p99 {invokes.p99:.1f}; "
                f"rest p99 {own.p99:.1f}",
            )
        )
        result.data[label] = {
            "ack_ms": summary.as_dict(),
            "lambda_invoke_ms": invokes.as_dict(),
            "ack_without_invoke_ms": own.as_dict(),
        }
        if not P99_GOAL.met(summary.p99):
            result.notes.append(
                f"GOAL MISSED: {label} ack p99 {summary.p99:.1f} ms is not {P99_GOAL.text}."
            )
    result.data["failed_lazy_invocations"] = failed_lazy
    if failed_lazy:
        result.notes.append(f"{failed_lazy} lazy invocation(s) failed (see the runtime's record).")
    result.notes.append(
        "Each ack includes Bolt's Lambda Invoke of its own lazy work (to moto); the lazy work "
        "is held until the ack returns and drained between samples (on AWS it runs in another "
        "container)."
    )
