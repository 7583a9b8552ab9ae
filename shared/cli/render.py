"""Reports for people (rich tables) and machines (JSON). Pure formatting; no I/O but the stream."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, Any

from shared import ids
from shared.backup_health import HealthTally
from shared.model import Finding, Status
from shared.verification import Tally, Verification, summarize

_ORDER = {Status.FAIL: 0, Status.WARN: 1, Status.UNKNOWN: 2, Status.PASS: 3, Status.NOT_APPLICABLE: 4}
_STYLE = {
    Status.FAIL: "bold red",
    Status.WARN: "yellow",
    Status.UNKNOWN: "magenta",
    Status.PASS: "green",
    Status.NOT_APPLICABLE: "dim",
}


def ordered(findings: Sequence[Finding]) -> list[Finding]:
    """Failing checks first, then warnings, unknowns, passes; stable within a status."""
    return sorted(findings, key=lambda f: _ORDER[f.status])


def target_dict(v: Verification) -> dict[str, Any]:
    return {
        "cluster_id": v.target.cluster_id,
        "vault_id": v.target.vault_id,
        "kind": v.target.kind,
        "opt_out": v.snapshot.opt_out,
        "findings": [f.to_dict() for f in ordered(v.findings)],
    }


def report_dict(verifications: Sequence[Verification], problems: Sequence[str] = ()) -> dict[str, Any]:
    backups = HealthTally()
    for v in verifications:
        backups.add_findings(v.target.cluster_id, v.findings)
    return {
        "targets": [target_dict(v) for v in verifications],
        "summary": summarize(verifications),
        "backups": backups.result().to_dict(),
        "problems": list(problems),
    }


def write_json(stream: IO[str], payload: dict[str, Any]) -> None:
    json.dump(payload, stream, indent=2)
    stream.write("\n")


class StreamedReport:
    """Writes a report one target at a time (JSON or tables), keeping only running counts.

    The JSON document is the same as :func:`report_dict` would build, written incrementally.
    """

    def __init__(self, stream: IO[str], fmt: str) -> None:
        self.stream, self.fmt = stream, fmt
        self.tally = Tally()
        self.backups = HealthTally()
        self._first = True
        self._console: Any = None
        if fmt == "json":
            stream.write('{\n  "targets": [')
        else:
            from rich.console import Console

            self._console = Console(file=stream, width=max(100, Console(file=stream).width), highlight=False)

    def add(self, v: Verification) -> None:
        self.tally.add(v)
        self.backups.add_findings(v.target.cluster_id, v.findings)
        if self.fmt == "json":
            entry = json.dumps(target_dict(v), indent=2).replace("\n", "\n    ")
            self.stream.write(("\n    " if self._first else ",\n    ") + entry)
            self._first = False
        else:
            _target_table(self._console, v)

    def close(self, problems: Sequence[str] = ()) -> None:
        if self.fmt == "json":
            summary = {"summary": self.tally.as_dict(), "backups": self.backups.result().to_dict()}
            tail = json.dumps({**summary, "problems": list(problems)}, indent=2)
            self.stream.write(("\n  ],\n" if not self._first else "],\n") + tail[2:] + "\n")
        else:
            _summary_lines(self._console, self.tally.as_dict(), problems)
            health = self.backups.result()
            if health.instances:
                self._console.print(health.line())


def write_table(stream: IO[str], verifications: Sequence[Verification], problems: Sequence[str] = ()) -> None:
    report = StreamedReport(stream, "table")
    for v in verifications:
        report.add(v)
    report.close(problems)


def _target_table(console: Any, v: Verification) -> None:
    from rich.table import Table

    title = f"{ids.name_of(v.target.cluster_id)} -> {ids.name_of(v.target.vault_id)} ({v.target.kind})"
    if v.snapshot.opt_out == "report-only":
        title += " [report-only]"
    table = Table(title=title, title_justify="left", show_lines=False, expand=True)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("detail", ratio=3)
    table.add_column("fix", ratio=3)
    for f in ordered(v.findings):
        fix = ""
        if f.fix and f.status in (Status.FAIL, Status.WARN):
            fix = f.fix.command or f.fix.summary
        table.add_row(f"[{_STYLE[f.status]}]{f.status}[/]", f.check, f.detail, fix)
    console.print(table)
    console.print(f"[dim]{v.target.cluster_id}\n{v.target.vault_id}[/]\n")


def _summary_lines(console: Any, s: dict[str, int], problems: Sequence[str]) -> None:
    console.print(
        f"{s['targets']} targets, {s['failing_targets']} failing; checks: {s['fail']} fail, "
        f"{s['warn']} warn, {s['unknown']} unknown, {s['pass']} pass"
    )
    for problem in problems:
        console.print(f"[magenta]could not list:[/] {problem}")
