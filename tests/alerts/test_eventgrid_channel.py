"""The Event Grid channel against the simulator's topic endpoint (publish REST API), ledger on Azurite.

One CloudEvent per transition (id = transition id), retries honouring Retry-After with no
duplicates, dead-lettering on a bad key without leaking it, and a consumer's view: the published
events parse with ``azure.core.messaging.CloudEvent.from_dict`` and carry everything to act on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.messaging import CloudEvent

from localdev.azure_sim.estate import DEFAULT_GUARD_PRINCIPAL
from localdev.azure_sim.launcher import SimHandle, running_simulator
from localdev.receivers.teams import TeamsReceiver
from shared.alerts.channels import Message
from shared.alerts.digest import enqueue_digest
from shared.alerts.eventgrid import EVENT_TYPES, EventGridChannel
from shared.alerts.outbox import Outbox
from shared.alerts.teams import TeamsChannel
from shared.arm import StaticTokenCredential
from shared.errors import ConfigError
from shared.ledger.ledger import Ledger
from shared.ledger.transitions import TransitionKind
from shared.model import Outcome, Status, Trigger
from shared.settings import Secret, Settings
from tests.ledger.helpers import SUB, T0, finding, hours, target

TOPIC = "guard-drift"
TOPIC_KEY = "c2ltLXRvcGljLWtleS1kby1ub3QtbG9nLW1l"  # the secret that must never reach a log
SCAN = Trigger("scan", "scan-2026-11-01T09", "timer")
A = "role.vault-reader-on-cluster"
B = "storage.network-access"
C = "extension.installed"
DATA_FIELDS = {
    "schemaVersion",
    "transitionId",
    "kind",
    "severity",
    "target",
    "check",
    "detail",
    "statusBefore",
    "statusAfter",
    "fix",
    "outcome",
    "actions",
    "episode",
    "correlation",
}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    estate = {"eventgrid_topics": [{"name": TOPIC, "key": TOPIC_KEY, "senders": [DEFAULT_GUARD_PRINCIPAL]}]}
    with running_simulator(estate) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _clean(sim: SimHandle) -> None:
    sim.reset_published()
    sim.clear_faults()


class _Discard:
    name = "discard"

    def send(self, message: Message) -> None:
        return None


def channel(sim: SimHandle, key: str = TOPIC_KEY) -> EventGridChannel:
    return EventGridChannel(
        sim.topic_endpoint(TOPIC), AzureKeyCredential(key), ca_bundle=sim.ca_bundle, timeout=5.0
    )


def record_scan(ledger: Ledger, scan_id: str = SCAN.id) -> None:
    """Three clusters, one scan: target 1 drifts (A fails and its fix fails, B warns, C unknown);
    target 2 had A and B failing: the Guard fixes A, B recovers on its own; target 3 had A failing
    and the Guard's fix fails."""
    t1, t2, t3 = target(1), target(2), target(3)
    baseline = Trigger("scan", "scan-0")
    ledger.record(
        t1,
        [finding(A, Status.PASS), finding(B, Status.PASS), finding(C, Status.PASS)],
        trigger=baseline,
        now=T0,
    )
    ledger.record(t2, [finding(A, Status.FAIL), finding(B, Status.FAIL)], trigger=baseline, now=T0)
    ledger.record(t3, [finding(A, Status.FAIL)], trigger=baseline, now=T0)
    Outbox(ledger, [_Discard()]).drain(now=T0)  # the baseline's alerts are not what these tests are about
    failed = Outcome(
        "role-assignment:" + A, A, "failed", "assign Reader to the vault on the cluster", "HTTP 403"
    )
    ledger.record(
        t1,
        [finding(A, Status.FAIL), finding(B, Status.WARN), finding(C, Status.UNKNOWN, "permission denied")],
        outcomes=[failed],
        trigger=SCAN,
        scan_id=scan_id,
        now=T0 + hours(1),
    )
    ledger.record(
        t3, [finding(A, Status.FAIL)], outcomes=[failed], trigger=SCAN, scan_id=scan_id, now=T0 + hours(1)
    )
    applied = Outcome("role-assignment:" + A, A, "applied", "assign Reader to the vault on the cluster")
    ledger.record(
        t2,
        [finding(A, Status.PASS), finding(B, Status.PASS)],
        outcomes=[applied],
        trigger=SCAN,
        scan_id=scan_id,
        now=T0 + hours(1),
    )


