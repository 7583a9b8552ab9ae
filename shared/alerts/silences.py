"""Silences: "do not send alerts about this target (and check) until then", with who and why.

A silence is a row in the ledger's history table, partition ``_silences``, RowKey = its id
(``sil-`` + 12 hex). It matches an alert when the alert's target key, cluster id or vault id
equals the silence's ``target`` (ids compared case-insensitively) and, when the silence names a
check, the check is the same. While it is active (``starts <= now < ends`` and not expired by
hand):

- the outbox does not send a matching transition: it marks the alert row ``silenced`` and writes
  an ``s~`` history row on the target ("alert silenced by sil-...: <reason> (<author>)"), so
  ``aks-backup-guard drift --history`` shows it; the transition itself is recorded as always;
- a scan's digest leaves matching transitions out, with the same history row.

When a silence ends (its time is up, or ``silence expire``), the next drain re-alerts every
check it matches that is still failing, once: one ``still-failing`` alert per (silence, target,
check), with a deterministic id so a repeated sweep queues nothing twice; then the silence is
marked ``swept``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableEntity, UpdateMode

from shared import ids
from shared.ledger import keys
from shared.ledger.ledger import OUTBOX_ALERT_PARTITION, Ledger, json_properties
from shared.ledger.transitions import Transition, TransitionKind, status_severity
from shared.model import Status

SILENCE_PARTITION = "_silences"


@dataclass(frozen=True)
class Silence:
    id: str
    target: str  # a target key, a cluster id or a vault id (normalised)
    check: str  # '' = every check
    author: str
    reason: str
    starts: datetime
    ends: datetime
    expired_at: datetime | None = None  # ended by hand before ``ends``
    swept: bool = False  # the end-of-silence re-alert has been queued

    @property
    def until(self) -> datetime:
        return min(self.ends, self.expired_at) if self.expired_at else self.ends

    def active(self, now: datetime) -> bool:
        return self.starts <= now < self.until

    def matches(self, target_key: str, cluster_id: str, vault_id: str, check: str) -> bool:
        if self.check and self.check != check:
            return False
        wanted = self.target.lower()
        return wanted in (target_key.lower(), ids.normalize(cluster_id), ids.normalize(vault_id))

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "target": self.target,
            "check": self.check or None,
            "author": self.author,
            "reason": self.reason,
            "starts": self.starts.isoformat(),
            "ends": self.until.isoformat(),
            "expired_by_hand": self.expired_at is not None,
        }


def normalize_target(value: str) -> str:
    """A target key (``<cluster id>|<vault id>``), a cluster id or a vault id, normalised.
    Raises ValueError for anything else."""
    value = value.strip()
    parts = value.split("|")
    if len(parts) > 2 or not all(p.strip() for p in parts):
        raise ValueError(f"not a target key or resource id: {value!r}")
    for part in parts:
        ids.subscription_of(part.strip())  # raises ValueError
        if not ids.name_of(part.strip()):
            raise ValueError(f"not a resource id: {part!r}")
    return "|".join(ids.normalize(p.strip()) for p in parts)


class Silences:
    """Reads and writes silences in the ledger (see the module doc). Thread-safe; cheap to build."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.table = ledger.history_table

    def add(
        self,
        target: str,
        *,
        duration: timedelta,
        reason: str,
        author: str,
        check: str = "",
        now: datetime | None = None,
    ) -> Silence:
        """Store a new silence; ``target`` as for :func:`normalize_target` (raises ValueError)."""
        if duration <= timedelta(0):
            raise ValueError("a silence must last a positive time")
        if not reason.strip():
            raise ValueError("a silence needs a reason")
        now = now or datetime.now(UTC)
        silence = Silence(
            id="sil-" + uuid.uuid4().hex[:12],
            target=normalize_target(target),
            check=check.strip(),
            author=author.strip() or "unknown",
            reason=reason.strip()[:1000],
            starts=now,
            ends=now + duration,
        )
        self.table.create_entity(
            {
                "PartitionKey": SILENCE_PARTITION,
                "RowKey": silence.id,
                "Target": silence.target,
                "Check": silence.check,
                "Author": silence.author,
                "Reason": silence.reason,
                "Starts": silence.starts,
                "Ends": silence.ends,
                "Swept": False,
            }
        )
        return silence

    def all(self) -> list[Silence]:
        """Every silence, active or not, newest first."""
        try:
            rows = list(
                self.table.query_entities("PartitionKey eq @pk", parameters={"pk": SILENCE_PARTITION})
            )
        except ResourceNotFoundError:
            return []
        return sorted((self._from_row(r) for r in rows), key=lambda s: s.starts, reverse=True)

    def active(self, now: datetime) -> list[Silence]:
        return [s for s in self.all() if s.active(now)]

    def expire(self, silence_id: str, *, now: datetime | None = None) -> Silence | None:
        """End a silence now (None if there is no such silence). Its re-alert follows at the next drain."""
        now = now or datetime.now(UTC)
        try:
            row = self.table.get_entity(SILENCE_PARTITION, silence_id)
        except ResourceNotFoundError:
            return None
        silence = self._from_row(row)
        if silence.until <= now:
            return silence
        self.table.update_entity(
            {"PartitionKey": SILENCE_PARTITION, "RowKey": silence_id, "ExpiredAt": now}, mode=UpdateMode.MERGE
        )
        return self._from_row(self.table.get_entity(SILENCE_PARTITION, silence_id))

    def record_suppressed(
        self, silence: Silence, row: TableEntity | dict[str, Any], transition: Transition, now: datetime
    ) -> None:
        """The ``s~`` history row telling that ``transition``'s alert was not sent because of ``silence``."""
        self.ledger.add_history(
            str(row["TargetKey"]),
            f"s~{transition.id}",
            {
                "Type": "alert-silenced",
                "At": now,
                "Check": transition.check,
                "Summary": f"alert silenced by {silence.id} until {silence.until:%Y-%m-%d %H:%M} UTC: "
                f"{silence.reason} ({silence.author})",
                **correlation(row),
                **json_properties("Data", {"transition_id": transition.id, "silence_id": silence.id}),
            },
        )

    def sweep(self, *, now: datetime) -> int:
        """Queue the one re-alert of every ended, unswept silence (see the module doc). Returns the
        number of alerts queued."""
        queued = 0
        for silence in self.all():
            if silence.swept or silence.until > now:
                continue
            queued += self._realert(silence, now)
            try:
                self.table.update_entity(
                    {"PartitionKey": SILENCE_PARTITION, "RowKey": silence.id, "Swept": True},
                    mode=UpdateMode.MERGE,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                pass
        return queued

    def _realert(self, silence: Silence, now: datetime) -> int:
        first = silence.target.split("|", 1)[0]
        states = self.ledger.list_current(subscription_id=ids.subscription_of(first))
        queued = 0
        for state in states:
            for check in state.checks.values():
                if check.status not in (Status.FAIL, Status.WARN):
                    continue
                if not silence.matches(state.target_key, state.cluster_id, state.vault_id, check.check):
                    continue
                basis = f"{silence.id}\n{state.target_key}\n{check.check}"
                tid = hashlib.sha256(basis.encode()).hexdigest()[:32]
                transition = Transition(
                    id=tid,
                    target_key=state.target_key,
                    check=check.check,
                    kind=TransitionKind.STILL_FAILING,
                    previous=check.status,
                    current=check.status,
                    detail=f"{check.detail} (still failing after silence {silence.id} ended)",
                    fix=check.fix,
                    first_seen=check.fail_since or check.since,
                    last_seen=check.last_seen,
                    count=check.fail_count,
                )
                if self._queue(
                    state.target_key, state.cluster_id, state.vault_id, state.owner, transition, now
                ):
                    queued += 1
        return queued

    def _queue(
        self, target_key: str, cluster_id: str, vault_id: str, owner: str, t: Transition, now: datetime
    ) -> bool:
        from azure.core.exceptions import ResourceExistsError

        try:
            self.ledger.outbox.create_entity(
                {
                    "PartitionKey": OUTBOX_ALERT_PARTITION,
                    "RowKey": t.id,
                    "State": "pending",
                    "Via": "alert",
                    "Attempts": 0,
                    "NextAttempt": now,
                    "Severity": str(status_severity(t.current)),
                    "HistoryPartition": keys.encode(target_key),
                    "TargetKey": target_key,
                    "ClusterId": cluster_id,
                    "VaultId": vault_id,
                    "At": now,
                    "Batch": "",
                    "TriggerKind": "silence-ended",
                    "TriggerId": "",
                    "TriggerDetail": "",
                    "ScanId": "",
                    "Owner": owner,
                    **json_properties("Data", t.to_dict()),
                }
            )
        except ResourceExistsError:
            return False
        return True

    @staticmethod
    def _from_row(row: TableEntity) -> Silence:
        return Silence(
            id=str(row["RowKey"]),
            target=str(row.get("Target") or ""),
            check=str(row.get("Check") or ""),
            author=str(row.get("Author") or ""),
            reason=str(row.get("Reason") or ""),
            starts=row["Starts"],
            ends=row["Ends"],
            expired_at=row.get("ExpiredAt"),
            swept=bool(row.get("Swept")),
        )


def correlation(row: Mapping[str, Any]) -> dict[str, str]:
    """The ids an outbox row carries that a history row about it repeats (target, batch, trigger)."""
    keys_ = ("TargetKey", "ClusterId", "VaultId", "Batch", "TriggerKind", "TriggerId", "ScanId")
    return {k: str(row.get(k) or "") for k in keys_}


def matching(
    silences: Sequence[Silence] | Iterable[Silence], row: TableEntity | dict[str, Any], check: str
) -> Silence | None:
    """The first active silence (already filtered by time) matching an outbox/scan row's target and check."""
    for silence in silences:
        if silence.matches(
            str(row.get("TargetKey") or ""),
            str(row.get("ClusterId") or ""),
            str(row.get("VaultId") or ""),
            check,
        ):
            return silence
    return None
