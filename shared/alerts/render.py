"""Render alerts as a Teams Adaptive Card 1.4 (in the Workflows webhook envelope), text and HTML.

An :class:`AlertGroup` is one target's transitions (from one alert group or one scan); a
message is one or many targets: an event group (all targets of one vault, say) or a scan's
digest. Rendering is pure and uses only :class:`Transition` fields (``detail``, ``fix``,
outcomes) and the ids, so it does not depend on the check catalog.

- **One message, always under the Teams limit** (about 28 KB): :func:`teams_payloads` returns
  exactly one Workflows body. Targets are ordered worst first; as many as fit get full detail,
  the next ones one line each, and the rest are counted ("and N more"), with a link to the full
  HTML report when ``GUARD_REPORT_URL`` is set.
- **Inhibition**: each target's transitions are arranged by :func:`shared.alerts.inhibition.arrange`:
  a root cause shows the checks that cannot hold because of it under it.
- **Escaping**: every value from a tag, an id or an ARM message goes through
  :func:`shared.alerts.escape.md` (cards) or :func:`shared.alerts.escape.h` (HTML); links are
  only ones we build (portal links with the id percent-encoded, the check's documentation).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shared import ids
from shared.alerts.escape import h, md, url_path
from shared.alerts.inhibition import Item, arrange
from shared.ledger.transitions import Severity, Transition, TransitionKind

MAX_TEAMS_BYTES = 27 * 1024  # 28 KB limit, with room for the envelope and encoding differences

KIND_TEXT = {
    TransitionKind.NEW_FAILURE: "New failure",
    TransitionKind.FIXED: "Fixed by the Guard",
    TransitionKind.RECOVERED: "Recovered on its own",
    TransitionKind.REMEDIATION_FAILED: "Remediation failed",
    TransitionKind.BECAME_UNKNOWN: "Became unknown",
    TransitionKind.BACK_TO_KNOWN: "Back to known",
    TransitionKind.STILL_FAILING: "Still failing (reminder)",
    TransitionKind.NO_LONGER_GUARDED: "No longer guarded",
}
_MARK = {
    "fail": "\u274c",
    "warn": "\u26a0\ufe0f",
    "unknown": "\u2754",
    "pass": "\u2705",
    "not-applicable": "\u2705",
}
_COLOR = {Severity.FAIL: "Attention", Severity.WARN: "Warning", Severity.INFO: "Good"}


@dataclass(frozen=True)
class AlertGroup:
    target_key: str
    cluster_id: str
    vault_id: str
    transitions: tuple[Transition, ...]
    trigger: str = ""  # "event evt-1", "scan 2026-11-26T10:00Z", "cli alice"
    at: str = ""

    @property
    def cluster_name(self) -> str:
        return ids.name_of(self.cluster_id)

    @property
    def vault_name(self) -> str:
        return ids.name_of(self.vault_id)

    @property
    def subscription_id(self) -> str:
        try:
            return ids.subscription_of(self.cluster_id)
        except ValueError:
            return ""

    @property
    def severity(self) -> Severity:
        return max((t.severity for t in self.transitions), key=lambda s: s.rank, default=Severity.INFO)


def portal_link(portal_url: str, resource_id: str) -> str:
    return f"{portal_url.rstrip('/')}/#@/resource{url_path(resource_id)}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _failing(group: AlertGroup) -> int:
    """Checks still failing at the end of the group: a drift the Guard fixed in the same group
    (new failure, then fixed) is a change, not a failing check."""
    latest: dict[str, Transition] = {}
    # Outbox order is not time order; within one instant a drift precedes its fix (one batch).
    for t in sorted(group.transitions, key=lambda t: (t.last_seen, str(t.current) not in ("fail", "warn"))):
        latest[t.check] = t
    return sum(1 for t in latest.values() if str(t.current) in ("fail", "warn"))


def worst_first(groups: Sequence[AlertGroup]) -> list[AlertGroup]:
    """Targets ordered by severity, then by failing checks, then by cluster name."""
    return sorted(
        groups, key=lambda g: (-g.severity.rank, -_failing(g), g.cluster_name.lower(), g.target_key)
    )


def _transition_items(t: Transition, limit: int) -> list[dict[str, object]]:
    mark = _MARK.get(str(t.current), "")
    items: list[dict[str, object]] = [
        {
            "type": "TextBlock",
            "text": f"{mark} **{md(t.check)}**: {KIND_TEXT[t.kind]} "
            f"({t.previous or 'new'} \u2192 {t.current})",
            "wrap": True,
            "weight": "Bolder",
            "color": _COLOR[t.severity],
            "spacing": "Medium",
        },
        {"type": "TextBlock", "text": md(_shorten(t.detail, limit)) or "-", "wrap": True, "isSubtle": True},
        {
            "type": "FactSet",
            "facts": [
                {"title": "First seen", "value": t.first_seen.strftime("%Y-%m-%d %H:%M UTC")},
                {"title": "Last seen", "value": t.last_seen.strftime("%Y-%m-%d %H:%M UTC")},
                {"title": "Failure count", "value": str(t.count)},
            ],
        },
    ]
    if t.fix and t.current in ("fail", "warn", "unknown"):
        items.append(
            {"type": "TextBlock", "text": f"**Fix:** {md(_shorten(t.fix.summary, limit))}", "wrap": True}
        )
        if t.fix.command:
            items.append(
                {
                    "type": "TextBlock",
                    "text": md(_shorten(t.fix.command, limit)),
                    "wrap": True,
                    "fontType": "Monospace",
                }
            )
        if t.fix.doc and t.fix.doc.lower().startswith("https://"):
            items.append(
                {"type": "TextBlock", "text": f"[Documentation]({url_path_keep(t.fix.doc)})", "wrap": True}
            )
    for o in t.outcomes:
        reason = f" ({md(_shorten(o.reason, limit))})" if o.reason else ""
        items.append(
            {
                "type": "TextBlock",
                "text": f"**Action {md(o.result)}:** {md(_shorten(o.description, limit))}{reason}",
                "wrap": True,
            }
        )
    return items


def url_path_keep(url: str) -> str:
    """A URL we put in a markdown link: characters that would end the link are percent-encoded."""
    return (
        url.replace("(", "%28")
        .replace(")", "%29")
        .replace(" ", "%20")
        .replace("<", "%3C")
        .replace(">", "%3E")
    )


def _item_blocks(item: Item, limit: int) -> list[dict[str, object]]:
    blocks = _transition_items(item.transition, limit)
    if item.dependents:
        names = ", ".join(md(d.check) for d in item.dependents)
        blocks.insert(
            1,
            {
                "type": "TextBlock",
                "text": f"**Root cause: {md(item.cause)}.** Because of it, {len(item.dependents)} more "
                f"check(s) cannot hold (not alerted separately): {names}",
                "wrap": True,
            },
        )
    return blocks


def _card(
    title: str, facts: list[dict[str, str]], body: list[dict[str, object]], links: list[tuple[str, str]]
) -> dict:
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": [
            {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "FactSet", "facts": facts},
            *body,
        ],
        "actions": [{"type": "Action.OpenUrl", "title": t, "url": u} for t, u in links],
    }


def envelope(card: dict[str, object]) -> dict[str, object]:
    """The Workflows webhook body carrying one Adaptive Card."""
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def payload_size(payload: object) -> int:
    """Bytes of ``payload`` as :class:`shared.alerts.teams.TeamsChannel` sends it."""
    return len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


_size = payload_size
Block = list[dict[str, object]]


def _target_heading(g: AlertGroup, portal_url: str) -> dict[str, object]:
    return {
        "type": "TextBlock",
        "text": f"**[{md(g.cluster_name)}]({portal_link(portal_url, g.cluster_id)})** "
        f"(vault {md(g.vault_name)}, subscription {md(g.subscription_id)})",
        "wrap": True,
        "spacing": "Large",
        "separator": True,
    }


def _chunks(g: AlertGroup, portal_url: str, limit: int) -> list[Block]:
    """A target's blocks: its heading, then one chunk per arranged item (cause + dependents)."""
    return [[_target_heading(g, portal_url)], *(_item_blocks(i, limit) for i in arrange(g.transitions))]


