"""The per-scan digest: one message per receiver summarising every change of one scheduled scan.

A scheduled scan's transitions reach people only here (the ledger marks their outbox rows
``Via='digest'``, for per-transition channels only). :func:`enqueue_digest` reads the scan's
changes from the ledger (one partition query: the ledger writes a ``scan~<id>`` row for every
target that changed during the scan), keeps transitions at or above the minimum severity and not
under an active silence (those get an ``s~`` history row instead), routes each target to its
receiver, and inserts one outbox row per receiver that has something
(``PartitionKey='digest'``, ``RowKey`` = enc(scan id) + ``~`` + receiver), worst targets first.
Each digest's heading also carries the backup health line over every target the ledger holds
(:mod:`shared.backup_health`: "N backup instances: x backing up, y failing (causes), z not yet
run"). Insert-only: calling it twice for a scan queues each digest once. Call it once the scan's
reconciles are done (the timer run that started the scan can call it on its next tick).

Rendering keeps one Teams message under the size limit whatever the estate
(:func:`shared.alerts.render.digest_payloads`: worst targets in full, then one line each, then
a count and the report link).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError

from shared.alerts import render
from shared.alerts.channels import Message
from shared.alerts.routes import DEFAULT_RECEIVER
from shared.alerts.silences import Silences, matching
from shared.backup_health import CHECK, BackupHealth, summarize
from shared.ledger import keys
from shared.ledger.ledger import OUTBOX_DIGEST_PARTITION, Ledger
from shared.ledger.transitions import Transition

logger = logging.getLogger(__name__)

MAX_DIGEST_TARGETS = 200
_CHUNK = 30_000


def enqueue_digest(
    ledger: Ledger,
    scan_id: str,
    *,
    receiver_for: Callable[[str, str, str], str] | None = None,
    now: datetime | None = None,
) -> bool:
    """Queue the digests of ``scan_id`` (one per receiver, see the module doc); False when the scan
    changed nothing worth telling. ``receiver_for(cluster_id, vault_id, owner)`` routes a target
    (None: everything to ``default``). Safe to repeat."""
    now = now or datetime.now(UTC)
    silences = Silences(ledger)
    active = silences.active(now)
    by_receiver: dict[str, list[dict[str, Any]]] = {}
    for change in ledger.scan_changes(scan_id):
        row = {"TargetKey": change.target_key, "ClusterId": change.cluster_id, "VaultId": change.vault_id}
        kept = []
        for t in change.transitions:
            if t.severity.rank < ledger.min_severity.rank:
                continue
            hit = matching(active, row, t.check)
            if hit is not None:
                silences.record_suppressed(hit, {**row, "ScanId": scan_id, "TriggerKind": "scan"}, t, now)
                continue
            kept.append(t)
        if not kept:
            continue
        receiver = (
            receiver_for(change.cluster_id, change.vault_id, change.owner)
            if receiver_for
            else DEFAULT_RECEIVER
        )
        by_receiver.setdefault(receiver, []).append(
            {
                "target_key": change.target_key,
                "cluster_id": change.cluster_id,
                "vault_id": change.vault_id,
                "rank": max(t.severity.rank for t in kept),
                "failing": sum(1 for t in kept if str(t.current) in ("fail", "warn")),
                "transitions": [t.to_dict() for t in kept],
            }
        )
    if not by_receiver:
        logger.info("digest: scan %s changed nothing, no digest", scan_id, extra={"scan_id": scan_id})
        return False
    health = backup_health_of(ledger)
    for receiver, groups in sorted(by_receiver.items()):
        groups.sort(key=lambda g: (-g["rank"], -g["failing"], g["target_key"]))
        _insert(ledger, scan_id, receiver, groups, now, health)
    return True


def _insert(
    ledger: Ledger,
    scan_id: str,
    receiver: str,
    groups: list[dict[str, Any]],
    now: datetime,
    health: BackupHealth,
) -> None:
    omitted = max(0, len(groups) - MAX_DIGEST_TARGETS)
    text = json.dumps(
        {"groups": groups[:MAX_DIGEST_TARGETS], "omitted": omitted, "backups": health.to_dict()},
        separators=(",", ":"),
    )
    parts = [text[i : i + _CHUNK] for i in range(0, len(text), _CHUNK)]
    row: dict[str, Any] = {
        "PartitionKey": OUTBOX_DIGEST_PARTITION,
        "RowKey": keys.encode(scan_id, max_length=300) + "~" + keys.encode(receiver, max_length=100),
        "State": "pending",
        "Attempts": 0,
        "NextAttempt": now,
        "At": now,
        "ScanId": scan_id,
        "Receiver": receiver,
        "DataParts": len(parts),
        **{f"Data{i}": p for i, p in enumerate(parts)},
    }
    try:
        ledger.outbox.create_entity(row)
    except ResourceExistsError:
        return
    logger.info(
        "digest: queued for scan %s to %s (%s target(s))",
        scan_id,
        receiver,
        len(groups),
        extra={"scan_id": scan_id},
    )


def backup_health_of(ledger: Ledger) -> BackupHealth:
    """Backup health over every target the ledger holds (their ``backup.recent-jobs`` state)."""
    rows = []
    for state in ledger.list_current():
        check = state.checks.get(CHECK)
        if check is not None:
            rows.append((state.cluster_id, check.status, check.detail))
    return summarize(rows)


def digest_message(scan_id: str, data: Any, *, portal_url: str, report_url: str | None = None) -> Message:
    """Render a digest row's data (as written by :func:`enqueue_digest`)."""
    raw_groups: Sequence[dict[str, Any]] = data.get("groups", []) if isinstance(data, dict) else []
    omitted = int(data.get("omitted", 0)) if isinstance(data, dict) else 0
    groups = [
        render.AlertGroup(
            target_key=str(g["target_key"]),
            cluster_id=str(g["cluster_id"]),
            vault_id=str(g["vault_id"]),
            transitions=tuple(Transition.from_dict(t) for t in g["transitions"]),
        )
        for g in raw_groups
    ]
    changes = sum(len(g.transitions) for g in groups)
    heading = f"AKS Backup Guard scan {scan_id}: {changes} change(s) on {len(groups)} target(s)"
    if report_url:
        heading += f"; full report: {report_url}"
    if omitted:
        heading += f" (and {omitted} more target(s) not listed)"
    backups = data.get("backups") if isinstance(data, dict) else None
    line = str(backups["line"]) if isinstance(backups, dict) and backups.get("line") else ""
    if line:
        heading += f". Backups: {line}"
    return Message(
        subject=f"[AKS Backup Guard] Scan digest: {changes} change(s) on {len(groups)} target(s)",
        text=render.text_body(groups, portal_url=portal_url, heading=heading),
        html=render.html_body(groups, portal_url=portal_url, heading=heading),
        teams=render.digest_payloads(
            scan_id, groups, portal_url=portal_url, report_url=report_url, omitted=omitted, backups=line
        ),
    )
