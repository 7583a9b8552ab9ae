"""The drift ledger in Azure Table Storage.

Tables (``<prefix>`` is ``GUARD_TABLE_PREFIX``, default ``guard``):

================  ==========================  ================================  =========================
table             PartitionKey                RowKey                            one row is
================  ==========================  ================================  =========================
<prefix>Current   enc(subscription id)        enc(Target.key)                   a target: its current
                                                                                finding per check, its
                                                                                last-seen heartbeat
<prefix>History   enc(Target.key)             ``t~<transition id>``             a transition
                                              ``a~<action hash>``               an action and its outcome
                                              ``n~<alert id>`` / ``d~...``      an alert delivered / dead
                  ``scan~`` + enc(scan id)    enc(Target.key)[:400]~<batch>     a target that changed in
                                                                                a scan (for the digest)
<prefix>Index     enc(scope subscription)     enc(scope)[:480]~<target hash>    a scope a target depends on
                  ``_targets``                enc(Target.key)                   a target's indexed scopes
<prefix>Outbox    ``alert`` / ``digest``      transition id / ``digest~...``    an alert to deliver
================  ==========================  ================================  =========================

``enc`` is :func:`shared.ledger.keys.encode`; every row also keeps the original ids as properties.

**One row per target holds the current finding of every check** (JSON in ``State*`` properties,
chunked below the 64 KiB string limit). That makes "read-modify-write with ETags" a single
conditional entity update, which Azure *and* Azurite enforce (Azurite ignores If-Match inside
batch transactions), and makes reading a target's state one point read.

**record() protocol** (safe to repeat, safe to run concurrently for the same target):

1. read the target row (with its ETag); if it carries a ``Pending`` journal left by a writer that
   died, roll it forward first (step 4);
2. diff the stored states against the findings (:mod:`transitions`, pure);
3. nothing changed and no outcomes: **no write** (the scan heartbeat is written separately);
   otherwise replace the row *conditionally* (If-Match, or insert-only for a new target) with the
   new states **and a journal** of the transitions, outcomes and trigger. A 412/409 means another
   worker won: re-read and diff again, so nothing is lost and nothing is recorded twice;
4. write the journal out: history rows (one transaction per target partition), the changed-in-scan
   row, outbox rows (insert-only: a row already delivered is never re-created), then clear the
   journal with If-Match.

Ids are deterministic (transition ids hash the previous state), so a crash at any point is
repaired by the next record() or :meth:`Ledger.recover_pending`, with each history row and alert
written exactly once. History and alerts are written only after the state change won its
conditional write, so a worker that lost a race leaves no phantom rows.

**Cost**: an unchanged evaluation writes nothing; a scan adds one ``LastSeen`` heartbeat per target,
merged in batch transactions of up to 100 rows of one subscription partition (:class:`ScanSession`).
Reads: one point read per target, or one partition query per subscription with
:meth:`ScanSession.preload`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, TableServiceClient, TableTransactionError, UpdateMode

from shared import ids
from shared.errors import GuardError
from shared.ledger import keys
from shared.ledger.transitions import (
    CheckState,
    Diff,
    Severity,
    Transition,
    TransitionKind,
    diff,
    status_severity,
    transition_id,
)
from shared.model import Finding, Outcome, Status, Target, Trigger
from shared.settings import Settings

logger = logging.getLogger(__name__)

_CHUNK = 30_000  # characters per string property (Table limit: 64 KiB of UTF-16)
_BATCH = 100
_MAX_ATTEMPTS = 12
OUTBOX_ALERT_PARTITION = "alert"
OUTBOX_DIGEST_PARTITION = "digest"
_MANIFEST_PARTITION = "_targets"
RETIRED_CHECK = "target"
"""The check id a ``no-longer-guarded`` transition carries: it is about the whole target."""
_TENANT_PARTITION = "_tenant"


class LedgerConflictError(GuardError):
    """record() kept losing the ETag race (extreme contention); safe to retry later."""


@dataclass(frozen=True)
class TableNames:
    current: str
    history: str
    index: str
    outbox: str
    work: str  # coordination rows (debounce markers, scan registry): shared.coordination

    @classmethod
    def from_prefix(cls, prefix: str) -> TableNames:
        return cls(
            f"{prefix}Current", f"{prefix}History", f"{prefix}Index", f"{prefix}Outbox", f"{prefix}Work"
        )


@dataclass(frozen=True)
class RecordResult:
    """What record() did: the transitions it committed, table writes, and ETag conflicts retried."""

    transitions: tuple[Transition, ...]
    writes: int
    conflicts: int = 0
    alerts: int = 0


@dataclass(frozen=True)
class TargetState:
    """A target's row in ``<prefix>Current``."""

    target_key: str
    cluster_id: str
    vault_id: str
    kind: str
    checks: Mapping[str, CheckState]
    last_seen: datetime | None
    last_changed: datetime | None
    last_scan_id: str | None
    owner: str = ""

    @property
    def worst(self) -> Status:
        order = [Status.FAIL, Status.UNKNOWN, Status.WARN, Status.PASS, Status.NOT_APPLICABLE]
        present = {c.status for c in self.checks.values()}
        return next((s for s in order if s in present), Status.NOT_APPLICABLE)

    @property
    def failing(self) -> list[CheckState]:
        return sorted(
            (c for c in self.checks.values() if c.status in (Status.FAIL, Status.WARN, Status.UNKNOWN)),
            key=lambda c: c.check,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "target_key": self.target_key,
            "cluster_id": self.cluster_id,
            "vault_id": self.vault_id,
            "kind": self.kind,
            "worst": str(self.worst),
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "last_changed": self.last_changed.isoformat() if self.last_changed else None,
            "last_scan_id": self.last_scan_id,
            "checks": {k: v.to_dict() for k, v in sorted(self.checks.items())},
        }


