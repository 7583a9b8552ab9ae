"""A target whose tag is removed is retired once: no writes, no index rows, one alert.

Before this, the target index kept routing events to the stale target and the Guard re-created
the access the tag had asked for. Real peers: Azurite (ledger, queues) and the simulator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from localdev.azure_sim.launcher import running_simulator
from localdev.azurite import Azurite
from shared import orchestration
from shared.ledger.ledger import RETIRED_CHECK, read_json
from shared.ledger.transitions import TransitionKind
from shared.model import Target
from tests.engine.conftest import DEMO
from tests.functions.conftest import App, build_app
from tests.functions.test_pipeline_e2e import API, READER, assignments, guard_writes

pytestmark = pytest.mark.timeout(240)

AKS_API = "api-version=2026-02-01"


@pytest.fixture(scope="module")
def app(azurite: Azurite) -> Iterator[App]:
    with running_simulator(DEMO) as sim:
        built = build_app(sim, azurite)
        built.host.run_timer("guard_scan")
        assert built.host.drain(timeout=120).failed == 0
        yield built
        orchestration.use_services(None)


def _prepare_target(app: App) -> tuple[Target, dict[str, Any]]:
    ledger = app.services.ledger
    states = [s for s in ledger.list_current() if s.kind == "prepare"]
    assert states, "the demo estate has a prepare target"
    state = states[0]
    cluster = app.sim.state(state.cluster_id)
    assert cluster is not None
    return Target(state.cluster_id, state.vault_id, "prepare"), cluster


def _retired_alerts(app: App, target: Target) -> list[dict[str, Any]]:
    rows = app.services.ledger.outbox.list_entities()
    return [
        r
        for r in rows
        if r.get("TargetKey") == target.key
        and (read_json(r, "Data") or {}).get("kind") == TransitionKind.NO_LONGER_GUARDED
    ]


def test_removing_the_vault_tag_retires_the_target_once(app: App) -> None:
    target, cluster = _prepare_target(app)
    ledger = app.services.ledger
    assert ledger.get_current(target.key) is not None
    assert any(t.target_key == target.key for t in ledger.targets_for_scope(target.cluster_id))
    vault_state = app.sim.state(target.vault_id)
    assert vault_state is not None
    principal = str(vault_state["identity"]["principalId"])
    assert assignments(app, target.cluster_id, principal, READER), "the scan gave the vault Reader"

    tags = {k: v for k, v in (cluster.get("tags") or {}).items() if k.lower() != "aks-backup-guard-vault"}
    mark = len(app.sim.events())
    status, _, _ = app.sim.call(
        "PATCH", f"{target.cluster_id}?{AKS_API}", {"tags": tags}, token=app.sim.admin_token
    )
    assert status in (200, 201, 202)
    events = app.sim.events(since=mark)
    assert events and app.host.deliver_events(events) >= 1
    assert app.host.drain(timeout=60).failed == 0

    assert ledger.get_current(target.key) is None
    assert not [t for t in ledger.targets_for_scope(target.cluster_id) if t.target_key == target.key]
    history = [h for h in ledger.history(target.key) if h.check == RETIRED_CHECK]
    assert len(history) == 1 and "no longer names the vault" in json.dumps(history[0].to_dict())
    assert len(_retired_alerts(app, target)) == 1
    assert not guard_writes(app, mark), "a retired target must get no writes"

    # The access the tag once asked for is removed by its owner: the Guard does not restore it.
    mark = len(app.sim.events())
    for ra in assignments(app, target.cluster_id, principal, READER):
        assert app.sim.call("DELETE", f"{ra['id']}?{API}", token=app.sim.admin_token)[0] in (200, 204)
    app.host.deliver_events(app.sim.events(since=mark))
    assert app.host.drain(timeout=60).failed == 0
    assert not guard_writes(app, mark)
    assert not assignments(app, target.cluster_id, principal, READER)
    assert len(_retired_alerts(app, target)) == 1, "retired once, alerted once"
