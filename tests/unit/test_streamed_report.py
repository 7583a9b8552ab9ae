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
    snapshot = b.healthy(**changes)
    return Verification(snapshot.target, snapshot, tuple(evaluate(snapshot)))


def streamed(verifications: list[Verification], fmt: str = "json", problems: tuple[str, ...] = ()) -> str:
    out = io.StringIO()
    report = StreamedReport(out, fmt)
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


def test_streamed_table_names_every_target_and_the_totals() -> None:
    text = streamed(
        [verification(), verification(cluster=replace(b.cluster(), disk_csi_enabled=False))], "table"
    )
    assert text.count("aks-prod ->") == 2
    assert "2 targets, 1 failing" in text