def scan_rows(ledger: Ledger, scan_id: str = SCAN.id) -> list[Any]:
    return list(
        ledger.outbox.query_entities("PartitionKey eq 'alert' and ScanId eq @s", parameters={"s": scan_id})
    )


def outbox_ids(ledger: Ledger, scan_id: str = SCAN.id) -> set[str]:
    return {str(r["RowKey"]) for r in scan_rows(ledger, scan_id)}


def test_each_transition_is_one_cloudevent_with_the_documented_fields(ledger: Ledger, sim: SimHandle) -> None:
    record_scan(ledger)
    ids = outbox_ids(ledger)
    result = Outbox(ledger, [channel(sim)]).drain(now=T0 + hours(1))
    assert result.delivered == len(ids) and result.retried == result.dead == 0

    received = sim.published()
    events = [r["event"] for r in received]
    assert sorted(e["id"] for e in events) == sorted(ids)  # exactly one per transition
    assert {r["auth"] for r in received} == {"key"} and {r["topic"] for r in received} == {TOPIC}
    kinds = {e["data"]["kind"]: e for e in events}
    assert set(kinds) == {
        "new-failure",
        "remediation-failed",
        "became-unknown",
        "fixed-by-guard",
        "recovered",
    }
    for event in events:
        assert event["specversion"] == "1.0"
        assert event["source"] == "/aks-backup-guard"
        assert event["type"] == EVENT_TYPES[TransitionKind(event["data"]["kind"])]
        assert event["subject"] == event["data"]["target"]["clusterId"]
        assert event["datacontenttype"] == "application/json"
        assert set(event["data"]) == DATA_FIELDS
        assert event["data"]["transitionId"] == event["id"] == event["data"]["correlation"]["transitionId"]
        assert event["data"]["correlation"]["scanId"] == SCAN.id
        assert event["data"]["correlation"]["triggerKind"] == "scan"

    failure = next(e for e in events if e["data"]["kind"] == "new-failure" and e["data"]["check"] == A)
    assert failure["type"] == "AksBackupGuard.DriftDetected"
    assert failure["subject"] == target(1).cluster_id
    assert failure["data"]["statusBefore"] == "pass" and failure["data"]["statusAfter"] == "fail"
    assert failure["data"]["fix"]["command"].startswith("az role assignment create")
    assert failure["data"]["outcome"] == "failed"
    assert failure["data"]["actions"][0]["reason"] == "HTTP 403"
    assert kinds["remediation-failed"]["type"] == "AksBackupGuard.RemediationFailed"
    assert kinds["became-unknown"]["type"] == "AksBackupGuard.VerificationUnknown"
    fixed = kinds["fixed-by-guard"]
    assert fixed["type"] == "AksBackupGuard.DriftRemediated" and fixed["subject"] == target(2).cluster_id
    assert fixed["data"]["statusBefore"] == "fail" and fixed["data"]["statusAfter"] == "pass"
    assert fixed["data"]["outcome"] == "applied" and fixed["data"]["fix"] is None
    recovered = kinds["recovered"]
    assert recovered["type"] == "AksBackupGuard.DriftRecovered" and recovered["data"]["outcome"] == "none"

    # delivered rows are not published again; the history says where the alert went
    assert Outbox(ledger, [channel(sim)]).drain(now=T0 + hours(2)).messages == 0
    assert len(sim.published()) == len(ids)
    notes = [h for h in ledger.history(target(1).key) if h.type == "alert-delivered"]
    assert notes and all("eventgrid" in h.summary for h in notes)


def test_endpoint_failing_twice_then_succeeding_delivers_once(ledger: Ledger, sim: SimHandle) -> None:
    sim.set_faults(
        [{"method": "POST", "path": "^/eventgrid/topics/", "status": 503, "retry_after": 120, "count": 2}]
    )
    record_scan(ledger)  # three targets of one vault: one group, its publish fails twice
    ids = outbox_ids(ledger)
    outbox = Outbox(ledger, [channel(sim)], backoff_seconds=10)
    now = T0 + hours(1)
    first = outbox.drain(now=now)
    assert first.retried == len(ids) and first.delivered == 0
    rows = scan_rows(ledger)
    assert all(r["NextAttempt"] >= now + timedelta(seconds=120) for r in rows)  # Retry-After over backoff
    assert all(r["LastError"] == "Event Grid topic on 127.0.0.1 answered HTTP 503" for r in rows)
    assert outbox.drain(now=now + timedelta(seconds=60)).messages == 0  # not due yet
    now += timedelta(seconds=121)
    assert outbox.drain(now=now).retried == len(ids)  # the second 503
    now += timedelta(minutes=10)
    assert outbox.drain(now=now).delivered == len(ids)
    assert outbox.drain(now=now + hours(1)).messages == 0
    published = [r["event"]["id"] for r in sim.published()]
    assert sorted(published) == sorted(ids)  # each transition exactly once at the topic
    posts = [e for e in sim.requests()["log"] if e["template"] == "POST /eventgrid/topics/{topic}/api/events"]
    assert [e["status"] for e in posts][-3:] == [503, 503, 200]


