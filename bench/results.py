"""Benchmark results: measures with their goals, a printed table and the JSON file.

`bench/results.json` (git-ignored) has this shape:

    {"schema": 1, "quick": bool, "started_at": iso, "machine": {...},
     "benchmarks": [{"name", "title", "seconds", "error", "notes": [str], "data": {...},
                     "measures": [{"name", "value", "unit", "detail", "goal", "met"}]}]}

`goal` is null or {"comparison": "<" | "<=" | "==", "limit": number, "text": str}; `met` is null
when there is no goal.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

SCHEMA_VERSION = 1
Comparison = Literal["<", "<=", "=="]


@dataclass(frozen=True)
class Goal:
    comparison: Comparison
    limit: float
    unit: str = ""

    def met(self, value: float) -> bool:
        if self.comparison == "<":
            return value < self.limit
        if self.comparison == "<=":
            return value <= self.limit
        return value == self.limit

    @property
    def text(self) -> str:
        return f"{self.comparison} {_number(self.limit)}{_unit_suffix(self.unit)}"

    def as_dict(self) -> dict[str, Any]:
        return {"comparison": self.comparison, "limit": self.limit, "text": self.text}


@dataclass(frozen=True)
class Measure:
    name: str
    value: float
    unit: str
    detail: str = ""  # samples and spread, so the reader can judge the noise
    goal: Goal | None = None

    @property
    def met(self) -> bool | None:
        return None if self.goal is None else self.goal.met(self.value)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "detail": self.detail,
            "goal": None if self.goal is None else self.goal.as_dict(),
            "met": self.met,
        }


@dataclass
class BenchResult:
    name: str
    title: str
    measures: list[Measure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None

    def add(self, measure: Measure) -> Measure:
        self.measures.append(measure)
        return measure

    @property
    def missed(self) -> list[Measure]:
        return [m for m in self.measures if m.met is False]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "notes": list(self.notes),
            "data": self.data,
            "measures": [m.as_dict() for m in self.measures],
        }


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in load] if load else None,
    }


def document(
    results: Sequence[BenchResult], *, quick: bool, started_at: datetime
) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "quick": quick,
        "started_at": started_at.astimezone(UTC).isoformat(),
        "machine": machine(),
        "benchmarks": [r.as_dict() for r in results],
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


def render_table(results: Sequence[BenchResult]) -> str:
    """A plain-text table: one row per measure, then each benchmark's notes."""
    header = ("benchmark", "measure", "value", "goal", "ok", "samples / spread")
    rows: list[tuple[str, ...]] = []
    for result in results:
        if result.error:
            rows.append((result.name, "ERROR", "", "", "no", result.error.splitlines()[0][:120]))
        for measure in result.measures:
            ok = {None: "", True: "yes", False: "MISSED"}[measure.met]
            value = f"{_number(measure.value)}{_unit_suffix(measure.unit)}"
            goal = measure.goal.text if measure.goal else ""
            rows.append((result.name, measure.name, value, goal, ok, measure.detail))
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    lines = []
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    lines.insert(1, "-" * min(160, max(len(line) for line in lines)))
    for result in results:
        for note in result.notes:
            lines.append(f"[{result.name}] {note}")
    return "\n".join(lines)


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _unit_suffix(unit: str) -> str:
    if not unit:
        return ""
    return unit if unit == "x" else f" {unit}"
