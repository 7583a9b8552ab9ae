"""The HTML report built from the ledger (what ``GET /api/report`` serves): the current state of
every recorded target, and for each target with drift its most recent history rows."""

from __future__ import annotations

import io
from typing import Any

from shared.model import Finding, Status
from shared.report.html import HistoryLine, HtmlWriter

HISTORY_ROWS = 10


def render_ledger_page(ledger: Any, *, history_rows: int = HISTORY_ROWS) -> str:
    """Read-only: lists the current rows, and the history of targets that do not pass."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        states = ledger.list_current()
    except ResourceNotFoundError:
        states = []  # the tables do not exist yet: nothing recorded
    buffer = io.StringIO()
    page = HtmlWriter(buffer, source="the Guard's ledger (GET /api/report)")
    counts = {str(s): 0 for s in Status}
    failing_targets = 0
    for state in sorted(states, key=lambda s: s.target_key):
        findings = [Finding(c.check, c.status, c.detail, c.fix) for c in state.checks.values()]
        for f in findings:
            counts[str(f.status)] += 1
        failing_targets += any(f.status is Status.FAIL for f in findings)
        history: list[HistoryLine] = []
        if state.failing:
            history = [
                HistoryLine(h.at, h.type, h.check, h.summary)
                for h in reversed(ledger.history(state.target_key, limit=history_rows))
            ]
        page.add_target(state.cluster_id, state.vault_id, state.kind, findings, history)
    page.close({"targets": len(states), "failing_targets": failing_targets, **counts})
    return buffer.getvalue()
