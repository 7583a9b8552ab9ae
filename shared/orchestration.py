"""Functions-facing orchestration: what each Function does, minus Functions (docs/architecture.md).

It wires triggers to :mod:`shared.reconcile` (one target's full pipeline) and the ledger,
queues and outbox; read-only verification of many targets is :mod:`shared.verification`.

- :func:`receive_events`: parse -> route -> resolve targets -> debounce -> enqueue.
- :func:`start_scan`: discover -> register the scan -> enqueue one message per target, spread so
  no subscription exceeds its ARM read budget.
- :func:`process`: reconcile one target (gather, evaluate, plan, apply, verify) -> record in the
  ledger -> refresh the target index -> nudge alert delivery; the scan's digest when it is done.
- :func:`handle_poison`: a message that failed 5 times is recorded as ``unknown`` with an alert.
- :func:`deliver_alerts`: drain the outbox; send digests of scans past their deadline.

Handlers call these with :func:`services`, built once per process. Nothing here trusts an event
for principals, scopes or roles: events only say which targets to re-read.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import ids, telemetry
from shared.arm import ArmClients, process_clients
from shared.catalog import ids_for_kind
from shared.coordination import WorkTable
from shared.dependencies import dependency_scopes
from shared.discovery import Discovery, discover, targets_for_cluster
from shared.events import ArmEvent, MalformedEvent, from_dict
from shared.gather.reader import ArmReader
from shared.model import (
    ClusterInfo,
    Finding,
    Outcome,
    Snapshot,
    Status,
    Target,
    TargetKind,
    Trigger,
    Unreadable,
    VaultInfo,
)
from shared.reconcile import ReconcileResult, reconcile
from shared.routing import Route, route
from shared.settings import Settings
from shared.verification import verify
from shared.workqueue import MalformedMessage, WorkItem, WorkQueue

log = logging.getLogger(__name__)

READ_BURST, READ_REFILL_PER_SECOND = 250, 25  # ARM's per-subscription token bucket for reads
BUDGET_SHARE = 0.8  # leave a fifth of the bucket to everyone else using the subscription
SCAN_READS_PER_TARGET = 3
DIGEST_GRACE = timedelta(minutes=15)
_RECORDED_RESULTS = ("applied", "failed")


@dataclass
class Services:
    """What the handlers need, built once per process. ``ledger``/``queue`` are None without storage."""

    settings: Settings
    clients: ArmClients
    ledger: Any = None
    queue: WorkQueue | None = None
    work: WorkTable | None = None
    outbox: Any = None

    @classmethod
    def build(cls, settings: Settings, *, clients: ArmClients | None = None, create: bool = True) -> Services:
        svc = cls(settings, clients or process_clients(settings.arm))
        if settings.storage.configured:
            from shared.alerts.outbox import Outbox
            from shared.ledger.ledger import Ledger
            from shared.storage_clients import queue_service_client

            svc.ledger = Ledger.from_settings(settings)
            svc.queue = WorkQueue(queue_service_client(settings.storage))
            svc.work = WorkTable(svc.ledger.service.get_table_client(svc.ledger.names.work))
            svc.outbox = Outbox.from_settings(settings, svc.ledger)
            if create:
                svc.ledger.create_tables()
                svc.queue.create()
        return svc


_services: Services | None = None
_services_lock = threading.Lock()


def use_services(svc: Services | None) -> None:
    """Install (or clear) the process-wide services: for local hosts and tests that build their own."""
    global _services
    with _services_lock:
        _services = svc


def services() -> Services:
    """The process-wide :class:`Services`, from the environment (raises ConfigError if misconfigured)."""
    global _services
    with _services_lock:
        if _services is None:
            settings = Settings.from_env()
            telemetry.configure()
            _services = Services.build(settings)
        return _services


# ------------------------------------------------------------------------------------ events


@dataclass
class EventReport:
    events: int = 0
    dropped: list[str] = field(default_factory=list)  # malformed items, with the reason
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (event id, reason)
    routed: list[tuple[str, Route, list[Target]]] = field(default_factory=list)
    enqueued: list[WorkItem] = field(default_factory=list)
    coalesced: int = 0

    @property
    def targets(self) -> list[Target]:
        seen: dict[str, Target] = {}
        for _, _, targets in self.routed:
            for t in targets:
                seen.setdefault(t.key, t)
        return list(seen.values())


def _from_index(svc: Services, rt: Route) -> list[Target]:
    rows = svc.ledger.targets_for_scope(rt.resource_id) if svc.ledger is not None else []
    out: dict[str, Target] = {}
    for row in rows:
        if rt.kind == "cluster" and not ids.same(row.cluster_id, rt.resource_id):
            continue
        if rt.kind == "vault" and not ids.same(row.vault_id, rt.resource_id):
            continue
        kind: TargetKind = "backup"
        if row.kind in ("prepare", "restore"):
            kind = "prepare" if row.kind == "prepare" else "restore"
        out.setdefault(row.target_key, Target(row.cluster_id, row.vault_id, kind))
    return list(out.values())


def _from_arm(svc: Services, rt: Route) -> list[Target]:
    """Targets from live ARM when the index does not know them (new cluster/vault, or no ledger)."""
    reader = ArmReader.for_settings(svc.clients, svc.settings)
    if rt.kind == "cluster":
        return list(targets_for_cluster(reader, rt.resource_id).targets)
    if rt.kind == "vault":
        instances = reader.instances_in_vault(rt.resource_id)
        if isinstance(instances, Unreadable):
            log.warning("could not list the vault's instances: %s", instances.reason)
            return []
        return [Target(bi.cluster_id, rt.resource_id, "backup", bi.id) for bi in instances if bi.cluster_id]
    if svc.ledger is not None:
        return []
    # No index (the CLI without storage): find the subscription's targets whose scopes relate.
    bulk = ArmReader.for_settings(svc.clients, svc.settings, bulk=True)
    found = discover(bulk, [ids.subscription_of(rt.resource_id)])
    related = []
    for v in verify(list(found.targets), bulk, incluster_checks=False):
        if any(
            ids.is_at_or_above(rt.resource_id, s) or ids.is_at_or_above(s, rt.resource_id)
            for s in dependency_scopes(v.snapshot)
        ):
            related.append(v.target)
    return related


def resolve(svc: Services, rt: Route) -> list[Target]:
    targets = _from_index(svc, rt)
    if not targets and (rt.kind in ("cluster", "vault") or svc.ledger is None):
        targets = _from_arm(svc, rt)
    return targets


def receive_events(payloads: Iterable[Any], svc: Services, *, now: datetime | None = None) -> EventReport:
    """Route events to targets and enqueue (debounced) verifications.

    Malformed items are logged and dropped; unroutable ones ignored at debug level. Storage
    failures raise (the Event Grid delivery is then retried); nothing else does.
    """
    report = EventReport()
    for index, raw in enumerate(payloads):
        try:
            event = from_dict(raw)
        except MalformedEvent as exc:
            log.warning("dropped a malformed event (item %s): %s", index, exc)
            report.dropped.append(f"item {index}: {exc}")
            continue
        report.events += 1
        _route_one(event, svc, report, now=now)
    return report


def _route_one(event: ArmEvent, svc: Services, report: EventReport, *, now: datetime | None) -> None:
    decision = route(event, svc.settings)
    if decision.route is None:
        log.debug("event %s ignored: %s", event.id, decision.ignored)
        report.ignored.append((event.id, decision.ignored))
        return
    targets = resolve(svc, decision.route)
    report.routed.append((event.id, decision.route, targets))
    log.info(
        "event %s (%s) -> %s targets via %s",
        event.id,
        event.operation_name or event.type,
        len(targets),
        decision.route.rule,
        extra={"event_id": event.id, "subject": event.subject},
    )
    trigger = Trigger("event", event.id, f"{event.type} {event.operation_name}".strip())
    queued = enqueue_targets(svc, targets, trigger, now=now)
    report.enqueued += queued.enqueued
    report.coalesced += queued.coalesced


@dataclass
class Enqueued:
    enqueued: list[WorkItem] = field(default_factory=list)
    coalesced: int = 0


def enqueue_targets(
    svc: Services, targets: Iterable[Target], trigger: Trigger, *, now: datetime | None = None
) -> Enqueued:
    """One debounced verification per target (the event path and on-demand remediation share it).

    Without storage the items are only returned (the CLI runs them inline). A target already
    queued within ``GUARD_DEBOUNCE_SECONDS`` is coalesced. Storage failures raise."""
    out = Enqueued()
    for target in targets:
        item = WorkItem(target, trigger)
        if svc.work is None or svc.queue is None:
            out.enqueued.append(item)
            continue
        if svc.work.claim(target, window_seconds=svc.settings.debounce_seconds, now=now):
            try:
                svc.queue.send(item, delay_seconds=svc.settings.debounce_seconds)
            except Exception:
                svc.work.release(target)  # else the marker would swallow the redelivered event
                raise
            out.enqueued.append(item)
        else:
            out.coalesced += 1
    return out


# ------------------------------------------------------------------------------------ scans


@dataclass(frozen=True)
class ScanReport:
    scan_id: str
    discovery: Discovery
    enqueued: int
    last_delay_seconds: float


def spread_delays(targets: Sequence[Target], *, reads_per_target: int = SCAN_READS_PER_TARGET) -> list[float]:
    """Seconds to delay each target's message so each subscription stays inside its read budget.

    The first targets of a subscription use the bucket's burst; later ones are paced at the
    refill rate (both at :data:`BUDGET_SHARE`). Pure.
    """
    seen: dict[str, int] = {}
    delays = []
    burst, refill = READ_BURST * BUDGET_SHARE, READ_REFILL_PER_SECOND * BUDGET_SHARE
    for target in targets:
        n = seen.get(target.subscription_id, 0) + 1
        seen[target.subscription_id] = n
        delays.append(max(0.0, (n * reads_per_target - burst) / refill))
    return delays


def start_scan(svc: Services, *, now: datetime | None = None) -> ScanReport:
    """The timer's job; requires storage (ledger + queue)."""
    if svc.queue is None or svc.work is None:
        raise RuntimeError("a scheduled scan needs storage (AzureWebJobsStorage or GUARD_STORAGE_CONNECTION)")
    now = now or datetime.now(UTC)
    scan_id = f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    reader = ArmReader.for_settings(svc.clients, svc.settings, bulk=True)
    found = discover(reader, svc.settings.subscriptions)
    _SCAN_READERS.put(scan_id, reader)
    delays = spread_delays(found.targets)
    last = max(delays, default=0.0)
    svc.work.register_scan(
        scan_id, expected=len(found.targets), deadline=now + timedelta(seconds=last) + DIGEST_GRACE
    )
    trigger = Trigger("scan", scan_id, f"{len(found.targets)} targets")
    for target, delay in zip(found.targets, delays, strict=True):
        svc.queue.send(WorkItem(target, trigger, scan_id=scan_id), delay_seconds=delay)
    for problem in found.problems:
        log.warning("scan %s: %s", scan_id, problem)
    log.info("scan %s: %s targets enqueued, spread over %.0f s", scan_id, len(found.targets), last)
    return ScanReport(scan_id, found, len(found.targets), last)


