"""The streamed check report is the same JSON document as the all-at-once one."""

from __future__ import annotations

import io
import json
from dataclasses import replace

from shared.checks import evaluate
from shared.cli.render import StreamedReport, report_dict
from shared.verification import Verification
from tests.unit import builders as b


def verification(**changes: object) -> Verification:
    """A target's verification; the builders' cross-subscription storage warning is left out, so the
    healthy one passes every check it reports."""
    snapshot = b.healthy(**changes)
    findings = tuple(f for f in evaluate(snapshot) if f.check != "storage.account-supported")
    return Verification(snapshot.target, snapshot, findings)


def streamed(
    verifications: list[Verification],
    fmt: str = "json",
    problems: tuple[str, ...] = (),
    *,
    show_all: bool = False,
) -> str:
    out = io.StringIO()
    report = StreamedReport(out, fmt, show_all=show_all)
    for v in verifications:
        report.add(v)
    report.close(problems)
    return out.getvalue()


def test_streamed_json_equals_the_whole_report() -> None:
    healthy = verification()
    broken = verification(cluster=replace(b.cluster(), disk_csi_enabled=False))
    for items in ([], [healthy], [healthy, broken]):
        problems = ("subscription x: HTTP 403",) if items else ()
        assert json.loads(streamed(items, problems=problems)) == report_dict(items, problems)


def test_streamed_table_lists_what_does_not_pass_and_the_totals() -> None:
    pair = [verification(), verification(cluster=replace(b.cluster(), disk_csi_enabled=False))]
    text = streamed(pair, "table")
    assert text.count("aks-prod ->") == 1  # the healthy target is counted, not listed
    assert "1 target(s) pass every check" in text
    assert "  FAIL    cluster.disk-csi-driver" in text
    assert not [line for line in text.splitlines() if line.startswith(("  pass", "  n/a"))]
    assert text.splitlines()[-1].startswith("2 targets, 1 failing")
    everything = streamed(pair, "table", show_all=True)
    assert everything.count("aks-prod ->") == 2 and "pass    cluster.identity" in everything
