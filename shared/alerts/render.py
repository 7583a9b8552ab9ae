"""Render alerts as a Teams Adaptive Card 1.4 (in the Workflows webhook envelope), text and HTML.

An :class:`AlertGroup` is one target's transitions from one ledger commit (the "transition
batch"); a digest is many groups. Rendering is pure and uses only :class:`Transition` fields
(``detail``, ``fix``, outcomes) and the ids, so it does not depend on the check catalog.

Teams rejects messages above 28 KB: :func:`teams_payloads` builds one card per group and splits
the list of items over several messages (``part i/n``) when the JSON would exceed
``MAX_TEAMS_BYTES``; a single item that is still too large has its text shortened.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shared import ids
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
    return f"{portal_url.rstrip('/')}/#@/resource{resource_id}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _transition_items(t: Transition, limit: int) -> list[dict[str, object]]:
    mark = _MARK.get(str(t.current), "")
    items: list[dict[str, object]] = [
        {
            "type": "TextBlock",
            "text": f"{mark} **{t.check}**: {KIND_TEXT[t.kind]} ({t.previous or 'new'} \u2192 {t.current})",
            "wrap": True,
            "weight": "Bolder",
            "color": _COLOR[t.severity],
            "spacing": "Medium",
        },
        {"type": "TextBlock", "text": _shorten(t.detail, limit), "wrap": True, "isSubtle": True},
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
            {"type": "TextBlock", "text": f"**Fix:** {_shorten(t.fix.summary, limit)}", "wrap": True}
        )
        if t.fix.command:
            items.append(
                {
                    "type": "TextBlock",
                    "text": _shorten(t.fix.command, limit),
                    "wrap": True,
                    "fontType": "Monospace",
                }
            )
        if t.fix.doc:
            items.append({"type": "TextBlock", "text": f"[Documentation]({t.fix.doc})", "wrap": True})
    for o in t.outcomes:
        reason = f" ({_shorten(o.reason, limit)})" if o.reason else ""
        items.append(
            {
                "type": "TextBlock",
                "text": f"**Action {o.result}:** {_shorten(o.description, limit)}{reason}",
                "wrap": True,
            }
        )
    return items


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


def _size(payload: object) -> int:
    return len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


Block = list[dict[str, object]]


def _split(
    make: Callable[[list[Block], str], dict[str, object]], blocks: Sequence[Block]
) -> list[dict[str, object]]:
    """Pack ``blocks`` into as few payloads as fit ``MAX_TEAMS_BYTES``; ``make(blocks, part)`` builds one."""
    payloads: list[list[Block]] = [[]]
    for block in blocks:
        trial = [*payloads[-1], block]
        if payloads[-1] and _size(make(trial, "")) > MAX_TEAMS_BYTES:
            payloads.append([block])
        else:
            payloads[-1] = trial
    n = len(payloads)
    return [make(p, f" (part {i}/{n})" if n > 1 else "") for i, p in enumerate(payloads, 1)]


def group_facts(group: AlertGroup) -> list[dict[str, str]]:
    facts = [
        {"title": "Cluster", "value": group.cluster_name},
        {"title": "Vault", "value": group.vault_name},
        {"title": "Subscription", "value": group.subscription_id},
    ]
    if group.trigger:
        facts.append({"title": "Trigger", "value": group.trigger})
    if group.at:
        facts.append({"title": "When", "value": group.at})
    return facts


def teams_payloads(group: AlertGroup, *, portal_url: str) -> list[dict[str, object]]:
    """One or more Workflows webhook bodies for one transition batch."""
    failing = sum(1 for t in group.transitions if str(t.current) in ("fail", "warn"))
    title = f"AKS backup drift on {group.cluster_name}: {len(group.transitions)} change(s), {failing} failing"
    links = [
        ("Open cluster in portal", portal_link(portal_url, group.cluster_id)),
        ("Open vault in portal", portal_link(portal_url, group.vault_id)),
    ]
    limit = 2000
    while True:
        blocks = [_transition_items(t, limit) for t in group.transitions]

        def make(part_blocks: list[list[dict[str, object]]], part: str) -> dict[str, object]:
            body = [item for b in part_blocks for item in b]
            return envelope(_card(title + part, group_facts(group), body, links))

        payloads = _split(make, blocks)
        if all(_size(p) <= MAX_TEAMS_BYTES for p in payloads) or limit < 100:
            return payloads
        limit //= 2


def digest_payloads(
    scan_id: str, groups: Sequence[AlertGroup], *, portal_url: str
) -> list[dict[str, object]]:
    """Workflows webhook bodies summarising every change of one scan (split above 28 KB)."""
    counts: dict[str, int] = {}
    for g in groups:
        for t in g.transitions:
            counts[KIND_TEXT[t.kind]] = counts.get(KIND_TEXT[t.kind], 0) + 1
    facts = [{"title": "Scan", "value": scan_id}, {"title": "Targets changed", "value": str(len(groups))}]
    facts += [{"title": k, "value": str(v)} for k, v in sorted(counts.items())]
    blocks = []
    for g in groups:
        lines = [
            f"{_MARK.get(str(t.current), '')} {t.check}: {KIND_TEXT[t.kind]}"
            + (f" \u2014 fix: {_shorten(t.fix.summary, 300)}" if t.fix and str(t.current) != "pass" else "")
            for t in g.transitions
        ]
        blocks.append(
            [
                {
                    "type": "TextBlock",
                    "text": f"**[{g.cluster_name}]({portal_link(portal_url, g.cluster_id)})** "
                    f"(vault {g.vault_name}, subscription {g.subscription_id})",
                    "wrap": True,
                    "spacing": "Medium",
                },
                {"type": "TextBlock", "text": "\n\n".join(lines), "wrap": True},
            ]
        )

    def make(part_blocks: list[list[dict[str, object]]], part: str) -> dict[str, object]:
        body = [item for b in part_blocks for item in b]
        return envelope(_card(f"AKS Backup Guard scan digest{part}", facts, body, []))

    return _split(make, blocks)


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
        for t in g.transitions:
            out += _text_lines(t)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def html_body(groups: Sequence[AlertGroup], *, portal_url: str, heading: str = "") -> str:
    e = html.escape
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
        for t in g.transitions:
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
                if t.fix.doc:
                    item += f'<a href="{e(t.fix.doc)}">Documentation</a>'
            for o in t.outcomes:
                item += f"<br><b>Action {e(o.result)}:</b> {e(o.description)}" + (
                    f" ({e(o.reason)})" if o.reason else ""
                )
            parts.append(item + "</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "".join(parts)