@dataclass(frozen=True)
class HistoryEntry:
    """One row of a target's history: ``type`` is transition, action, alert-delivered or alert-dead."""

    type: str
    at: datetime
    check: str
    summary: str
    trigger_kind: str
    trigger_id: str
    scan_id: str | None
    batch: str = ""  # the target's state version that wrote it: orders history exactly
    seq: int = 0  # position within the batch (a drift observed and fixed in one run: 0 then 1)
    data: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "type": self.type,
            "at": self.at.isoformat(),
            "check": self.check,
            "summary": self.summary,
            "trigger": {"kind": self.trigger_kind, "id": self.trigger_id},
            "scan_id": self.scan_id,
            "batch": self.batch,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class IndexedTarget:
    target_key: str
    cluster_id: str
    vault_id: str
    kind: str
    scope: str


@dataclass(frozen=True)
class ScanChange:
    target_key: str
    cluster_id: str
    vault_id: str
    transitions: tuple[Transition, ...]
    owner: str = ""


def _now() -> datetime:
    return datetime.now(UTC)


def json_properties(prefix: str, value: object) -> dict[str, object]:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    parts = [text[i : i + _CHUNK] for i in range(0, len(text), _CHUNK)] or [""]
    out: dict[str, object] = {f"{prefix}{i}": part for i, part in enumerate(parts)}
    out[f"{prefix}Parts"] = len(parts)
    return out


def read_json(entity: Mapping[str, Any], prefix: str) -> Any:
    parts = int(entity.get(f"{prefix}Parts") or 0)
    text = "".join(str(entity.get(f"{prefix}{i}") or "") for i in range(parts))
    return json.loads(text) if text else None


