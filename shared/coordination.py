"""Coordination rows in ``<prefix>Work``: event debounce markers and the scan registry.

Debounce: the first event for a target inserts a marker (insert fails with 409 if one exists)
and enqueues one verification delayed by ``GUARD_DEBOUNCE_SECONDS``; later events for the same
target find the marker and are coalesced. The worker clears the marker *before* it reads ARM,
so an event that arrives while it works causes one more verification. A marker older than the
window plus a grace period (a worker that died) is taken over with an ETag-conditional update.

Scans: the timer registers each scan (expected target count, digest deadline); the digest is
sent once, when the last target finishes or at the deadline, whichever comes first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.ledger import keys
from shared.model import Target

log = logging.getLogger(__name__)

_PENDING = "pending~"
_SCANS = "scan"
STALE_GRACE = timedelta(minutes=10)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ScanInfo:
    scan_id: str
    started: datetime
    deadline: datetime
    expected: int
    digest_sent: bool


class WorkTable:
    """Thread-safe wrapper over the ``<prefix>Work`` table client."""

    def __init__(self, table: Any) -> None:
        self.table = table

    # -- debounce -----------------------------------------------------------------------------

    def claim(self, target: Target, *, window_seconds: float, now: datetime | None = None) -> bool:
        """True when the caller should enqueue a verification for ``target``; False: coalesced."""
        now = now or _now()
        entity = {
            "PartitionKey": _PENDING + keys.encode(target.subscription_id),
            "RowKey": keys.encode(target.key),
            "TargetKey": target.key,
            "Due": now + timedelta(seconds=window_seconds),
        }
        try:
            self.table.create_entity(entity)
            return True
        except ResourceExistsError:
            pass
        try:
            existing = self.table.get_entity(entity["PartitionKey"], entity["RowKey"])
        except ResourceNotFoundError:  # cleared in between: try once more
            try:
                self.table.create_entity(entity)
                return True
            except ResourceExistsError:
                return False
        due = existing.get("Due")
        if isinstance(due, datetime) and due + STALE_GRACE < now:
            try:
                self.table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=existing.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                log.warning("took over a stale verification marker", extra={"target": target.key})
                return True
            except (ResourceModifiedError, ResourceNotFoundError):
                return False
        return False

    def release(self, target: Target) -> None:
        """Clear the target's marker (the worker does this before reading ARM)."""
        try:
            self.table.delete_entity(_PENDING + keys.encode(target.subscription_id), keys.encode(target.key))
        except ResourceNotFoundError:
            pass

    # -- scans ----------------------------------------------------------------------------------

    def register_scan(
        self, scan_id: str, *, expected: int, deadline: datetime, now: datetime | None = None
    ) -> None:
        self.table.upsert_entity(
            {
                "PartitionKey": _SCANS,
                "RowKey": keys.encode(scan_id),
                "ScanId": scan_id,
                "Started": now or _now(),
                "Deadline": deadline,
                "Expected": expected,
                "DigestSent": False,
            }
        )

    def open_scans(self) -> list[ScanInfo]:
        rows = self.table.query_entities(
            "PartitionKey eq @pk and DigestSent eq false", parameters={"pk": _SCANS}
        )
        return [
            ScanInfo(
                str(r["ScanId"]),
                r["Started"],
                r["Deadline"],
                int(r.get("Expected") or 0),
                bool(r["DigestSent"]),
            )
            for r in rows
        ]

    def mark_digest_sent(self, scan_id: str) -> None:
        self.table.update_entity(
            {"PartitionKey": _SCANS, "RowKey": keys.encode(scan_id), "DigestSent": True},
            mode=UpdateMode.MERGE,
        )
