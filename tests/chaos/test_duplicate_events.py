"""Ten duplicated, shuffled deliveries of the deletion events of 50 targets: the Guard writes
exactly the unique set (one role assignment per target), nothing twice."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import pytest

from localdev.azure_sim.launcher import running_simulator
from localdev.azurite import Azurite
from localdev.estates.generate import generate_estate
from shared import orchestration
from tests.chaos.conftest import (
    READER,
    WRITE,
    App,
    assignment_triples,
    build_app,
    delete_vault_readers,
    list_assignments,
)

pytestmark = pytest.mark.chaos

ESTATE = generate_estate(50, 2, drift_ratio=0.0, seed=21)


@pytest.fixture
def app(azurite: Azurite) -> Iterator[App]:
    with running_simulator(ESTATE) as sim:
        built = build_app(sim, azurite, ESTATE, GUARD_DEBOUNCE_SECONDS="3")
        try:
            built.host.run_timer("guard_scan")
            assert built.host.drain(timeout=300).failed == 0
            yield built
        finally:
            orchestration.use_services(None)


def test_duplicated_shuffled_events_write_the_unique_set(app: App) -> None:
    pairs = [(s.cluster_id, s.vault_id) for s in app.services.ledger.list_current()]
    assert len(pairs) == 50
    events = delete_vault_readers(app.sim, pairs)
    assert len(events) == 50
    deliveries = events * 10
    random.Random(8).shuffle(deliveries)
    mark = len(app.sim.events())
    for start in range(0, len(deliveries), 25):  # batches, as Event Grid delivers them
        app.host.deliver_events(deliveries[start : start + 25])
    stats = app.host.drain(timeout=300)
    assert stats.failed == 0
    writes = [e for e in app.guard_writes(mark) if e["data"]["operationName"] == WRITE]
    assert sorted(e["subject"].lower() for e in writes) == sorted({e["subject"].lower() for e in writes})
    assert len(writes) == 50
    subs = [str(s["id"]) for s in ESTATE["subscriptions"]]
    triples = [t for s in subs for t in assignment_triples(list_assignments(app.sim, f"/subscriptions/{s}"))]
    assert [t for t, n in Counter(triples).items() if n > 1] == []
    restored = {c.lower() for c, _ in pairs}
    reader_scopes = {scope for scope, _, role in triples if role == READER}
    assert restored <= reader_scopes
