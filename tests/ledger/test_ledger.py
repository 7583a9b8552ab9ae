"""The ledger against Azurite: transitions over evaluations, concurrency, cost, the target index."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from shared.ledger.ledger import Ledger
from shared.ledger.transitions import TransitionKind
from shared.model import Outcome, Status, Target, Trigger
from tests.ledger.helpers import SUB, T0, finding, hours, target
from tests.ledger.support import CountingTransport

A = "role.vault-reader-on-cluster"
B = "storage.network-access"
C = "trusted-access.binding"
EVENT = Trigger("event", "evt-1", "Microsoft.Authorization/roleAssignments/delete")


def test_transitions_over_a_sequence_of_evaluations(ledger: Ledger) -> None:
    t = target()
    r = ledger.record(
        t, [finding(A, Status.PASS), finding(B, Status.PASS)], trigger=Trigger("scan", "s1"), now=T0
    )
    assert r.transitions == ()
    r = ledger.record(t, [finding(A, Status.FAIL), finding(B, Status.PASS)], trigger=EVENT, now=T0 + hours(1))
    assert [(x.check, x.kind) for x in r.transitions] == [(A, TransitionKind.NEW_FAILURE)]
    r = ledger.record(t, [finding(A, Status.FAIL), finding(B, Status.PASS)], trigger=EVENT, now=T0 + hours(2))
    assert r.transitions == () and r.writes == 0
    fixed = Outcome("role-assignment:" + A, A, "applied", "assigned Reader to the vault on the cluster")
    r = ledger.record(
        t,
        [finding(A, Status.PASS), finding(B, Status.UNKNOWN, "403 reading the storage account")],
        outcomes=[fixed],
        trigger=Trigger("cli", "alice"),
        now=T0 + hours(3),
    )
    assert {(x.check, x.kind) for x in r.transitions} == {
        (A, TransitionKind.FIXED),
        (B, TransitionKind.BECAME_UNKNOWN),
    }
    r = ledger.record(
        t, [finding(B, Status.PASS)], trigger=Trigger("scan", "s2"), scan_id="s2", now=T0 + hours(4)
    )
    assert [(x.check, x.kind) for x in r.transitions] == [(B, TransitionKind.BACK_TO_KNOWN)]

    state = ledger.get_current(t.key)
    assert state is not None
    assert state.checks[A].status is Status.PASS and state.checks[A].fail_count == 1
    assert state.checks[B].since == T0 + hours(4)
    assert state.cluster_id == t.cluster_id

    history = ledger.history(t.key)
    summary = [(h.type, h.check, h.trigger_kind) for h in history]
    assert summary == [
        ("transition", A, "event"),
        ("transition", A, "cli"),
        ("transition", B, "cli"),
        ("action", A, "cli"),
        ("transition", B, "scan"),
    ]
    fixed_row = history[1]
    assert fixed_row.data["kind"] == "fixed-by-guard"
    assert fixed_row.data["first_seen"] == (T0 + hours(1)).isoformat()
    assert fixed_row.data["outcomes"][0]["result"] == "applied"  # type: ignore[index]
    assert history[-1].scan_id == "s2"
    assert [c.target_key for c in ledger.scan_changes("s2")] == [t.key]
    assert ledger.scan_changes("s1") == []
    # no journal left behind
    assert ledger.recover_pending() == 0


def test_concurrent_writers_lose_no_history(ledger: Ledger) -> None:
    t = target(7)
    ledger.record(t, [finding(A, Status.PASS), finding(C, Status.PASS)], trigger=EVENT, now=T0)
    barrier = threading.Barrier(8)

    def worker(n: int) -> int:
        barrier.wait()
        conflicts = 0
        for step in range(6):
            # workers disagree: each flips one check or the other
            status = Status.FAIL if (n + step) % 2 else Status.PASS
            check = A if n % 2 else C
            r = ledger.record(t, [finding(check, status)], trigger=Trigger("event", f"w{n}-{step}"))
            conflicts += r.conflicts
        return conflicts

    with ThreadPoolExecutor(8) as pool:
        conflicts = sum(pool.map(worker, range(8)))
    assert conflicts > 0, "the test did not produce any race"

    state = ledger.get_current(t.key)
    assert state is not None
    history = [h for h in ledger.history(t.key) if h.type == "transition"]
    for check in (A, C):
        chain = [h.data for h in history if h.check == check]
        # each transition starts where the previous one ended, and the last ends at the current state
        assert chain, check
        expected_from = "pass"
        for row in chain:
            assert row["previous"] == expected_from, chain
            expected_from = str(row["current"])
        assert expected_from == str(state.checks[check].status)
        assert state.checks[check].fail_count == sum(1 for d in chain if d["kind"] == "new-failure")
    assert ledger.recover_pending() == 0


def test_unchanged_rescan_of_200_targets_costs_two_transactions_per_partition(
    ledger: Ledger, counter: CountingTransport
) -> None:
    subs = [SUB, "00000000-0000-0000-0000-0000000000b2"]
    targets = [target(n, subs[n % 2]) for n in range(200)]
    checks = [f"role.check-{i}" for i in range(12)]

    def findings(n: int) -> list:
        return [
            finding(c, Status.FAIL if (n % 10 == 0 and i == 0) else Status.PASS) for i, c in enumerate(checks)
        ]

    with ledger.scan("scan-1", now=T0) as scan:
        for n, t in enumerate(targets):
            scan.record(t, findings(n))
    first = dict(counter.counts)
    first_writes, first_reads = counter.writes, counter.reads
    counter.reset()

    with ledger.scan("scan-2", now=T0 + hours(1)) as scan:
        for n, t in enumerate(targets):
            scan.record(t, findings(n))
    assert scan.transitions == []
    print(f"\nfirst scan: {first} ({first_writes} writes, {first_reads} reads for 200 targets)")
    print(f"unchanged rescan: {dict(counter.counts)}")
    # writes: only the heartbeat, one batch per 100 targets of a subscription partition
    assert counter.writes == counter.batches == 2  # 100 targets in each of 2 partitions
    assert counter.batches <= 2 * len(subs)
    assert counter.reads == 200  # one point read per target
    counter.reset()

    with ledger.scan("scan-3", now=T0 + hours(2)) as scan:  # the same, reading by partition
        for sub in subs:
            assert scan.preload(sub) == 100
        for n, t in enumerate(targets):
            scan.record(t, findings(n))
    print(f"unchanged rescan with preload: {dict(counter.counts)}")
    assert counter.batches == counter.writes == 2
    assert counter.reads == 2  # one partition query per subscription
    states = ledger.list_current(subscription_id=SUB)
    assert len(states) == 100
    assert all(s.last_seen == T0 + hours(2) and s.last_scan_id == "scan-3" for s in states)
    assert all(s.last_changed == T0 for s in states)


def test_target_index_routes_scopes_at_under_and_above(ledger: Ledger) -> None:
    t1, t2 = target(1), target(2)
    storage = f"/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/st1"
    snap_rg = f"/subscriptions/{SUB}/resourceGroups/rg-snap"
    other_sub_storage = "/subscriptions/00000000-0000-0000-0000-0000000000c3/resourceGroups/x/providers/" + (
        "Microsoft.Storage/storageAccounts/st9"
    )
    assert ledger.index_target(t1, [t1.cluster_id, t1.vault_id, storage, snap_rg]) > 0
    ledger.index_target(t2, [t2.cluster_id, t2.vault_id, other_sub_storage])
    assert ledger.index_target(t1, [t1.cluster_id.upper(), t1.vault_id, storage, snap_rg]) == 0

    def keys_for(scope: str) -> set[str]:
        return {x.target_key for x in ledger.targets_for_scope(scope)}

    assert keys_for(storage) == {t1.key}  # at
    assert keys_for(storage + "/blobServices/default/containers/backup") == {t1.key}  # above the event
    assert keys_for(f"/subscriptions/{SUB}/resourceGroups/RG-DATA") == {t1.key}  # under the event
    assert keys_for(f"/subscriptions/{SUB}") == {t1.key, t2.key}
    assert keys_for(t2.cluster_id + "/providers/Microsoft.KubernetesConfiguration/extensions/x") == {t2.key}
    assert keys_for(other_sub_storage) == {t2.key}
    assert keys_for(f"/subscriptions/{SUB}/resourceGroups/rg-snapshots") == set()  # sibling prefix
    assert keys_for("/providers/Microsoft.Management/managementGroups/mg") == set()
    assert keys_for("/") == {t1.key, t2.key}
    hit = ledger.targets_for_scope(snap_rg)[0]
    assert (hit.cluster_id, hit.vault_id) == (t1.cluster_id, t1.vault_id)
    # scopes dropped from the set stop routing
    ledger.index_target(t1, [t1.cluster_id, t1.vault_id])
    assert keys_for(storage) == set()


def test_crash_after_state_write_is_rolled_forward_once(ledger: Ledger) -> None:
    """A writer that dies after its conditional write leaves a journal; the next reader completes it."""
    t: Target = target(3)
    ledger.record(t, [finding(A, Status.PASS)], trigger=EVENT, now=T0)
    # simulate the crash: perform only the state write of record() by hand, with the same journal
    # the product would write, by recording through a ledger whose history/outbox tables are absent
    broken = Ledger(ledger.service, prefix=ledger.names.current.removesuffix("Current") + "Gone")
    broken.current = ledger.current  # same state table, missing history/outbox tables
    try:
        broken.record(t, [finding(A, Status.FAIL)], trigger=EVENT, now=T0 + hours(1))
    except Exception as exc:  # the history table does not exist: the "crash"
        assert "TableNotFound" in str(exc) or "not exist" in str(exc).lower() or exc
    assert [h for h in ledger.history(t.key) if h.type == "transition"] == []
    journal = {k: v for k, v in ledger.current.get_entity(*_row_keys(t)).items() if k.startswith("Pending")}
    assert journal["PendingParts"] == 1
    assert ledger.recover_pending() == 1
    assert ledger.recover_pending() == 0
    # a second roll-forward of the same journal (two recoverers racing) changes nothing: the
    # outbox row keeps its delivery state, history rows are the same rows
    (row,) = ledger.outbox.list_entities()
    ledger.outbox.upsert_entity(
        {"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"], "State": "delivered"}
    )
    ledger.current.upsert_entity({"PartitionKey": _row_keys(t)[0], "RowKey": _row_keys(t)[1], **journal})
    assert ledger.recover_pending() == 1
    assert [r["State"] for r in ledger.outbox.list_entities()] == ["delivered"]
    rows = [h for h in ledger.history(t.key) if h.type == "transition"]
    assert [r.data["kind"] for r in rows] == ["new-failure"]
    # recording the same findings again writes nothing new
    r = ledger.record(t, [finding(A, Status.FAIL)], trigger=EVENT, now=T0 + hours(2))
    assert r.transitions == () and r.writes == 0


def _row_keys(t: Target) -> tuple[str, str]:
    from shared.ledger import keys

    return keys.encode(t.subscription_id), keys.encode(t.key)
