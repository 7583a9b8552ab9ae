"""The Function App wired to real peers: Azurite (tables, queues), the simulator (ARM), a local host."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from localdev.azure_sim.launcher import SimHandle, running_simulator
from localdev.azurite import Azurite
from localdev.host import LocalHost
from shared import orchestration
from shared.settings import Settings
from shared.workqueue import QUEUES
from tests.engine.conftest import DEMO, demo_subscriptions


@dataclass
class App:
    sim: SimHandle
    host: LocalHost
    services: orchestration.Services
    estate: dict[str, Any]

    @property
    def guard_principal(self) -> str:
        return str(self.estate["guard"]["principal_id"])


def app_env(sim: SimHandle, azurite: Azurite, estate: dict[str, Any], **env: str) -> dict[str, str]:
    return {
        **sim.env(),
        "GUARD_SUBSCRIPTIONS": ",".join(demo_subscriptions()),
        "GUARD_MODE": "enforce",
        "GUARD_DEBOUNCE_SECONDS": "0",
        "GUARD_PRINCIPAL_RETRY_SECONDS": "10",
        "GUARD_PRINCIPAL_ID": str(estate["guard"]["principal_id"]),
        "GUARD_TABLE_PREFIX": "t" + uuid.uuid4().hex[:10],
        "AzureWebJobsStorage": azurite.connection_string,
        **env,
    }


def build_app(sim: SimHandle, azurite: Azurite, **env: str) -> App:
    """Services from settings as the Functions host would read them; queues emptied first."""
    import function_app

    with DEMO.open(encoding="utf-8") as fh:
        estate = yaml.safe_load(fh)
    svc = orchestration.Services.build(Settings.from_env(app_env(sim, azurite, estate, **env)))
    assert svc.queue is not None
    for name in QUEUES:
        svc.queue.client(name).clear_messages()
    orchestration.use_services(svc)
    return App(sim, LocalHost(function_app.app, azurite.connection_string), svc, estate)


@pytest.fixture(scope="module")
def module_sim() -> Iterator[SimHandle]:
    with running_simulator(DEMO) as sim:
        yield sim


@pytest.fixture(scope="module")
def scanned_app(module_sim: SimHandle, azurite: Azurite) -> Iterator[App]:
    """The app after one scheduled scan has run to completion (index populated, fixes applied)."""
    app = build_app(module_sim, azurite)
    app.host.run_timer("guard_scan")
    stats = app.host.drain(timeout=120)
    assert stats.failed == 0, stats
    yield app
    orchestration.use_services(None)
