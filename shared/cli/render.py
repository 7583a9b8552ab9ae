"""Reports for people (rich tables) and machines (JSON). Pure formatting; no I/O but the stream."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, Any

from shared import ids
from shared.engine import Verification, summarize
from shared.model import Finding, Status

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


def report_dict(verifications: Sequence[Verification], problems: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "targets": [
            {
                "cluster_id": v.target.cluster_id,
                "vault_id": v.target.vault_id,
                "kind": v.target.kind,
                "opt_out": v.snapshot.opt_out,
                "findings": [f.to_dict() for f in ordered(v.findings)],
            }
            for v in verifications
        ],
        "summary": summarize(verifications),
        "problems": list(problems),
    }


def write_json(stream: IO[str], payload: dict[str, Any]) -> None:
    json.dump(payload, stream, indent=2)
    stream.write("\n")


def write_table(stream: IO[str], verifications: Sequence[Verification], problems: Sequence[str] = ()) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, width=max(100, Console(file=stream).width), highlight=False)
    for v in verifications:
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
    s = summarize(verifications)
    console.print(
        f"{s['targets']} targets, {s['failing_targets']} failing; checks: {s['fail']} fail, "
        f"{s['warn']} warn, {s['unknown']} unknown, {s['pass']} pass"
    )
    for problem in problems:
        console.print(f"[magenta]could not list:[/] {problem}")
