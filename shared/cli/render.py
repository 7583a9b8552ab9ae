"""Reports of verifications: text for people, JSON for scripts, JUnit XML for CI, a self-contained
HTML page. Pure formatting; no I/O but the stream.

Text (the default ``table`` format) lists only what is not ``pass`` (failing first, then unknown,
then warnings), with each target's counts and a summary at the end; ``--all`` lists every check
of every target. Fix commands are printed whole on their own lines (:mod:`shared.cli.text`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import IO, Any

from shared import ids
from shared.backup_health import HealthTally
from shared.cli.text import Writer, counts_phrase
from shared.model import Finding, Status
from shared.verification import Tally, Verification, summarize

_ORDER = {Status.FAIL: 0, Status.UNKNOWN: 1, Status.WARN: 2, Status.PASS: 3, Status.NOT_APPLICABLE: 4}
NOT_PASSING = (Status.FAIL, Status.UNKNOWN, Status.WARN)
FORMATS = ("table", "json", "junit", "html")


def ordered(findings: Sequence[Finding]) -> list[Finding]:
    """Failing checks first, then unknowns, warnings, passes; stable within a status."""
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


def target_title(v: Verification) -> str:
    title = f"{ids.name_of(v.target.cluster_id)} -> {ids.name_of(v.target.vault_id)} ({v.target.kind})"
    return title + (" [report-only]" if v.snapshot.opt_out == "report-only" else "")


class StreamedReport:
    """Writes a report one target at a time, keeping only running counts (memory stays flat).

    ``before_write`` is called before anything is written (the progress line clears itself).
    The JSON document equals :func:`report_dict`'s, written incrementally.
    """

    def __init__(
        self,
        stream: IO[str],
        fmt: str,
        *,
        show_all: bool = False,
        before_write: Callable[[], None] | None = None,
    ) -> None:
        self.stream, self.fmt, self.show_all = stream, fmt, show_all
        self.tally = Tally()
        self.backups = HealthTally()
        self.passing_targets = 0
        self._first = True
        self._before = before_write or (lambda: None)
        self._text = Writer(stream) if fmt == "table" else None
        self._other: Any = None
        if fmt == "json":
            stream.write('{\n  "targets": [')
        elif fmt == "junit":
            from shared.report.junit import JunitWriter

            self._other = JunitWriter(stream)
        elif fmt == "html":
            from shared.report.html import HtmlWriter

            self._other = HtmlWriter(stream, source="aks-backup-guard check")

    def add(self, v: Verification) -> None:
        self.tally.add(v)
        self.backups.add_findings(v.target.cluster_id, v.findings)
        if self.fmt == "json":
            self._before()
            entry = json.dumps(target_dict(v), indent=2).replace("\n", "\n    ")
            self.stream.write(("\n    " if self._first else ",\n    ") + entry)
            self._first = False
        elif self._other is not None:
            self._before()
            self._other.add(v)
        elif not any(f.status in NOT_PASSING for f in v.findings) and not self.show_all:
            self.passing_targets += 1
        else:
            assert self._text is not None
            self._before()
            write_target(self._text, v, show_all=self.show_all)
        self.stream.flush()

    def close(self, problems: Sequence[str] = ()) -> None:
        self._before()
        if self.fmt == "json":
            summary = {"summary": self.tally.as_dict(), "backups": self.backups.result().to_dict()}
            tail = json.dumps({**summary, "problems": list(problems)}, indent=2)
            self.stream.write(("\n  ],\n" if not self._first else "],\n") + tail[2:] + "\n")
        elif self._other is not None:
            self._other.close(self.tally.as_dict(), problems)
        else:
            assert self._text is not None
            health = self.backups.result()
            if health.instances:
                self._text.wrapped(health.line(), 0)
            write_summary(self._text, self.tally, problems, hidden_passing=self.passing_targets)
        self.stream.flush()


def write_target(out: Writer, v: Verification, *, show_all: bool = False) -> None:
    """One target: a title with its counts, its ids, then each finding not passing (all with
    ``show_all``): status, check id, the detail wrapped, the fix summary and command."""
    counts = {str(s): 0 for s in Status}
    for f in v.findings:
        counts[str(f.status)] += 1
    title, phrase = target_title(v), counts_phrase(counts)
    if len(title) + 2 + len(phrase) <= out.width:
        out.line(out.paint(title, "bold") + "  " + phrase)
    else:  # a long title (report-only, many statuses): the counts go on their own line
        out.line(out.paint(title, "bold"))
        out.line("    " + phrase)
    out.line(out.paint(f"  cluster {v.target.cluster_id}", "dim"))
    out.line(out.paint(f"  vault   {v.target.vault_id}", "dim"))
    for f in ordered(v.findings):
        if f.status not in NOT_PASSING and not show_all:
            continue
        out.line(f"  {out.status(f.status)} {f.check}")
        out.wrapped(f.detail, 10)
        if f.fix and f.status in NOT_PASSING:
            if f.fix.summary:
                out.wrapped(f.fix.summary, 10, first="     fix: ")
            if f.fix.command:
                out.command(f.fix.command, 10)
            if f.fix.doc:
                out.line(" " * 10 + f.fix.doc)
    out.line()


def write_summary(
    out: Writer, tally: Tally, problems: Sequence[str] = (), *, hidden_passing: int = 0
) -> None:
    s = tally.as_dict()
    if hidden_passing:
        out.line(
            out.paint(
                f"{hidden_passing} target(s) pass every check and are not listed (--all lists them).", "dim"
            )
        )
    out.line(
        f"{s['targets']} targets, {s['failing_targets']} failing; checks: {s['fail']} fail, "
        f"{s['unknown']} unknown, {s['warn']} warn, {s['pass']} pass"
    )
    for problem in problems:
        out.wrapped(problem, 2, first=out.paint("could not list: ", "magenta"))


def write_table(
    stream: IO[str],
    verifications: Sequence[Verification],
    problems: Sequence[str] = (),
    *,
    show_all: bool = False,
) -> None:
    report = StreamedReport(stream, "table", show_all=show_all)
    for v in verifications:
        report.add(v)
    report.close(problems)
