"""Alert volume: messages people receive for a first scan of a drifting estate and an event burst.

Both scenarios run the product's ledger, digest and outbox against Azurite and a real Teams
webhook receiver (localdev/receivers/teams.py) and count the messages the receiver accepted:

- ``first_scan``: a first scheduled scan of ``targets`` targets in one subscription, half of them
  drifting (one failing check each), then the scan's digest and a drain: messages per receiver
  (expected: one, the digest) and per-target alert messages (expected: none);
- ``burst``: ``events`` event-triggered failures on clusters protected by one vault, each
  recorded ``spacing`` seconds after the previous and followed by a drain (as the worker nudges
  the outbox after every reconcile), then drains until the group wait has passed: messages sent
  (expected: one).

Times are given explicitly (``now``), so the counts do not depend on machine speed. Also used by
tests/alerts/test_grouping.py, which asserts the counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import progress
from bench.report import Figure
from localdev.azurite import Azurite
from localdev.receivers.teams import TeamsReceiver
from shared.alerts.digest import enqueue_digest
from shared.alerts.outbox import Outbox
from shared.alerts.teams import TeamsChannel
from shared.ledger.ledger import Ledger
from shared.model import Finding, Fix, Status, Target, Trigger
from shared.settings import Secret, StorageSettings
from shared.storage_clients import table_service_client

SUB = "00000000-0000-0000-0000-00000000b0a1"
T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
CHECKS = ("role.vault-reader-on-cluster", "trusted-access.binding", "storage.network-access")
_prefixes = iter(range(10**6))


@dataclass
class Outcome:
    messages: int  # Workflows bodies the receiver accepted
    per_target_messages: int  # of those, cards about one cluster only (not a digest or a group)
    alert_rows: int  # outbox rows of the run's transitions
    bodies: list[dict[str, Any]] = field(default_factory=list)


def fresh_ledger(azurite: Azurite) -> Ledger:
    service = table_service_client(StorageSettings(connection_string=Secret(azurite.connection_string)))
    ledger = Ledger(service, prefix=f"bench{next(_prefixes)}x{datetime.now(UTC):%H%M%S}")
    ledger.create_tables()
    return ledger


def target(n: int, *, vault: str = "bv-shared", rg: str = "rg-aks") -> Target:
    base = f"/subscriptions/{SUB}/resourceGroups"
    return Target(
        f"{base}/{rg}/providers/Microsoft.ContainerService/managedClusters/aks-{n:04d}",
        f"{base}/rg-backup/providers/Microsoft.DataProtection/backupVaults/{vault}",
    )


def findings(failing: bool) -> list[Finding]:
    fix = Fix("Assign Reader to the vault on the cluster", "az role assignment create ...", None)
    out = [Finding(c, Status.PASS, "holds") for c in CHECKS]
    if failing:
        out[0] = Finding(CHECKS[0], Status.FAIL, "the vault has no Reader on the cluster", fix)
    return out


def _per_target(bodies: list[dict[str, Any]]) -> int:
    count = 0
    for body in bodies:
        title = body["attachments"][0]["content"]["body"][0]["text"]
        if title.startswith("AKS backup drift on ") and " clusters " not in title:
            count += 1
    return count


def first_scan(azurite: Azurite, targets: int, *, report_url: str | None = None) -> Outcome:
    ledger = fresh_ledger(azurite)
    scan_id = "first-scan"
    with TeamsReceiver() as teams:
        outbox = Outbox(ledger, [TeamsChannel(Secret(teams.url), timeout=10.0)], report_url=report_url)
        with ledger.scan(scan_id, now=T0) as session:
            session.preload(SUB)
            for n in range(targets):
                session.record(target(n, vault=f"bv-{n % 20:02d}"), findings(n % 2 == 0))
        enqueue_digest(ledger, scan_id, now=T0 + timedelta(minutes=5))
        outbox.drain(now=T0 + timedelta(minutes=5))
        outbox.drain(now=T0 + timedelta(hours=1))
        rows = list(ledger.outbox.query_entities("PartitionKey eq 'alert'"))
        bodies = list(teams.received)
    return Outcome(len(bodies), _per_target(bodies), len(rows), bodies)


def burst(
    azurite: Azurite, events: int = 50, *, spacing_seconds: float = 0.5, group_wait_seconds: float = 30.0
) -> Outcome:
    ledger = fresh_ledger(azurite)
    with TeamsReceiver() as teams:
        outbox = Outbox(
            ledger,
            [TeamsChannel(Secret(teams.url), timeout=10.0)],
            group_wait_seconds=group_wait_seconds,
            group_interval_seconds=300.0,
        )
        for n in range(events):
            ledger.record(target(n), findings(False), trigger=Trigger("scan", "baseline"), now=T0)
        outbox.drain(now=T0)
        start = T0 + timedelta(minutes=10)
        for n in range(events):
            now = start + timedelta(seconds=n * spacing_seconds)
            trig = Trigger("event", f"evt-{n}", "Microsoft.Authorization/roleAssignments/delete")
            ledger.record(target(n), findings(True), trigger=trig, now=now)
            outbox.drain(now=now)
        last = start + timedelta(seconds=events * spacing_seconds)
        for seconds in (group_wait_seconds, group_wait_seconds + 60, group_wait_seconds + 600):
            outbox.drain(now=last + timedelta(seconds=seconds))
        rows = list(ledger.outbox.query_entities("PartitionKey eq 'alert' and TriggerKind eq 'event'"))
        bodies = list(teams.received)
    return Outcome(len(bodies), _per_target(bodies), len(rows), bodies)


def run(*, quick: bool = False) -> list[Figure]:
    targets = 100 if quick else 1000
    with Azurite.start() as azurite:
        scan = first_scan(azurite, targets)
        progress("alerts: first scan of %s targets (half drifting): %s message(s)", targets, scan.messages)
        storm = burst(azurite, 50)
        progress("alerts: burst of 50 events for one vault: %s message(s)", storm.messages)
    size = max(len(json.dumps(b, separators=(",", ":"), ensure_ascii=False).encode()) for b in scan.bodies)
    return [
        Figure(
            "alert_messages_first_scan",
            "alerts",
            "messages/receiver",
            [float(scan.messages)],
            target=1.0,
            note=f"first scan of {targets} targets, {targets // 2} drifting, one receiver",
        ),
        Figure(
            "alert_per_target_messages_first_scan",
            "alerts",
            "messages",
            [float(scan.per_target_messages)],
            target=0.0,
            note="per-target alerts sent for a scheduled scan (the digest carries them)",
        ),
        Figure(
            "alert_digest_bytes_first_scan",
            "alerts",
            "bytes",
            [float(size)],
            target=28 * 1024,
            note="largest Teams body of that scan (the Teams limit is about 28 KB)",
        ),
        Figure(
            "alert_messages_event_burst",
            "alerts",
            "messages",
            [float(storm.messages)],
            target=1.0,
            note="50 events for one vault within the group wait (30 s)",
        ),
    ]