def _cost(blocks: Block) -> int:
    return sum(_size(b) + 1 for b in blocks)


def _line(g: AlertGroup) -> str:
    worst = max(g.transitions, key=lambda t: (t.severity.rank, t.check)) if g.transitions else None
    what = f"{md(worst.check)}: {KIND_TEXT[worst.kind]}" if worst else ""
    mark = _MARK.get(str(worst.current), "") if worst else ""
    return f"{mark} {md(g.cluster_name)} (vault {md(g.vault_name)}): {len(g.transitions)} change(s); {what}"


def fit(
    make: Callable[[Block], dict[str, object]],
    groups: Sequence[AlertGroup],
    *,
    portal_url: str,
    report_url: str | None,
    detail_limit: int = 2000,
    hidden: int = 0,
) -> dict[str, object]:
    """One payload of at most ``MAX_TEAMS_BYTES``: full blocks, then one-line targets, then a count."""
    ordered = worst_first(groups)
    budget = MAX_TEAMS_BYTES - 600  # room for the closing line
    used = _size(make([]))
    body: Block = []
    shown = 0
    limit = detail_limit
    for g in ordered:
        chunks = _chunks(g, portal_url, limit)
        cost = sum(_cost(c) for c in chunks)
        if used + cost > budget and shown == 0:
            # the worst target alone is too big: shorter texts, and as many of its items as fit
            limit = min(limit, 300)
            chunks = _chunks(g, portal_url, limit)
            room = budget - used - 400
            taken = 0
            for chunk in chunks:
                if _cost(chunk) > room:
                    break
                body += chunk
                room -= _cost(chunk)
                used += _cost(chunk)
                taken += 1
            left = len(chunks) - taken
            if left:
                body.append(
                    {
                        "type": "TextBlock",
                        "text": f"\u2026 and {left} more item(s) on this cluster",
                        "wrap": True,
                    }
                )
            shown = 1
            continue
        if used + cost > budget:
            break
        body += [b for c in chunks for b in c]
        used += cost
        shown += 1
    lines: list[str] = []
    for g in ordered[shown:]:
        text = _line(g)
        cost = len(text.encode("utf-8")) + 4
        if used + cost > budget:
            break
        lines.append(text)
        used += cost
    if lines:
        body.append(
            {
                "type": "TextBlock",
                "text": "\n\n".join(lines),
                "wrap": True,
                "spacing": "Large",
                "separator": True,
            }
        )
    rest = len(ordered) - shown - len(lines) + hidden
    if rest:
        more = f"\u2026 and {rest} more target(s) not shown"
        more += ": see the full report." if report_url else "; run `aks-backup-guard drift` for all of them."
        body.append({"type": "TextBlock", "text": more, "wrap": True, "isSubtle": True})
    payload = make(body)
    while _size(payload) > MAX_TEAMS_BYTES and body:  # the estimate was short: drop from the end
        body = body[:-1]
        payload = make(body)
    return payload