class _ScanReaders:
    """Per-process bulk readers per scan, so a worker instance lists each subscription once per scan."""

    TTL_SECONDS = 1800.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readers: dict[str, tuple[float, ArmReader]] = {}

    def put(self, scan_id: str, reader: ArmReader) -> None:
        with self._lock:
            self._readers[scan_id] = (time.monotonic(), reader)

    def get(self, scan_id: str, svc: Services) -> ArmReader:
        with self._lock:
            expired = [k for k, (t, _) in self._readers.items() if time.monotonic() - t > self.TTL_SECONDS]
            for key in expired:
                del self._readers[key]
            entry = self._readers.get(scan_id)
            if entry is None or entry[1].clients is not svc.clients:
                entry = (time.monotonic(), ArmReader.for_settings(svc.clients, svc.settings, bulk=True))
                self._readers[scan_id] = entry
            return entry[1]


_SCAN_READERS = _ScanReaders()


# ---------------------------------------------------------------------------------- worker


@dataclass(frozen=True)
class Processed:
    item: WorkItem
    result: ReconcileResult | None  # None when the target opted out with 'ignore'
    transitions: int = 0
    ledger_writes: int = 0


def process(item: WorkItem, svc: Services, *, now: datetime | None = None) -> Processed:
    """Reconcile one target and record it. Safe to repeat (at-least-once delivery)."""
    if item.trigger.kind == "event" and svc.work is not None:
        svc.work.release(item.target)
    reader = _SCAN_READERS.get(item.scan_id, svc) if item.scan_id else None
    with telemetry.span("reconcile", target=item.target.key, trigger=item.trigger.kind) as span:
        result = reconcile(item.target, svc.settings, svc.clients, reader=reader)
        telemetry.annotate(span, result)
    if result.before.snapshot.opt_out == "ignore":
        return Processed(item, None)
    transitions = writes = 0
    if result.retired is not None:
        if svc.ledger is not None:
            writes = svc.ledger.retire(item.target, result.retired, trigger=item.trigger, now=now)
            if svc.queue is not None:
                svc.queue.nudge_alerts()
        if item.scan_id and svc.queue is not None and svc.queue.pending() <= 1:
            finish_scan(svc, item.scan_id, now=now)
        return Processed(item, result, 1, writes)
    if svc.ledger is not None:
        # ``observed``: the drift as seen before the fix, so history (and one alert) shows both.
        recorded = svc.ledger.record(
            item.target,
            result.after_findings,
            outcomes=recorded_outcomes(result),
            observed=result.before.findings if result.writes else (),
            trigger=item.trigger,
            scan_id=item.scan_id,
            now=now,
            owner=owner_of(result.before.snapshot, svc.settings.alerts.owner_tag),
        )
        transitions, writes = len(recorded.transitions), recorded.writes
        if item.scan_id and recorded.writes == 0:
            writes += svc.ledger.heartbeat([item.target], scan_id=item.scan_id, now=now)
        writes += svc.ledger.index_target(item.target, dependency_scopes(result.before.snapshot))
        if recorded.alerts and svc.queue is not None:
            svc.queue.nudge_alerts()
    if item.scan_id and svc.queue is not None and svc.queue.pending() <= 1:
        finish_scan(svc, item.scan_id, now=now)
    return Processed(item, result, transitions, writes)


