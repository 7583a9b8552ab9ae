"""A self-contained HTML report: one file, no external assets, works offline.

A matrix of targets (rows) by check groups (columns, the catalog's families), each cell
coloured by the worst status in that group; filters by status and by subscription; under each
target that does not pass, its failing/unknown/warning findings with the detail and the fix
command in a copyable block; when the report comes from the ledger (the Function App's
``GET /api/report``), the target's recent history.

Used by ``aks-backup-guard check --format html`` (written one target at a time) and by
:mod:`handlers.http`. Every value from Azure (names, ids, details, tags) is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import IO

from shared import catalog, ids
from shared.model import Finding, Status
from shared.verification import Verification

_RANK = {Status.FAIL: 0, Status.UNKNOWN: 1, Status.WARN: 2, Status.PASS: 3, Status.NOT_APPLICABLE: 4}
_SYMBOL = {
    Status.FAIL: "\u2717",
    Status.UNKNOWN: "?",
    Status.WARN: "!",
    Status.PASS: "\u2713",
    Status.NOT_APPLICABLE: "\u2013",
}
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(spec.family for spec in catalog.CHECKS.values()))
"""The matrix columns: the check families in catalog order."""


def group_of(check_id: str) -> str:
    spec = catalog.CHECKS.get(check_id)
    return spec.family if spec else "other"


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    kind: str
    check: str
    summary: str


_CSS = """
:root{--fail:#c62828;--unknown:#8e24aa;--warn:#ef6c00;--pass:#2e7d32;--na:#9e9e9e;font-family:system-ui,
-apple-system,"Segoe UI",Roboto,sans-serif;font-size:14px;color:#212121}
body{margin:1.5rem}h1{font-size:1.4rem;margin:0 0 .3rem}.meta{color:#616161;margin-bottom:1rem}
.filters{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;padding:.6rem;background:#f5f5f5;
border-radius:6px;margin-bottom:1rem}.filters label{cursor:pointer}
table.matrix{border-collapse:collapse;width:100%}
.matrix th,.matrix td{border:1px solid #e0e0e0;padding:.3rem .45rem;text-align:center;vertical-align:top}
.matrix th.target,.matrix td.target{text-align:left;white-space:nowrap}
.matrix thead th{background:#fafafa;position:sticky;top:0}
td.cell{font-weight:600;color:#fff;min-width:2.2rem}
.s-fail{background:var(--fail)}.s-unknown{background:var(--unknown)}.s-warn{background:var(--warn)}
.s-pass{background:var(--pass)}.s-not-applicable{background:#eeeeee;color:#757575!important}
.s-none{background:#fff}
tr.findings td{text-align:left;background:#fcfcfc}
.finding{margin:.4rem 0 .8rem;padding-left:.6rem;border-left:4px solid var(--na)}
.finding.fail{border-color:var(--fail)}.finding.unknown{border-color:var(--unknown)}
.finding.warn{border-color:var(--warn)}
.badge{display:inline-block;padding:0 .4rem;border-radius:3px;color:#fff;font-size:.8rem;font-weight:600}
.badge.fail{background:var(--fail)}.badge.unknown{background:var(--unknown)}.badge.warn{background:var(--warn)}
code.check{font-weight:600}.detail{margin:.2rem 0}
.fix pre{background:#263238;color:#eceff1;padding:.5rem;border-radius:4px;white-space:pre-wrap;
word-break:break-all;margin:.2rem 0;user-select:all}
button.copy{font-size:.8rem;cursor:pointer}.ids{color:#757575;font-size:.8rem}
details.history{margin-top:.4rem}details.history li{margin:.1rem 0}
.summary{margin-top:1rem}.problems{color:var(--unknown)}.hidden{display:none}
"""

_SCRIPT = """
(function(){
  var rows=Array.prototype.slice.call(document.querySelectorAll('tbody.target'));
  var subSel=document.getElementById('subscription');
  var subs={};rows.forEach(function(r){subs[r.dataset.subscription]=1;});
  Object.keys(subs).sort().forEach(function(s){
    var o=document.createElement('option');o.value=s;o.textContent=s;subSel.appendChild(o);});
  var boxes=Array.prototype.slice.call(document.querySelectorAll('input.status-filter'));
  function apply(){
    var on={};boxes.forEach(function(b){if(b.checked){on[b.value]=1;}});
    var sub=subSel.value,shown=0;
    rows.forEach(function(r){
      var visible=!!on[r.dataset.status]&&(sub===''||r.dataset.subscription===sub);
      r.classList.toggle('hidden',!visible);if(visible){shown++;}
    });
    document.getElementById('shown').textContent=shown;
  }
  boxes.forEach(function(b){b.addEventListener('change',apply);});
  subSel.addEventListener('change',apply);
  document.querySelectorAll('button.copy').forEach(function(btn){
    btn.addEventListener('click',function(){
      var text=btn.parentNode.querySelector('pre').textContent;
      function done(){btn.textContent='Copied';setTimeout(function(){btn.textContent='Copy';},1500);}
      if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(text).then(done,function(){});}
      else{var r=document.createRange();r.selectNodeContents(btn.parentNode.querySelector('pre'));
        var s=window.getSelection();s.removeAllRanges();s.addRange(r);
        try{document.execCommand('copy');done();}catch(e){}}
    });
  });
  apply();
})();
"""


def _worst(statuses: Iterable[Status]) -> Status | None:
    return min(statuses, key=lambda s: _RANK[s], default=None)


class HtmlWriter:
    """Writes the page to ``stream`` one target at a time; :meth:`close` ends it."""

    def __init__(self, stream: IO[str], *, source: str, generated: datetime | None = None) -> None:
        self.stream = stream
        when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
        head = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width,initial-scale=1">',
            "<title>AKS Backup Guard report</title>",
            f"<style>{_CSS}</style></head><body>",
            "<h1>AKS Backup Guard: backup readiness</h1>",
            f'<div class="meta">Generated {escape(when)} by {escape(source)}. '
            'Targets shown: <span id="shown">0</span>.</div>',
            '<div class="filters" role="group" aria-label="filters"><strong>Status</strong>',
        ]
        for status in (Status.FAIL, Status.UNKNOWN, Status.WARN, Status.PASS):
            head.append(
                f'<label><input type="checkbox" class="status-filter" value="{status}" checked> '
                f"{escape(str(status))}</label>"
            )
        head += [
            '<label><strong>Subscription</strong> <select id="subscription">'
            '<option value="">all</option></select></label></div>',
            '<table class="matrix"><thead><tr><th class="target">cluster \u2192 vault</th>',
            *(f'<th scope="col" data-group="{escape(g)}">{escape(g)}</th>' for g in GROUPS),
            "</tr></thead>",
        ]
        stream.write("\n".join(head) + "\n")

    def add(self, v: Verification, history: Sequence[HistoryLine] = ()) -> None:
        self.add_target(
            v.target.cluster_id, v.target.vault_id, v.target.kind, v.findings, history, v.snapshot.opt_out
        )

    def add_target(
        self,
        cluster_id: str,
        vault_id: str,
        kind: str,
        findings: Sequence[Finding],
        history: Sequence[HistoryLine] = (),
        opt_out: str = "none",
    ) -> None:
        worst = _worst(f.status for f in findings) or Status.NOT_APPLICABLE
        row_status = "pass" if worst is Status.NOT_APPLICABLE else str(worst)
        sub = ids.subscription_of(cluster_id) if ids.is_shaped(cluster_id, "cluster") else ""
        title = f"{ids.name_of(cluster_id)} \u2192 {ids.name_of(vault_id)}"
        marks = f" ({escape(kind)}{', report-only' if opt_out == 'report-only' else ''})"
        out = [
            f'<tbody class="target" data-status="{row_status}" data-subscription="{escape(sub)}" '
            f'data-cluster="{escape(cluster_id)}" data-vault="{escape(vault_id)}">',
            f'<tr class="row"><td class="target"><strong>{escape(title)}</strong>{marks}</td>',
        ]
        for group in GROUPS:
            in_group = [f for f in findings if group_of(f.check) == group]
            cell = _worst(f.status for f in in_group)
            if cell is None:
                out.append(f'<td class="cell s-none" data-group="{escape(group)}" data-status="none"></td>')
                continue
            bad = [f for f in in_group if f.status not in (Status.PASS, Status.NOT_APPLICABLE)]
            label = f"{_SYMBOL[cell]}{' ' + str(len(bad)) if bad else ''}"
            # a tooltip naming the checks that do not pass (none on passing cells: the page of a
            # large estate stays small)
            tip = f' title="{escape("; ".join(f"{f.check}: {f.status}" for f in bad))}"' if bad else ""
            out.append(
                f'<td class="cell s-{cell}" data-group="{escape(group)}" data-status="{cell}"{tip}>'
                f"{escape(label)}</td>"
            )
        out.append("</tr>")
        shown = sorted(
            (f for f in findings if f.status in (Status.FAIL, Status.UNKNOWN, Status.WARN)),
            key=lambda f: _RANK[f.status],
        )
        if shown or history:
            out.append(f'<tr class="findings"><td colspan="{len(GROUPS) + 1}">')
            out.append(f'<div class="ids">cluster {escape(cluster_id)}<br>vault {escape(vault_id)}</div>')
            out.extend(_finding_html(f) for f in shown)
            if history:
                out.append(f'<details class="history"><summary>Recent history ({len(history)})</summary><ul>')
                out.extend(
                    f"<li>{escape(h.at.strftime('%Y-%m-%d %H:%M'))} {escape(h.kind)} "
                    f"<code>{escape(h.check)}</code>: {escape(h.summary)}</li>"
                    for h in history
                )
                out.append("</ul></details>")
            out.append("</td></tr>")
        out.append("</tbody>")
        self.stream.write("\n".join(out) + "\n")

    def close(self, summary: dict[str, int], problems: Sequence[str] = ()) -> None:
        tail = [
            "</table>",
            '<p class="summary">'
            + escape(
                f"{summary.get('targets', 0)} targets, {summary.get('failing_targets', 0)} failing; checks: "
                f"{summary.get('fail', 0)} fail, {summary.get('unknown', 0)} unknown, "
                f"{summary.get('warn', 0)} warn, {summary.get('pass', 0)} pass"
            )
            + "</p>",
            *(f'<p class="problems">could not list: {escape(p)}</p>' for p in problems),
            f"<script>{_SCRIPT}</script>",
            "</body></html>",
        ]
        self.stream.write("\n".join(tail) + "\n")


def _finding_html(f: Finding) -> str:
    parts = [
        f'<div class="finding {f.status}" data-check="{escape(f.check)}">',
        f'<span class="badge {f.status}">{escape(str(f.status))}</span> '
        f'<code class="check">{escape(f.check)}</code>',
        f'<div class="detail">{escape(f.detail)}</div>',
    ]
    if f.fix is not None:
        parts.append('<div class="fix">')
        if f.fix.summary:
            parts.append(f"<div>Fix: {escape(f.fix.summary)}</div>")
        if f.fix.command:
            parts.append(
                f"<pre><code>{escape(f.fix.command)}</code></pre>"
                '<button type="button" class="copy">Copy</button>'
            )
        if f.fix.doc and f.fix.doc.startswith("https://"):
            parts.append(f' <a href="{escape(f.fix.doc)}" rel="noopener">docs</a>')
        parts.append("</div>")
    parts.append("</div>")
    return "\n".join(parts)
