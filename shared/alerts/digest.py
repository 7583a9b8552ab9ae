"""The per-scan digest: one message summarising every change of one scheduled scan.

:func:`enqueue_digest` reads the scan's changes from the ledger (one partition query: the ledger
writes a ``scan~<id>`` row for every target that changed during the scan), keeps transitions at
or above the minimum severity, and, only when something is left, inserts one outbox row
(``PartitionKey='digest'``, ``RowKey`` = the encoded scan id) that the drain delivers like any
alert. The digest's heading carries the backup health line over every target the ledger holds
(:mod:`shared.backup_health`: "N backup instances: x backing up, y failing (causes), z not yet
run"). Insert-only: calling it twice for a scan queues one digest. Call it once the scan's
reconciles are done (the timer run that started the scan can call it on its next tick).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError

from shared.alerts import render
from shared.alerts.channels import Message
from shared.backup_health import CHECK, BackupHealth, summarize
from shared.ledger import keys
from shared.ledger.ledger import OUTBOX_DIGEST_PARTITION, Ledger
from shared.ledger.transitions import Transition

logger = logging.getLogger(__name__)

MAX_DIGEST_TARGETS = 200
_CHUNK = 30_000


def enqueue_digest(ledger: Ledger, scan_id: str, *, now: datetime | None = None) -> bool:
    """Queue the digest of ``scan_id``; False (nothing queued) when the scan changed nothing
    at or above the minimum severity. Safe to repeat."""
    now = now or datetime.now(UTC)
    groups: list[dict[str, Any]] = []
    for change in ledger.scan_changes(scan_id):
        kept = [t for t in change.transitions if t.severity.rank >= ledger.min_severity.rank]
        if kept:
            groups.append(
                {
                    "target_key": change.target_key,
                    "cluster_id": change.cluster_id,
                    "vault_id": change.vault_id,
                    "transitions": [t.to_dict() for t in kept],
                }
            )
    if not groups:
        logger.info("digest: scan %s changed nothing, no digest", scan_id, extra={"scan_id": scan_id})
        return False
    omitted = max(0, len(groups) - MAX_DIGEST_TARGETS)
    health = backup_health_of(ledger)
    text = json.dumps(
        {"groups": groups[:MAX_DIGEST_TARGETS], "omitted": omitted, "backups": health.to_dict()},
        separators=(",", ":"),
    )
    parts = [text[i : i + _CHUNK] for i in range(0, len(text), _CHUNK)]
    row: dict[str, Any] = {
        "PartitionKey": OUTBOX_DIGEST_PARTITION,
        "RowKey": keys.encode(scan_id, max_length=400),
        "State": "pending",
        "Attempts": 0,
        "NextAttempt": now,
        "At": now,
        "ScanId": scan_id,
        "DataParts": len(parts),
        **{f"Data{i}": p for i, p in enumerate(parts)},
    }
    try:
        ledger.outbox.create_entity(row)
    except ResourceExistsError:
        return True
    logger.info("digest: queued for scan %s (%s target(s))", scan_id, len(groups), extra={"scan_id": scan_id})
    return True


def backup_health_of(ledger: Ledger) -> BackupHealth:
    """Backup health over every target the ledger holds (their ``backup.recent-jobs`` state)."""
    rows = []
    for state in ledger.list_current():
        check = state.checks.get(CHECK)
        if check is not None:
            rows.append((state.cluster_id, check.status, check.detail))
    return summarize(rows)


def digest_message(scan_id: str, data: Any, *, portal_url: str) -> Message:
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
    if omitted:
        heading += f" (and {omitted} more target(s) not listed)"
    backups = data.get("backups") if isinstance(data, dict) else None
    if isinstance(backups, dict) and backups.get("line"):
        heading += f". Backups: {backups['line']}"
    return Message(
        subject=f"[AKS Backup Guard] Scan digest: {changes} change(s) on {len(groups)} target(s)",
        text=render.text_body(groups, portal_url=portal_url, heading=heading),
        html=render.html_body(groups, portal_url=portal_url, heading=heading),
        teams=render.digest_payloads(scan_id, groups, portal_url=portal_url),
    )