def finish_scan(svc: Services, scan_id: str, *, now: datetime | None = None) -> bool:
    """Send the scan's digest (only if something changed); idempotent. True if one was queued."""
    from shared.alerts.digest import enqueue_digest

    if svc.ledger is None or svc.work is None:
        return False
    receiver_for = svc.outbox.receiver_for if svc.outbox is not None else None
    queued = enqueue_digest(svc.ledger, scan_id, receiver_for=receiver_for, now=now)
    svc.work.mark_digest_sent(scan_id)
    if queued and svc.queue is not None:
        svc.queue.nudge_alerts()
    return queued


def handle_poison(text: str | bytes, svc: Services, *, now: datetime | None = None) -> Target | None:
    """Record every check of the target as unknown (with an alert) after 5 failed attempts."""
    try:
        item = WorkItem.from_json(text)
    except MalformedMessage as exc:
        log.error("dropped a malformed poison message: %s", exc)
        return None
    reason = (
        f"verification failed 5 times (message moved to the poison queue; trigger {item.trigger.kind} "
        f"{item.trigger.id}); see the function logs"
    )
    findings = [Finding(check, Status.UNKNOWN, reason) for check in ids_for_kind(item.target.kind)]
    log.error("poison message for target %s", item.target.key, extra={"target": item.target.key})
    if svc.ledger is not None:
        recorded = svc.ledger.record(
            item.target,
            findings,
            trigger=Trigger("poison", item.trigger.id, item.trigger.detail),
            scan_id=item.scan_id,
            now=now,
        )
        if recorded.alerts and svc.queue is not None:
            svc.queue.nudge_alerts()
    return item.target


def deliver_alerts(svc: Services, *, now: datetime | None = None) -> Any:
    """Drain the outbox, after sending the digest of every scan past its deadline."""
    if svc.outbox is None or svc.work is None:
        return None
    now = now or datetime.now(UTC)
    for scan in svc.work.open_scans():
        if scan.deadline <= now:
            finish_scan(svc, scan.scan_id, now=now)
    return svc.outbox.drain(now=now)


def owner_of(snapshot: Snapshot, tag_name: str) -> str:
    """The owner tag (``GUARD_OWNER_TAG``) of the cluster, else of the vault; '' when neither has it."""
    for resource in (snapshot.cluster, snapshot.vault):
        if isinstance(resource, (ClusterInfo, VaultInfo)):
            value = ids.tag(resource.tags, tag_name)
            if value and value.strip():
                return value.strip()[:256]
    return ""


def recorded_outcomes(result: ReconcileResult) -> list[Outcome]:
    """Outcomes worth a history row: writes done and writes that failed (not skips or no-ops)."""
    return [o for o in result.outcomes if o.result in _RECORDED_RESULTS]