def test_teams_failing_does_not_republish_the_cloudevents(ledger: Ledger, sim: SimHandle) -> None:
    """A scan's transitions go to Event Grid one by one and to Teams only in the digest; Teams
    failing on the digest republishes nothing."""
    with TeamsReceiver(script=[500]) as teams:
        outbox = Outbox(
            ledger, [TeamsChannel(Secret(teams.url), timeout=5.0), channel(sim)], backoff_seconds=1
        )
        record_scan(ledger)
        ids = outbox_ids(ledger)
        now = T0 + hours(1)
        first = outbox.drain(now=now)
        assert first.delivered == len(ids) and teams.attempts == 0  # no per-target card for a scan
        assert sorted(r["event"]["id"] for r in sim.published()) == sorted(ids)  # Event Grid took all
        assert all("eventgrid" in str(r["Done"]).split(",") for r in scan_rows(ledger))
        enqueue_digest(ledger, SCAN.id, now=now + hours(2))
        assert outbox.drain(now=now + hours(2)).retried == 1  # the digest: Teams answered 500
        assert outbox.drain(now=now + hours(3)).delivered == 1  # the digest, to Teams
        assert len(teams.received) == 1 and "scan digest" in json.dumps(teams.received[0])
        assert sorted(r["event"]["id"] for r in sim.published()) == sorted(ids)  # not published twice


def test_only_transitions_not_yet_published_are_sent(ledger: Ledger, sim: SimHandle) -> None:
    """A row already marked as delivered to eventgrid (an earlier attempt of a smaller group) is not
    published again when its group is retried: the channel gets only the rows whose Done lacks it."""
    record_scan(ledger)
    rows = [r for r in scan_rows(ledger) if r["ClusterId"] == target(1).cluster_id]
    assert len(rows) == 3
    done = rows[0]
    ledger.outbox.update_entity({"PartitionKey": "alert", "RowKey": done["RowKey"], "Done": "eventgrid"})
    Outbox(ledger, [channel(sim)]).drain(now=T0 + hours(1))
    published = [r["event"]["id"] for r in sim.published()]
    assert done["RowKey"] not in published and len(published) == len(outbox_ids(ledger)) - 1
    assert {r["State"] for r in scan_rows(ledger)} == {"delivered"}