def group_facts(group: AlertGroup) -> list[dict[str, str]]:
    facts = [
        {"title": "Cluster", "value": md(group.cluster_name)},
        {"title": "Vault", "value": md(group.vault_name)},
        {"title": "Subscription", "value": md(group.subscription_id)},
    ]
    if group.trigger:
        facts.append({"title": "Trigger", "value": md(group.trigger)})
    if group.at:
        facts.append({"title": "When", "value": group.at})
    return facts


def teams_payloads(
    groups: Sequence[AlertGroup], *, portal_url: str, report_url: str | None = None
) -> list[dict[str, object]]:
    """The one Workflows webhook body for an alert group (one or many targets)."""
    groups = list(groups)
    changes = sum(len(g.transitions) for g in groups)
    failing = sum(_failing(g) for g in groups)
    links: list[tuple[str, str]] = []
    if len(groups) == 1:
        g = groups[0]
        title = f"AKS backup drift on {md(g.cluster_name)}: {changes} change(s), {failing} failing"
        facts = group_facts(g)
        links.append(("Open cluster in portal", portal_link(portal_url, g.cluster_id)))
    else:
        vaults = sorted({g.vault_name for g in groups})
        where = f"vault {md(vaults[0])}" if len(vaults) == 1 else f"{len(vaults)} vaults"
        title = (
            f"AKS backup drift on {len(groups)} clusters ({where}): {changes} change(s), {failing} failing"
        )
        facts = [
            {"title": "Clusters", "value": str(len(groups))},
            {"title": "Changes", "value": str(changes)},
        ]
        trigger = groups[0].trigger
        if trigger:
            facts.append({"title": "Trigger", "value": md(trigger)})
    vault_ids = sorted({g.vault_id for g in groups})
    if len(vault_ids) == 1:
        links.append(("Open vault in portal", portal_link(portal_url, vault_ids[0])))
    if report_url:
        links.append(("Open the full report", report_url))

    def make(body: Block) -> dict[str, object]:
        return envelope(_card(title, facts, body, links))

    return [fit(make, groups, portal_url=portal_url, report_url=report_url)]


