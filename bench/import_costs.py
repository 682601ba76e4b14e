"""Read `python -X importtime` output: which modules one program loads that another does not, and
what they cost (the interpreter's own figures, inflated by the measuring itself)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


@dataclass(frozen=True)
class ImportCost:
    module: str
    self_us: int
    cumulative_us: int
    depth: int


def parse_importtime(stderr: str) -> dict[str, ImportCost]:
    costs: dict[str, ImportCost] = {}
    for line in stderr.splitlines():
        match = _LINE.match(line)
        if match:
            self_us, cumulative_us, indent, module = match.groups()
            costs[module] = ImportCost(module, int(self_us), int(cumulative_us), len(indent) // 2)
    return costs


def extra_imports(program: str, baseline: str) -> list[ImportCost]:
    """Modules `program` imports that `baseline` does not, costliest (cumulative) first."""
    ours, theirs = parse_importtime(program), parse_importtime(baseline)
    extra = [cost for module, cost in ours.items() if module not in theirs]
    return sorted(extra, key=lambda cost: cost.cumulative_us, reverse=True)


def by_package(costs: list[ImportCost]) -> dict[str, float]:
    """Self time (ms) per top-level package, costliest first."""
    totals: dict[str, int] = {}
    for cost in costs:
        package = cost.module.split(".")[0]
        totals[package] = totals.get(package, 0) + cost.self_us
    ordered = sorted(totals.items(), key=lambda item: item[1], reverse=True)
    return {package: round(us / 1000, 1) for package, us in ordered}


@dataclass(frozen=True)
class ExtraImports:
    modules: int
    self_ms: float
    packages_ms: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        return {"modules": self.modules, "self_ms": self.self_ms, "packages_ms": self.packages_ms}


def summary(extra: list[ImportCost]) -> ExtraImports:
    return ExtraImports(
        modules=len(extra),
        self_ms=round(sum(cost.self_us for cost in extra) / 1000, 1),
        packages_ms=by_package(extra),
    )