def test_bad_key_is_dead_lettered_with_a_clear_error_and_no_secret_in_logs(
    ledger: Ledger, sim: SimHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("azure", "urllib3", "shared"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    wrong = "d3Jvbmcta2V5LWFsc28tc2VjcmV0"
    record_scan(ledger)
    ids = outbox_ids(ledger)
    outbox = Outbox(ledger, [channel(sim, key=wrong)], max_attempts=3)
    result = outbox.drain(now=T0 + hours(1))
    assert result.dead == len(ids) and result.retried == 0  # 401 is permanent: no pointless retries
    rows = scan_rows(ledger)
    assert {r["State"] for r in rows} == {"dead"}
    reason = rows[0]["LastError"]
    assert reason.startswith("Event Grid topic on 127.0.0.1 rejected the credentials (HTTP 401)")
    assert "GUARD_EVENTGRID_TOPIC_KEY" in reason
    dead = [h for h in ledger.history(target(1).key) if h.type == "alert-dead"]
    assert dead and "rejected the credentials" in dead[0].summary
    assert sim.published() == []
    assert "dead-lettered" in caplog.text and "rejected the credentials" in caplog.text
    everything = caplog.text + repr([dict(r) for r in ledger.outbox.list_entities()])
    everything += repr([h.summary for h in ledger.history(target(1).key)])
    assert wrong not in everything and TOPIC_KEY not in everything
    assert len(ids) == 6


def test_managed_identity_token_and_settings(ledger: Ledger, sim: SimHandle, azurite: Any) -> None:
    """No key: the Guard's Entra token (here the simulator's static token, as GUARD_ARM_TOKEN gives)."""
    settings = Settings.from_env(
        {
            "GUARD_SUBSCRIPTIONS": SUB,
            **sim.env(),
            "GUARD_EVENTGRID_TOPIC_ENDPOINT": sim.topic_endpoint(TOPIC),
            "GUARD_EVENTGRID_SOURCE": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Web/sites/g",
        }
    )
    assert settings.alerts.eventgrid_ca_bundle == sim.ca_bundle
    outbox = Outbox.from_settings(settings, ledger)
    assert [c.name for c in outbox.channels] == ["eventgrid"]
    record_scan(ledger)
    # a scan's transitions go to Event Grid at once (the group wait is for what people are sent)
    assert outbox.drain(now=T0 + hours(1)).delivered == len(outbox_ids(ledger))
    received = sim.published()
    assert {(r["auth"], r["principal"]) for r in received} == {("bearer", DEFAULT_GUARD_PRINCIPAL)}
    assert {r["event"]["source"] for r in received} == {settings.alerts.eventgrid_source}

    # a token the topic does not know is rejected and dead-lettered too
    sim.reset_published()
    record_scan(ledger, scan_id="scan-2")
    bad = EventGridChannel(sim.topic_endpoint(TOPIC), StaticTokenCredential("nope"), ca_bundle=sim.ca_bundle)
    assert Outbox(ledger, [bad]).drain(now=T0 + hours(2)).delivered == 0
    assert sim.published() == []


def test_eventgrid_settings_are_validated_and_the_key_is_a_secret() -> None:
    base = {"GUARD_SUBSCRIPTIONS": SUB}
    with pytest.raises(ConfigError, match="GUARD_EVENTGRID_TOPIC_ENDPOINT must be an https"):
        Settings.from_env({**base, "GUARD_EVENTGRID_TOPIC_ENDPOINT": "http://topic.example/api/events"})
    with pytest.raises(ConfigError, match="GUARD_EVENTGRID_TOPIC_ENDPOINT is not"):
        Settings.from_env({**base, "GUARD_EVENTGRID_TOPIC_KEY": TOPIC_KEY})
    settings = Settings.from_env(
        {
            **base,
            "GUARD_EVENTGRID_TOPIC_ENDPOINT": "https://t.westeurope-1.eventgrid.azure.net/api/events",
            "GUARD_EVENTGRID_TOPIC_KEY": TOPIC_KEY,
        }
    )
    assert TOPIC_KEY not in repr(settings) and settings.alerts.eventgrid_source == "/aks-backup-guard"


def test_consumer_can_act_on_the_published_events_alone(ledger: Ledger, sim: SimHandle) -> None:
    """What a Logic App / Function subscribed to the topic sees: parse with the SDK, act, de-duplicate."""
    record_scan(ledger)
    Outbox(ledger, [channel(sim)]).drain(now=T0 + hours(1))
    raw = [r["event"] for r in sim.published()]
    assert raw
    seen: set[str] = set()
    tickets: list[dict[str, Any]] = []
    for payload in raw + raw[:2]:  # Event Grid delivers at least once: a consumer sees repeats
        event: CloudEvent[Any] = CloudEvent.from_dict(payload)
        assert event.specversion == "1.0" and event.time is not None
        if event.id in seen:
            continue
        seen.add(event.id)
        data = event.data
        assert isinstance(data, dict)
        target_info, correlation = data["target"], data["correlation"]
        assert event.subject == target_info["clusterId"]
        assert target_info["clusterId"].startswith(f"/subscriptions/{SUB}/resourceGroups/")
        assert target_info["vaultId"].endswith("/backupVaults/bv")
        assert target_info["subscriptionId"] == SUB
        assert target_info["clusterName"] in ("aks-1", "aks-2", "aks-3")
        assert target_info["portalUrl"].startswith("https://portal.azure.com/#@/resource/subscriptions/")
        assert data["check"] in (A, B, C) and data["statusAfter"] in ("pass", "warn", "fail", "unknown")
        assert correlation["transitionId"] == event.id
        assert correlation["triggerId"] == SCAN.id and correlation["scanId"] == SCAN.id
        assert correlation["batch"]
        if event.type in ("AksBackupGuard.DriftDetected", "AksBackupGuard.RemediationFailed"):
            assert data["fix"]["summary"] and data["fix"]["command"] and data["fix"]["doc"]
        tickets.append(
            {
                "title": f"{target_info['clusterName']} {data['check']}: {data['statusAfter']}",
                "action": (data["fix"] or {}).get("command"),
                "outcome": data["outcome"],
            }
        )
    assert len(tickets) == len(raw) == len(set(e["id"] for e in raw))