def digest_payloads(
    scan_id: str,
    groups: Sequence[AlertGroup],
    *,
    portal_url: str,
    report_url: str | None = None,
    omitted: int = 0,
    backups: str = "",
) -> list[dict[str, object]]:
    """The one Workflows webhook body summarising a scan's changes (worst targets first); ``backups``
    is the backup health line ("N backup instances: x backing up, y failing (causes), z not yet run"),
    shown as the card's "Backups" fact when given."""
    counts: dict[str, int] = {}
    for g in groups:
        for t in g.transitions:
            counts[KIND_TEXT[t.kind]] = counts.get(KIND_TEXT[t.kind], 0) + 1
    facts = [
        {"title": "Scan", "value": md(scan_id)},
        {"title": "Targets changed", "value": str(len(groups) + omitted)},
    ]
    if backups:
        facts.append({"title": "Backups", "value": md(backups)})
    facts += [{"title": k, "value": str(v)} for k, v in sorted(counts.items())]
    links = [("Open the full report", report_url)] if report_url else []

    def make(body: Block) -> dict[str, object]:
        return envelope(_card("AKS Backup Guard scan digest", facts, body, links))

    return [fit(make, groups, portal_url=portal_url, report_url=report_url, hidden=omitted)]


def group_subject(groups: Sequence[AlertGroup]) -> str:
    severity = max((g.severity for g in groups), key=lambda s: s.rank, default=Severity.INFO)
    vaults = sorted({g.vault_name for g in groups})
    where = f"vault {vaults[0]}" if len(vaults) == 1 else f"{len(vaults)} vaults"
    changes = sum(len(g.transitions) for g in groups)
    return (
        f"[AKS Backup Guard] {str(severity).upper()}: {len(groups)} clusters ({where}) "
        f"\u2014 {changes} change(s)"
    )


def subject(group: AlertGroup) -> str:
    return (
        f"[AKS Backup Guard] {str(group.severity).upper()}: {group.cluster_name} \u2014 "
        f"{len(group.transitions)} change(s)"
    )


