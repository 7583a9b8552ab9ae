"""Figures, their targets, and the two outputs: a rich table on stdout and ``bench/results.json``."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"


@dataclass
class Figure:
    """One measured figure: the median of ``values`` (one per run), compared with ``target``.

    ``comparison`` is ``"<="`` or ``"<"`` (lower is better for every figure here); a figure
    without a target is informational.
    """

    name: str
    benchmark: str
    unit: str
    values: list[float]
    target: float | None = None
    comparison: str = "<="
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return float(statistics.median(self.values)) if self.values else float("nan")

    @property
    def met(self) -> bool | None:
        if self.target is None or not self.values:
            return None
        return self.median <= self.target if self.comparison == "<=" else self.median < self.target

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(median=self.median, runs=len(self.values), met=self.met)
        return out


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def write(figures: Sequence[Figure], *, path: Path = RESULTS, quick: bool = False) -> dict[str, Any]:
    doc = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine(),
        "figures": {f.name: f.to_dict() for f in figures},
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    return doc


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def print_table(figures: Sequence[Figure]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="AKS Backup Guard benchmarks (median over runs)")
    for col in ("figure", "median", "unit", "runs", "target", "met", "note"):
        table.add_column(col, overflow="fold")
    for f in figures:
        target = "-" if f.target is None else f"{f.comparison} {_fmt(f.target)}"
        met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "-"}[f.met]
        table.add_row(f.name, _fmt(f.median), f.unit, str(len(f.values)), target, met, f.note)
    Console(width=200).print(table)
    print(f"machine: {machine()}")