def _chunked(items: Sequence[Any], size: int = _BATCH) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Ledger:
    """Reads and writes the drift ledger. Build once per process; thread-safe (SDK clients are).

    ``min_severity`` filters which transitions get an outbox row; ``renotify_hours`` (0 = never)
    enables still-failing reminders.
    """

    def __init__(
        self,
        service: TableServiceClient,
        *,
        prefix: str = "guard",
        min_severity: str = "warn",
        renotify_hours: float = 24.0,
    ) -> None:
        self.service = service
        self.names = TableNames.from_prefix(prefix)
        self.min_severity = Severity(min_severity)
        self.renotify = timedelta(hours=renotify_hours) if renotify_hours > 0 else None
        self.current: TableClient = service.get_table_client(self.names.current)
        self.history_table: TableClient = service.get_table_client(self.names.history)
        self.index: TableClient = service.get_table_client(self.names.index)
        self.outbox: TableClient = service.get_table_client(self.names.outbox)

    @classmethod
    def from_settings(cls, settings: Settings, **client_kwargs: Any) -> Ledger:
        from shared.storage_clients import table_service_client

        return cls(
            table_service_client(settings.storage, **client_kwargs),
            prefix=settings.storage.table_prefix,
            min_severity=settings.alerts.min_severity,
            renotify_hours=settings.alerts.renotify_hours,
        )

    def create_tables(self) -> None:
        """Create the ledger's tables if missing (idempotent)."""
        for name in (
            self.names.current,
            self.names.history,
            self.names.index,
            self.names.outbox,
            self.names.work,
        ):
            self.service.create_table_if_not_exists(name)

    # ------------------------------------------------------------------ record

    def record(
        self,
        target: Target,
        findings: Iterable[Finding],
        *,
        outcomes: Iterable[Outcome] = (),
        observed: Iterable[Finding] = (),
        trigger: Trigger,
        scan_id: str | None = None,
        now: datetime | None = None,
        prefetched: TableEntity | None | Literal[False] = False,
        owner: str = "",
    ) -> RecordResult:
        """Diff ``findings`` against the ledger and write what changed (see the module doc).

        ``owner`` is the owner tag of the cluster (or vault) as read with the findings: stored on
        the alert and scan-change rows for routing and grouping (:mod:`shared.alerts.routes`).

        ``observed`` is what the run saw before it remediated (see :func:`transitions.diff`).
        ``prefetched`` is the target's row as just read by a partition query (None: no row), used
        instead of the first point read (:meth:`ScanSession.preload`); False reads it.
        Safe to repeat and to run concurrently; raises :class:`LedgerConflictError` only after
        many lost ETag races in a row, and azure-core errors for storage failures.
        """
        fixed_now = now
        findings = list(findings)
        observed = list(observed)
        outcomes = tuple(outcomes)
        pk, rk = keys.encode(target.subscription_id), keys.encode(target.key)
        writes = conflicts = 0
        for attempt in range(_MAX_ATTEMPTS):
            now = fixed_now or _now()
            if attempt == 0 and prefetched is not False:
                entity = prefetched
            else:
                entity = self._get(self.current, pk, rk)
            if entity is not None and int(entity.get("PendingParts") or 0):
                writes += self._roll_forward(entity, str(entity.metadata["etag"]))
                entity = self._get(self.current, pk, rk)
            previous = self._states(entity)
            result: Diff = diff(
                target.key,
                previous,
                findings,
                outcomes=outcomes,
                observed=observed,
                now=now,
                renotify=self.renotify,
            )
            if not result.changed and not result.transitions and not outcomes:
                return RecordResult((), writes, conflicts)
            version = int(entity.get("Version") or 0) + 1 if entity else 1
            batch = f"{version:010d}"
            journal = {
                "batch": batch,
                "at": now.isoformat(),
                "trigger": {"kind": trigger.kind, "id": trigger.id, "detail": trigger.detail},
                "scan_id": scan_id,
                "owner": owner,
                "transitions": [t.to_dict() for t in result.transitions],
                "outcomes": [o.to_dict() for o in outcomes],
            }
            row = self._target_row(target, pk, rk, result.states, version, now, scan_id)
            row["Owner"] = owner
            has_journal = bool(result.transitions or outcomes)
            row.update(json_properties("Pending", journal) if has_journal else {"PendingParts": 0})
            try:
                if entity is None:
                    meta = self.current.create_entity(row)
                else:
                    meta = self.current.update_entity(
                        row,
                        mode=UpdateMode.REPLACE,
                        etag=entity.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
            except (ResourceModifiedError, ResourceExistsError):
                conflicts += 1
                logger.debug("ledger: ETag conflict, re-reading", extra={"target_key": target.key})
                continue
            writes += 1
            if has_journal:
                writes += self._roll_forward(row, str(meta["etag"]))
            alerts = sum(1 for t in result.transitions if self._alerts(t))
            logger.info(
                "ledger: recorded %s transition(s) for %s",
                len(result.transitions),
                target.key,
                extra={"target_key": target.key, "scan_id": scan_id, "trigger_id": trigger.id},
            )
            return RecordResult(result.transitions, writes, conflicts, alerts)
        raise LedgerConflictError(
            f"ledger: gave up recording {target.key} after {_MAX_ATTEMPTS} ETag conflicts"
        )

    def _alerts(self, transition: Transition) -> bool:
        return transition.severity.rank >= self.min_severity.rank

    def _states(self, entity: Mapping[str, Any] | None) -> dict[str, CheckState]:
        if entity is None:
            return {}
        raw = read_json(entity, "State") or {}
        return {k: CheckState.from_dict(v) for k, v in raw.items()}

    def _target_row(
        self,
        target: Target,
        pk: str,
        rk: str,
        states: Mapping[str, CheckState],
        version: int,
        now: datetime,
        scan_id: str | None,
    ) -> dict[str, Any]:
        row: dict[str, Any] = {
            "PartitionKey": pk,
            "RowKey": rk,
            "TargetKey": target.key,
            "ClusterId": target.cluster_id,
            "VaultId": target.vault_id,
            "Kind": target.kind,
            "BackupInstanceId": target.backup_instance_id or "",
            "Version": version,
            "LastSeen": now,
            "LastChanged": now,
            "LastScanId": scan_id or "",
            "Failing": sum(1 for s in states.values() if s.status in (Status.FAIL, Status.WARN)),
            "Unknown": sum(1 for s in states.values() if s.status is Status.UNKNOWN),
        }
        row.update(json_properties("State", {k: v.to_dict() for k, v in sorted(states.items())}))
        return row

    def _roll_forward(self, entity: Mapping[str, Any], etag: str) -> int:
        """Write out the entity's journal (history, scan change, outbox) and clear it. Idempotent."""
        journal = read_json(entity, "Pending")
        if not journal:
            return 0
        target_key = str(entity["TargetKey"])
        cluster_id, vault_id = str(entity["ClusterId"]), str(entity["VaultId"])
        batch, at = str(journal["batch"]), datetime.fromisoformat(journal["at"])
        trig = journal["trigger"]
        scan_id = journal.get("scan_id")
        transitions = [Transition.from_dict(t) for t in journal["transitions"]]
        common = {
            "TargetKey": target_key,
            "ClusterId": cluster_id,
            "VaultId": vault_id,
            "At": at,
            "Batch": batch,
            "TriggerKind": str(trig["kind"]),
            "TriggerId": str(trig["id"]),
            "TriggerDetail": str(trig.get("detail") or ""),
            "ScanId": scan_id or "",
            "Owner": str(journal.get("owner") or ""),
        }
        hpk = keys.encode(target_key)
        rows: list[dict[str, Any]] = []
        for seq, t in enumerate(transitions):
            rows.append(
                {
                    "PartitionKey": hpk,
                    "RowKey": f"t~{t.id}",
                    "Seq": seq,  # order within the batch (a drift and its fix share one batch)
                    "Type": "transition",
                    "Check": t.check,
                    "Summary": f"{t.kind}: {t.previous or 'none'} -> {t.current}",
                    **common,
                    **json_properties("Data", t.to_dict()),
                }
            )
        for o in journal["outcomes"]:
            digest = hashlib.sha256(
                f"{trig['kind']}\n{trig['id']}\n{batch}\n{o['action']}".encode()
            ).hexdigest()
            rows.append(
                {
                    "PartitionKey": hpk,
                    "RowKey": f"a~{digest[:32]}",
                    "Type": "action",
                    "Check": o["check"],
                    "Summary": f"{o['result']}: {o['description']}",
                    **common,
                    **json_properties("Data", o),
                }
            )
        writes = 0
        for chunk in _chunked(rows):
            self.history_table.submit_transaction(
                [("upsert", r, {"mode": UpdateMode.REPLACE}) for r in chunk]
            )
            writes += 1
        if scan_id and transitions:
            self.history_table.upsert_entity(
                {
                    "PartitionKey": "scan~" + keys.encode(scan_id, max_length=500),
                    "RowKey": keys.encode(target_key, max_length=400) + "~" + batch,
                    "Type": "scan-change",
                    **common,
                    **json_properties("Data", [t.to_dict() for t in transitions]),
                },
                mode=UpdateMode.REPLACE,
            )
            writes += 1
        alerts = [t for t in transitions if self._alerts(t)]
        if alerts:
            writes += self._enqueue(alerts, common, hpk)
        writes += self._clear_journal(entity["PartitionKey"], entity["RowKey"], etag, batch)
        return writes

    def _enqueue(self, alerts: Sequence[Transition], common: Mapping[str, Any], hpk: str) -> int:
        # A scheduled scan's transitions reach people through the scan's digest only; their rows
        # are still queued for per-transition channels (Event Grid), marked ``Via='digest'``.
        via = "digest" if common.get("ScanId") and common.get("TriggerKind") == "scan" else "alert"
        rows = [
            {
                "PartitionKey": OUTBOX_ALERT_PARTITION,
                "RowKey": t.id,
                "State": "pending",
                "Via": via,
                "Attempts": 0,
                "NextAttempt": common["At"],
                "Severity": str(t.severity),
                "HistoryPartition": hpk,
                **common,
                **json_properties("Data", t.to_dict()),
            }
            for t in alerts
        ]
        writes = 0
        for chunk in _chunked(rows):
            try:
                self.outbox.submit_transaction([("create", r) for r in chunk])
                writes += 1
            except TableTransactionError:
                # some rows exist already (a roll-forward ran twice): insert the others one by one,
                # never overwriting a row whose delivery state moved on
                for r in chunk:
                    try:
                        self.outbox.create_entity(r)
                        writes += 1
                    except ResourceExistsError:
                        pass
        return writes

    def _clear_journal(self, pk: str, rk: str, etag: str, batch: str) -> int:
        for _ in range(4):
            cleared = {"PartitionKey": pk, "RowKey": rk, "PendingParts": 0, "Pending0": ""}
            try:
                self.current.update_entity(
                    cleared, mode=UpdateMode.MERGE, etag=etag, match_condition=MatchConditions.IfNotModified
                )
                return 1
            except ResourceModifiedError:
                fresh = self._get(self.current, pk, rk)
                journal = read_json(fresh, "Pending") if fresh is not None else None
                if fresh is None or not journal or journal.get("batch") != batch:
                    return 0  # someone else cleared it, or moved on (after rolling it forward)
                etag = str(fresh.metadata["etag"])
        return 0

    def recover_pending(self) -> int:
        """Roll forward every journal left by a writer that died (one filtered table query)."""
        count = 0
        for entity in self.current.query_entities("PendingParts gt 0"):
            self._roll_forward(entity, str(entity.metadata["etag"]))
            count += 1
        return count

    # ------------------------------------------------------------------ heartbeats

    def scan(self, scan_id: str, *, now: datetime | None = None) -> ScanSession:
        """A context in which record() calls queue one last-seen heartbeat per target (see ScanSession)."""
        return ScanSession(self, scan_id, now=now)

    def heartbeat(self, targets: Iterable[Target], *, scan_id: str, now: datetime | None = None) -> int:
        """Merge ``LastSeen``/``LastScanId`` into each target's row, in batch transactions of up to
        100 rows of one partition. Returns the number of transactions. Never creates a target's state.
        """
        now = now or _now()
        by_partition: dict[str, dict[str, Target]] = {}
        for t in targets:
            by_partition.setdefault(keys.encode(t.subscription_id), {})[keys.encode(t.key)] = t
        transactions = 0
        for pk, rows in by_partition.items():
            for chunk in _chunked(sorted(rows)):
                ops: list[Any] = [
                    (
                        "upsert",
                        {"PartitionKey": pk, "RowKey": rk, "LastSeen": now, "LastScanId": scan_id},
                        {"mode": UpdateMode.MERGE},
                    )
                    for rk in chunk
                ]
                self.current.submit_transaction(ops)
                transactions += 1
        return transactions

    # ------------------------------------------------------------------ reads

    def get_current(self, target_key: str) -> TargetState | None:
        """The current state of one target (by :attr:`Target.key`), or None if never recorded."""
        pk = keys.encode(ids.subscription_of(target_key.split("|", 1)[0]))
        entity = self._get(self.current, pk, keys.encode(target_key))
        return self._target_state(entity) if entity is not None and entity.get("TargetKey") else None

    def list_current(self, *, subscription_id: str | None = None) -> list[TargetState]:
        """Every recorded target (of one subscription: one partition query), sorted by key."""
        if subscription_id:
            pk = keys.encode(subscription_id.lower())
            entities: Iterable[TableEntity] = self.current.query_entities(
                "PartitionKey eq @pk", parameters={"pk": pk}
            )
        else:
            entities = self.current.list_entities()
        states = [self._target_state(e) for e in entities if e.get("TargetKey")]
        return sorted(states, key=lambda s: s.target_key)

    def _target_state(self, entity: TableEntity) -> TargetState:
        return TargetState(
            target_key=str(entity["TargetKey"]),
            cluster_id=str(entity["ClusterId"]),
            vault_id=str(entity["VaultId"]),
            kind=str(entity.get("Kind") or "backup"),
            checks=self._states(entity),
            last_seen=entity.get("LastSeen"),
            last_changed=entity.get("LastChanged"),
            last_scan_id=str(entity.get("LastScanId") or "") or None,
            owner=str(entity.get("Owner") or ""),
        )

    def history(self, target_key: str, *, limit: int | None = None) -> list[HistoryEntry]:
        """A target's history, oldest first (one partition query)."""
        rows = self.history_table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": keys.encode(target_key)}
        )
        entries = [
            HistoryEntry(
                type=str(r.get("Type") or ""),
                at=r["At"],
                check=str(r.get("Check") or ""),
                summary=str(r.get("Summary") or ""),
                trigger_kind=str(r.get("TriggerKind") or ""),
                trigger_id=str(r.get("TriggerId") or ""),
                scan_id=str(r.get("ScanId") or "") or None,
                batch=str(r.get("Batch") or ""),
                data=read_json(r, "Data") or {},
                seq=int(r.get("Seq") or 0),
            )
            for r in rows
        ]
        order = {"transition": 0, "action": 1}
        entries.sort(key=lambda e: (e.batch or "~", e.at, order.get(e.type, 2), e.seq, e.check))
        return entries[-limit:] if limit else entries

    def scan_changes(self, scan_id: str) -> list[ScanChange]:
        """Every target that changed during scan ``scan_id`` (one partition query)."""
        pk = "scan~" + keys.encode(scan_id, max_length=500)
        rows = self.history_table.query_entities("PartitionKey eq @pk", parameters={"pk": pk})
        by_target: dict[str, ScanChange] = {}
        for r in sorted(rows, key=lambda r: r["RowKey"]):
            key = str(r["TargetKey"])
            trans = tuple(Transition.from_dict(t) for t in read_json(r, "Data") or [])
            prev = by_target.get(key)
            merged = (prev.transitions if prev else ()) + trans
            by_target[key] = ScanChange(
                key, str(r["ClusterId"]), str(r["VaultId"]), merged, str(r.get("Owner") or "")
            )
        return [by_target[k] for k in sorted(by_target)]

    def add_history(self, target_key: str, row_key: str, properties: Mapping[str, Any]) -> None:
        """Upsert one extra history row (alert delivered / dead-lettered) into a target's partition."""
        self.history_table.upsert_entity(
            {"PartitionKey": keys.encode(target_key), "RowKey": row_key, **properties},
            mode=UpdateMode.REPLACE,
        )

    @staticmethod
    def _get(table: TableClient, pk: str, rk: str) -> TableEntity | None:
        try:
            return table.get_entity(pk, rk)
        except ResourceNotFoundError:
            return None

    def retire(self, target: Target, reason: str, *, trigger: Trigger, now: datetime | None = None) -> int:
        """The target no longer exists (or no longer consents): record it once and forget it.

        Writes one ``no-longer-guarded`` history row and one outbox alert (both with an id derived
        from the target's current row version, so a repeat writes nothing new), then deletes the
        target's index rows and its current row: events stop routing to it. Safe to repeat; a
        target already gone from the ledger only has its index cleaned. Returns write requests.
        """
        now = now or _now()
        pk, rk = keys.encode(target.subscription_id), keys.encode(target.key)
        entity = self._get(self.current, pk, rk)
        writes = 0
        if entity is not None:
            version = int(entity.get("Version") or 0)
            tid = transition_id(
                target.key, RETIRED_CHECK, TransitionKind.NO_LONGER_GUARDED, Status.NOT_APPLICABLE, None
            )
            tid = hashlib.sha256(f"{tid}\n{version}".encode()).hexdigest()[:32]
            transition = Transition(
                tid,
                target.key,
                RETIRED_CHECK,
                TransitionKind.NO_LONGER_GUARDED,
                None,
                Status.NOT_APPLICABLE,
                f"no longer guarded: {reason}",
                None,
                now,
                now,
                1,
            )
            common = {
                "TargetKey": target.key,
                "ClusterId": target.cluster_id,
                "VaultId": target.vault_id,
                "At": now,
                "Batch": f"{version:010d}-retired",
                "TriggerKind": trigger.kind,
                "TriggerId": trigger.id,
                "TriggerDetail": trigger.detail,
                "ScanId": "",
            }
            hpk = keys.encode(target.key)
            self.history_table.upsert_entity(
                {
                    "PartitionKey": hpk,
                    "RowKey": f"t~{tid}",
                    "Seq": 0,
                    "Type": "transition",
                    "Check": RETIRED_CHECK,
                    "Summary": f"{transition.kind}: {reason}",
                    **common,
                    **json_properties("Data", transition.to_dict()),
                },
                mode=UpdateMode.REPLACE,
            )
            writes += 1
            if self._alerts(transition):
                writes += self._enqueue([transition], common, hpk)
        writes += self.unindex_target(target)
        if entity is not None:
            try:
                self.current.delete_entity(
                    pk, rk, etag=entity.metadata["etag"], match_condition=MatchConditions.IfNotModified
                )
                writes += 1
            except ResourceNotFoundError:
                pass
            except ResourceModifiedError:
                logger.info("ledger: %s changed while retiring; left for the next run", target.key)
        logger.info("ledger: retired %s: %s", target.key, reason, extra={"target_key": target.key})
        return writes

    # ------------------------------------------------------------------ target index

    def unindex_target(self, target: Target) -> int:
        """Delete every index row of ``target`` and its manifest (events stop routing to it)."""
        writes = self.index_target(target, [])
        try:
            self.index.delete_entity(_MANIFEST_PARTITION, keys.encode(target.key))
            writes += 1
        except ResourceNotFoundError:
            pass
        return writes

    def index_target(self, target: Target, scopes: Iterable[str]) -> int:
        """Record the scopes ``target`` depends on (cluster, vault, snapshot RG, storage account...).

        Replaces the target's previous set: rows for scopes no longer listed are deleted. One read,
        and no write when the set is unchanged. Returns the number of write requests.
        """
        wanted = sorted({ids.normalize(s) for s in scopes if s and s.strip()})
        mrk = keys.encode(target.key)
        manifest = self._get(self.index, _MANIFEST_PARTITION, mrk)
        before = set(read_json(manifest, "Scopes") or []) if manifest is not None else set()
        if manifest is not None and before == set(wanted):
            return 0
        thash = keys.short_hash(target.key)
        upserts: dict[str, list[dict[str, Any]]] = {}
        for scope in wanted:
            pk = _scope_partition(scope)
            upserts.setdefault(pk, []).append(
                {
                    "PartitionKey": pk,
                    "RowKey": _scope_row_key(scope, thash),
                    "Scope": scope,
                    "TargetKey": target.key,
                    "ClusterId": target.cluster_id,
                    "VaultId": target.vault_id,
                    "Kind": target.kind,
                }
            )
        deletes: dict[str, list[dict[str, Any]]] = {}
        for scope in sorted(before - set(wanted)):
            pk = _scope_partition(scope)
            deletes.setdefault(pk, []).append({"PartitionKey": pk, "RowKey": _scope_row_key(scope, thash)})
        writes = 0
        for rows in upserts.values():
            for chunk in _chunked(rows):
                self.index.submit_transaction([("upsert", r, {"mode": UpdateMode.REPLACE}) for r in chunk])
                writes += 1
        for _pk, rows in deletes.items():
            for r in rows:
                try:
                    self.index.delete_entity(r["PartitionKey"], r["RowKey"])
                except ResourceNotFoundError:
                    pass
                writes += 1
        self.index.upsert_entity(
            {
                "PartitionKey": _MANIFEST_PARTITION,
                "RowKey": mrk,
                "TargetKey": target.key,
                **json_properties("Scopes", wanted),
            },
            mode=UpdateMode.REPLACE,
        )
        return writes + 1

    def targets_for_scope(self, scope: str) -> list[IndexedTarget]:
        """Targets depending on a scope at, under or above ``scope`` (case-insensitive).

        For a scope inside a subscription: one RowKey range query for the scope and everything
        under it, one small range query per ancestor scope, all in that subscription's partition,
        plus one query of the tenant-level partition. A scope above subscriptions (management group,
        ``/``) reads the whole index.
        """
        s = ids.normalize(scope)
        found: dict[str, IndexedTarget] = {}

        def take(rows: Iterable[TableEntity]) -> None:
            for r in rows:
                rs = str(r.get("Scope") or "")
                if rs and (ids.is_at_or_above(s, rs) or ids.is_at_or_above(rs, s)):
                    key = str(r["TargetKey"])
                    found.setdefault(
                        key, IndexedTarget(key, str(r["ClusterId"]), str(r["VaultId"]), str(r["Kind"]), rs)
                    )

        try:
            sub = ids.subscription_of(s)
        except ValueError:
            take(e for e in self.index.list_entities() if e["PartitionKey"] != _MANIFEST_PARTITION)
            return sorted(found.values(), key=lambda t: t.target_key)
        pk = keys.encode(sub)
        low, high = keys.prefix_range(keys.encode(s, max_length=480))
        take(self._range(pk, low, high))
        segments = s.strip("/").split("/")
        for n in range(2, len(segments), 2):
            ancestor = "/" + "/".join(segments[:n])
            enc = keys.encode(ancestor, max_length=480) + "~"
            take(self._range(pk, enc, enc + "~"))
        take(self.index.query_entities("PartitionKey eq @pk", parameters={"pk": _TENANT_PARTITION}))
        return sorted(found.values(), key=lambda t: t.target_key)

    def _range(self, pk: str, low: str, high: str) -> Iterable[TableEntity]:
        return self.index.query_entities(
            "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
            parameters={"pk": pk, "low": low, "high": high},
        )