def _text_lines(t: Transition) -> list[str]:
    lines = [
        f"* {t.check}: {KIND_TEXT[t.kind]} ({t.previous or 'new'} -> {t.current})",
        f"  {t.detail}",
        f"  first seen {t.first_seen:%Y-%m-%d %H:%M} UTC, last seen {t.last_seen:%Y-%m-%d %H:%M} UTC, "
        f"failures {t.count}",
    ]
    if t.fix and str(t.current) in ("fail", "warn", "unknown"):
        lines.append(f"  Fix: {t.fix.summary}")
        if t.fix.command:
            lines.append(f"    {t.fix.command}")
        if t.fix.doc:
            lines.append(f"  Docs: {t.fix.doc}")
    for o in t.outcomes:
        lines.append(f"  Action {o.result}: {o.description}" + (f" ({o.reason})" if o.reason else ""))
    return lines


def text_body(groups: Sequence[AlertGroup], *, portal_url: str, heading: str = "") -> str:
    out = [heading] if heading else []
    for g in groups:
        out += [
            f"Cluster: {g.cluster_name}  ({portal_link(portal_url, g.cluster_id)})",
            f"Vault: {g.vault_name}  ({portal_link(portal_url, g.vault_id)})",
            f"Subscription: {g.subscription_id}",
        ]
        if g.trigger:
            out.append(f"Trigger: {g.trigger}")
        out.append("")
        for item in arrange(g.transitions):
            out += _text_lines(item.transition)
            if item.dependents:
                out.append(
                    f"  Root cause: {item.cause}. Because of it these checks cannot hold (not alerted "
                    f"separately): {', '.join(d.check for d in item.dependents)}"
                )
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def html_body(groups: Sequence[AlertGroup], *, portal_url: str, heading: str = "") -> str:
    e = h
    parts = ['<html><body style="font-family:Segoe UI,Arial,sans-serif">']
    if heading:
        parts.append(f"<h2>{e(heading)}</h2>")
    for g in groups:
        parts.append(
            f"<h3>{e(g.cluster_name)}</h3><table>"
            f'<tr><th align=left>Cluster</th><td><a href="{e(portal_link(portal_url, g.cluster_id))}">'
            f"{e(g.cluster_id)}</a></td></tr>"
            f'<tr><th align=left>Vault</th><td><a href="{e(portal_link(portal_url, g.vault_id))}">'
            f"{e(g.vault_id)}</a></td></tr>"
            f"<tr><th align=left>Subscription</th><td>{e(g.subscription_id)}</td></tr>"
            + (f"<tr><th align=left>Trigger</th><td>{e(g.trigger)}</td></tr>" if g.trigger else "")
            + "</table><ul>"
        )
        for arranged in arrange(g.transitions):
            t = arranged.transition
            item = (
                f"<li><b>{e(t.check)}</b>: {e(KIND_TEXT[t.kind])} ({e(str(t.previous or 'new'))} &rarr; "
                f"{e(str(t.current))})<br>{e(t.detail)}<br>"
                f"<small>first seen {t.first_seen:%Y-%m-%d %H:%M} UTC, "
                f"last seen {t.last_seen:%Y-%m-%d %H:%M} UTC, failures {t.count}</small>"
            )
            if t.fix and str(t.current) in ("fail", "warn", "unknown"):
                item += f"<br><b>Fix:</b> {e(t.fix.summary)}"
                if t.fix.command:
                    item += f"<pre>{e(t.fix.command)}</pre>"
                if t.fix.doc and t.fix.doc.lower().startswith("https://"):
                    item += f'<a href="{e(t.fix.doc)}">Documentation</a>'
            for o in t.outcomes:
                item += f"<br><b>Action {e(o.result)}:</b> {e(o.description)}" + (
                    f" ({e(o.reason)})" if o.reason else ""
                )
            if arranged.dependents:
                item += (
                    f"<br><b>Root cause: {e(arranged.cause)}.</b> Because of it these checks cannot hold "
                    f"(not alerted separately): {e(', '.join(d.check for d in arranged.dependents))}"
                )
            parts.append(item + "</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "".join(parts)
