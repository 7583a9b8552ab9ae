"""Table Storage operations per target for a rescan in which nothing changed.

Every HTTP request the ledger's TableServiceClient sends to Azurite goes through a counting
transport (a real ``RequestsTransport``; a ``$batch`` transaction counts as one write). Two paths:

- ``session``: the CLI-style path, :class:`shared.ledger.ledger.ScanSession` with ``preload`` per
  subscription and batched heartbeats at ``flush``;
- ``worker``: the Function App path, timer -> queue -> ``guard_worker`` per target (through
  :class:`localdev.host.LocalHost`), whose ledger, work table and outbox share the counted client.

Each path scans twice; the figures are the second (unchanged) scan's requests / targets.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from azure.core.pipeline.transport import HttpRequest, RequestsTransport

from bench.common import guard_env, progress, subscriptions_of
from bench.event_path import app_env
from bench.report import Figure
from localdev.azure_sim.launcher import running_simulator
from localdev.azurite import Azurite
from localdev.estates.generate import generate_estate
from localdev.host import LocalHost
from shared import orchestration
from shared.arm import ArmClients
from shared.coordination import WorkTable
from shared.discovery import discover
from shared.gather.reader import ArmReader
from shared.ledger.ledger import Ledger, ScanSession
from shared.settings import Settings
from shared.verification import verify
from shared.workqueue import QUEUES, WorkQueue

log = logging.getLogger(__name__)


class CountingTransport(RequestsTransport):
    """A real requests transport that counts the requests it sends: reads (GET) and writes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reads = 0
        self.writes = 0
        self._lock = threading.Lock()

    def send(self, request: HttpRequest, **kwargs: Any) -> Any:
        with self._lock:
            if request.method == "GET":
                self.reads += 1
            else:
                self.writes += 1
        return super().send(request, **kwargs)

    def reset(self) -> None:
        with self._lock:
            self.reads = self.writes = 0


def session_path(azurite: Azurite, estate: dict[str, Any]) -> dict[str, float]:
    subs = subscriptions_of(estate)
    with running_simulator(estate) as sim:
        settings = Settings.from_env(
            {**guard_env(sim, subs), "AzureWebJobsStorage": azurite.connection_string}
        )
        clients = ArmClients(settings.arm)
        reader = ArmReader(clients, bulk=True)
        results = verify(list(discover(reader, subs).targets), reader)
        clients.close()
    transport = CountingTransport()
    ledger = Ledger.from_settings(settings, transport=transport)
    ledger.create_tables()
    for scan_id in ("bench-scan-1", "bench-scan-2"):
        transport.reset()
        with ScanSession(ledger, scan_id) as session:
            for sub in subs:
                session.preload(sub)
            for v in results:
                session.record(v.target, v.findings)
    n = max(1, len(results))
    total = transport.reads + transport.writes
    return {"targets": n, "requests": total / n, "writes": transport.writes / n}


def worker_path(azurite: Azurite, estate: dict[str, Any]) -> dict[str, float]:
    import function_app
    from shared.alerts.outbox import Outbox
    from shared.storage_clients import queue_service_client

    with running_simulator(estate) as sim:
        settings = Settings.from_env(app_env(sim, azurite, estate))
        transport = CountingTransport()
        svc = orchestration.Services(settings, ArmClients(settings.arm))
        svc.ledger = Ledger.from_settings(settings, transport=transport)
        svc.queue = WorkQueue(queue_service_client(settings.storage))
        svc.work = WorkTable(svc.ledger.service.get_table_client(svc.ledger.names.work))
        svc.outbox = Outbox.from_settings(settings, svc.ledger)
        svc.ledger.create_tables()
        svc.queue.create()
        for name in QUEUES:
            svc.queue.client(name).clear_messages()
        orchestration.use_services(svc)
        host = LocalHost(function_app.app, azurite.connection_string)
        try:
            host.run_timer("guard_scan")
            host.drain(timeout=600)
            transport.reset()
            host.run_timer("guard_scan")
            stats = host.drain(timeout=600)
        finally:
            orchestration.use_services(None)
            svc.clients.close()
    n = max(1, stats.by_queue.get("guard-targets", 0))
    total = transport.reads + transport.writes
    return {"targets": n, "requests": total / n, "writes": transport.writes / n}


def run(*, quick: bool = False) -> list[Figure]:
    targets, runs = (10, 1) if quick else (200, 3)
    estate = generate_estate(targets, 2, seed=4)
    session: list[dict[str, float]] = []
    worker: list[dict[str, float]] = []
    with Azurite.start() as azurite:
        for i in range(runs):
            session.append(session_path(azurite, estate))
            worker.append(worker_path(azurite, estate))
            progress(
                "table ops run %s/%s: session %.2f req (%.3f writes)/target, worker %.2f req "
                "(%.2f writes)/target",
                i + 1,
                runs,
                session[-1]["requests"],
                session[-1]["writes"],
                worker[-1]["requests"],
                worker[-1]["writes"],
            )
    note = f"unchanged rescan of {targets} targets"
    return [
        Figure(
            "table_writes_per_unchanged_target_session",
            "table_ops",
            "writes/target",
            [s["writes"] for s in session],
            target=1.0,
            note=note + " (ScanSession: preload + batched heartbeats)",
        ),
        Figure(
            "table_requests_per_unchanged_target_session",
            "table_ops",
            "requests/target",
            [s["requests"] for s in session],
            note=note + " (reads + writes)",
        ),
        Figure(
            "table_writes_per_unchanged_target_worker",
            "table_ops",
            "writes/target",
            [w["writes"] for w in worker],
            target=1.0,
            note=note + " (Function App worker, one message per target)",
        ),
        Figure(
            "table_requests_per_unchanged_target_worker",
            "table_ops",
            "requests/target",
            [w["requests"] for w in worker],
            note=note + " (reads + writes, incl. work table and outbox)",
        ),
    ]