def _scope_partition(scope: str) -> str:
    try:
        return keys.encode(ids.subscription_of(scope))
    except ValueError:
        return _TENANT_PARTITION


def _scope_row_key(scope: str, target_hash: str) -> str:
    return keys.encode(scope, max_length=480) + "~" + target_hash


class ScanSession:
    """Scope of one scheduled scan: ``record()`` as on the ledger, plus one heartbeat per target.

    Targets whose state changed already got ``LastSeen`` with their conditional write; the others
    are merged at :meth:`flush` (called on context exit), in transactions of up to 100 rows per
    subscription partition. Use one session per worker; flushing twice is harmless.
    """

    def __init__(self, ledger: Ledger, scan_id: str, *, now: datetime | None = None) -> None:
        self.ledger = ledger
        self.scan_id = scan_id
        self.now = now
        self._unchanged: dict[str, Target] = {}
        self._preloaded: dict[str, dict[str, TableEntity]] = {}
        self.results: list[RecordResult] = []
        self.transactions = 0

    def preload(self, subscription_id: str) -> int:
        """Read every target row of one subscription with one partition query (paged by 1,000), so
        the following record() calls for its targets skip their point reads. Each row is used once,
        for the first attempt only (a conflict re-reads). Returns the number of rows read."""
        pk = keys.encode(subscription_id.lower())
        rows = self.ledger.current.query_entities("PartitionKey eq @pk", parameters={"pk": pk})
        cache = self._preloaded.setdefault(pk, {})
        for row in rows:
            cache[str(row["RowKey"])] = row
        return len(cache)

    def record(
        self,
        target: Target,
        findings: Iterable[Finding],
        *,
        outcomes: Iterable[Outcome] = (),
        trigger: Trigger | None = None,
        now: datetime | None = None,
        owner: str = "",
    ) -> RecordResult:
        trig = trigger or Trigger("scan", self.scan_id)
        pk, rk = keys.encode(target.subscription_id), keys.encode(target.key)
        prefetched: TableEntity | None | Literal[False] = False
        if pk in self._preloaded:
            prefetched = self._preloaded[pk].pop(rk, None)
        result = self.ledger.record(
            target,
            findings,
            outcomes=outcomes,
            trigger=trig,
            scan_id=self.scan_id,
            now=now or self.now,
            prefetched=prefetched,
            owner=owner,
        )
        self.results.append(result)
        if result.writes == 0:
            self._unchanged[target.key] = target
        else:
            self._unchanged.pop(target.key, None)
        return result

    def flush(self) -> int:
        pending, self._unchanged = list(self._unchanged.values()), {}
        if not pending:
            return 0
        done = self.ledger.heartbeat(pending, scan_id=self.scan_id, now=self.now)
        self.transactions += done
        return done

    @property
    def transitions(self) -> list[Transition]:
        return [t for r in self.results for t in r.transitions]

    def __enter__(self) -> ScanSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.flush()


def severity_of(status: Status) -> Severity:
    return status_severity(status)
