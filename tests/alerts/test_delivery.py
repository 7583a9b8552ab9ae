"""Alert delivery through the outbox against real peers (Teams receiver, aiosmtpd, ACS endpoint)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

from localdev.receivers.acs import AcsEmailReceiver
from localdev.receivers.smtp import SmtpReceiver
from localdev.receivers.teams import TeamsReceiver
from shared.alerts.digest import enqueue_digest
from shared.alerts.email import AcsEmailChannel, SmtpChannel
from shared.alerts.outbox import Outbox
from shared.alerts.render import MAX_TEAMS_BYTES, AlertGroup, teams_payloads
from shared.alerts.teams import TeamsChannel
from shared.ledger.ledger import Ledger
from shared.ledger.transitions import Transition, TransitionKind
from shared.model import Outcome, Status, Trigger
from shared.settings import AlertSettings, Secret
from tests.ledger.helpers import SUB, T0, finding, hours, target

A = "role.vault-reader-on-cluster"
B = "storage.network-access"
EVENT = Trigger("event", "evt-42", "Microsoft.Authorization/roleAssignments/delete")
CARD_ELEMENTS = {"TextBlock", "FactSet", "Container", "ColumnSet", "Image"}


def teams_outbox(ledger: Ledger, receiver: TeamsReceiver, **kwargs: Any) -> Outbox:
    channel = TeamsChannel(Secret(receiver.url), timeout=kwargs.pop("timeout", 5.0))
    return Outbox(ledger, [channel], **kwargs)


def smtp_settings(smtp: SmtpReceiver, **overrides: Any) -> AlertSettings:
    values: dict[str, Any] = {
        "email_to": ("ops@contoso.example", "backup@contoso.example"),
        "email_from": "guard@contoso.example",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_user": smtp.user,
        "smtp_password": Secret(smtp.password),
        "smtp_ca_bundle": smtp.ca_path,
        "timeout_seconds": 5.0,
    }
    values.update(overrides)
    return AlertSettings(**values)


def record_failure(ledger: Ledger, n: int = 1, *, at: float = 1) -> None:
    t = target(n)
    ledger.record(t, [finding(A, Status.PASS), finding(B, Status.PASS)], trigger=EVENT, now=T0)
    failed = Outcome(
        "role-assignment:" + A, A, "failed", "assign Reader to the vault on the cluster", "HTTP 403"
    )
    ledger.record(
        t,
        [finding(A, Status.FAIL), finding(B, Status.WARN, "firewall on, no resource-instance rule")],
        outcomes=[failed],
        trigger=EVENT,
        now=T0 + hours(at),
    )


def assert_valid_card(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    for element in card["body"]:
        assert element["type"] in CARD_ELEMENTS, element
        if element["type"] == "TextBlock":
            assert isinstance(element["text"], str) and element["text"]
        if element["type"] == "FactSet":
            assert all(set(f) == {"title", "value"} and isinstance(f["value"], str) for f in element["facts"])
    for action in card.get("actions", []):
        assert action["type"] == "Action.OpenUrl" and action["url"].startswith("https://")
    assert len(json.dumps(payload).encode()) <= 28 * 1024
    return dict(card)


def test_card_is_valid_adaptive_card_with_the_expected_facts(ledger: Ledger, teams: TeamsReceiver) -> None:
    record_failure(ledger)
    result = teams_outbox(ledger, teams).drain(now=T0 + hours(1))
    assert result.delivered == 2 and result.messages == 1  # two transitions, one card
    (payload,) = teams.received
    card = assert_valid_card(payload)
    facts = {f["title"]: f["value"] for e in card["body"] if e["type"] == "FactSet" for f in e["facts"]}
    t = target(1)
    assert facts["Cluster"] == "aks-1" and facts["Vault"] == "bv" and facts["Subscription"] == SUB
    assert facts["Trigger"] == "event evt-42"
    text = "\n".join(e["text"] for e in card["body"] if e["type"] == "TextBlock")
    assert f"**{A}**: New failure" in text and f"**{B}**: New failure" in text
    assert "Repair role.vault-reader-on-cluster" in text and "az role assignment create" in text
    assert "**Action failed:** assign Reader to the vault on the cluster (HTTP 403)" in text
    urls = [a["url"] for a in card["actions"]]
    assert urls == [
        f"https://portal.azure.com/#@/resource{t.cluster_id}",
        f"https://portal.azure.com/#@/resource{t.vault_id}",
    ]
    # delivered rows are recorded on the target's history and never sent again
    assert [h.type for h in ledger.history(t.key)].count("alert-delivered") == 2
    assert teams_outbox(ledger, teams).drain(now=T0 + hours(2)).messages == 0


def test_a_huge_batch_is_one_message_below_28_kb() -> None:
    transitions = tuple(
        Transition(
            id=f"id{i}",
            target_key="k",
            check=f"role.check-{i}",
            kind=TransitionKind.NEW_FAILURE,
            previous=Status.PASS,
            current=Status.FAIL,
            detail="x" * 1500,
            fix=finding(A, Status.FAIL).fix,
            first_seen=T0,
            last_seen=T0,
            count=1,
        )
        for i in range(60)
    )
    t = target(1)
    payloads = teams_payloads(
        [AlertGroup(t.key, t.cluster_id, t.vault_id, transitions)], portal_url="https://p"
    )
    (payload,) = payloads  # one message, whatever the size of the batch
    assert_valid_card(payload)
    assert len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()) <= MAX_TEAMS_BYTES
    texts = [e["text"] for e in assert_valid_card(payload)["body"] if e["type"] == "TextBlock"]
    shown = sum(1 for x in texts if "New failure" in x)
    assert 0 < shown < 60
    assert any(
        f"and {60 - shown} more item(s) on this cluster" in x for x in texts
    )  # nothing hidden silently


def test_a_drift_fixed_in_the_same_group_counts_as_a_change_not_as_failing() -> None:
    def step(kind: TransitionKind, previous: Status, current: Status) -> Transition:
        return Transition(
            id=f"{kind}",
            target_key="k",
            check="trusted-access.binding",
            kind=kind,
            previous=previous,
            current=current,
            detail="d",
            fix=None,
            first_seen=T0,
            last_seen=T0,
            count=1,
        )

    t = target(1)
    drift = step(TransitionKind.NEW_FAILURE, Status.PASS, Status.FAIL)
    fixed = step(TransitionKind.FIXED, Status.FAIL, Status.PASS)
    (payload,) = teams_payloads(
        [AlertGroup(t.key, t.cluster_id, t.vault_id, (fixed, drift))], portal_url="https://p"
    )
    title = assert_valid_card(payload)["body"][0]["text"]
    assert title.endswith("2 change(s), 0 failing"), title
    (still,) = teams_payloads([AlertGroup(t.key, t.cluster_id, t.vault_id, (drift,))], portal_url="https://p")
    assert assert_valid_card(still)["body"][0]["text"].endswith("1 change(s), 1 failing")


def test_email_over_smtp_starttls_has_text_and_html(ledger: Ledger, smtp: SmtpReceiver) -> None:
    before = len(smtp.messages)
    record_failure(ledger, 2)
    result = Outbox(ledger, [SmtpChannel(smtp_settings(smtp))]).drain(now=T0 + hours(1))
    assert result.delivered == 2
    message = smtp.messages[before]
    assert message["Subject"].startswith("[AKS Backup Guard] FAIL: aks-2")
    assert message["To"] == "ops@contoso.example, backup@contoso.example"
    parts = {p.get_content_type(): p.get_content() for p in message.walk() if not p.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    assert f"{A}: New failure (pass -> fail)" in parts["text/plain"]
    assert "Fix: Repair role.vault-reader-on-cluster" in parts["text/plain"]
    assert f"<b>{A}</b>" in parts["text/html"] and "<pre>az role assignment create" in parts["text/html"]
    assert smtp.logins  # authenticated, which the server only allows after STARTTLS


def test_receiver_failing_three_times_then_succeeding_delivers_once(ledger: Ledger) -> None:
    with TeamsReceiver(script=[429, 500, 503], retry_after=120) as teams:
        outbox = teams_outbox(ledger, teams, backoff_seconds=10)
        record_failure(ledger, 3)
        now = T0 + hours(1)
        first = outbox.drain(now=now)
        assert first.retried == 2 and first.delivered == 0
        row = next(iter(ledger.outbox.list_entities()))
        assert row["NextAttempt"] >= now + timedelta(
            seconds=120
        )  # Retry-After honoured over the 10 s backoff
        assert outbox.drain(now=now + timedelta(seconds=60)).messages == 0  # not due yet
        now += timedelta(seconds=121)
        assert outbox.drain(now=now).retried == 2  # 500
        now += timedelta(minutes=5)
        assert outbox.drain(now=now).retried == 2  # 503
        now += timedelta(minutes=5)
        assert outbox.drain(now=now).delivered == 2
        assert outbox.drain(now=now + hours(1)).messages == 0
        assert teams.attempts == 4 and len(teams.received) == 1


def test_receiver_always_failing_is_dead_lettered_and_recorded(ledger: Ledger) -> None:
    with TeamsReceiver(always=500) as teams:
        outbox = teams_outbox(ledger, teams, max_attempts=3, backoff_seconds=1)
        record_failure(ledger, 4)
        now = T0 + hours(1)
        results = []
        for _ in range(5):
            results.append(outbox.drain(now=now))
            now += timedelta(hours=1)
        assert [r.retried for r in results] == [2, 2, 0, 0, 0]
        assert results[2].dead == 2
        assert teams.attempts == 3
        rows = list(ledger.outbox.list_entities())
        assert {r["State"] for r in rows} == {"dead"}
        assert all(r["LastError"] == "Teams webhook on 127.0.0.1 answered HTTP 500" for r in rows)
        dead = [h for h in ledger.history(target(4).key) if h.type == "alert-dead"]
        assert len(dead) == 2 and "after 3 attempt(s)" in dead[0].summary


def test_client_timeout_is_retried(ledger: Ledger) -> None:
    with TeamsReceiver(script=["hang"], hang_seconds=2.0) as teams:
        outbox = teams_outbox(ledger, teams, timeout=0.5, backoff_seconds=1)
        record_failure(ledger, 5)
        assert outbox.drain(now=T0 + hours(1)).retried == 2
        row = next(iter(ledger.outbox.list_entities()))
        assert "timed out" in row["LastError"]
        assert outbox.drain(now=T0 + hours(2)).delivered == 2


def test_crash_between_record_and_send_delivers_exactly_once_on_next_run(
    azurite: Any, ledger: Ledger, teams: TeamsReceiver
) -> None:
    record_failure(ledger, 6)  # the worker "dies" here: recorded, never sent
    # a new process: new clients, new Ledger and Outbox objects on the same tables
    from tests.ledger.support import make_ledger

    prefix = ledger.names.current.removesuffix("Current")
    fresh = make_ledger(azurite, prefix=prefix)
    outboxes = [teams_outbox(fresh, teams), teams_outbox(make_ledger(azurite, prefix=prefix), teams)]
    barrier = threading.Barrier(2)
    results = []

    def run(o: Outbox) -> None:
        barrier.wait()
        results.append(o.drain(now=T0 + hours(1)))

    threads = [threading.Thread(target=run, args=(o,)) for o in outboxes]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(r.delivered for r in results) == 2
    assert len(teams.received) == 1  # two concurrent drainers, one card
    assert teams_outbox(fresh, teams).drain(now=T0 + hours(3)).messages == 0
    assert len(teams.received) == 1
    # delivered rows are purged after the retention period; dead rows would stay
    assert teams_outbox(fresh, teams).purge(now=T0 + hours(2)) == 0
    # (the two alert rows and the group row that carried them)
    assert teams_outbox(fresh, teams).purge(now=T0 + timedelta(days=8)) == 3


def test_acs_email_send_and_operation_polling(ledger: Ledger, acs: AcsEmailReceiver) -> None:
    settings = AlertSettings(
        email_to=("ops@contoso.example",),
        email_from="DoNotReply@guard.azurecomm.example",
        acs_connection_string=Secret(acs.connection_string),
        acs_ca_bundle=acs.ca_path,
    )
    record_failure(ledger, 7)
    result = Outbox(ledger, [AcsEmailChannel(settings, poll_interval=0.05)]).drain(now=T0 + hours(1))
    assert result.delivered == 2
    (sent,) = acs.sent
    assert sent["senderAddress"] == "DoNotReply@guard.azurecomm.example"
    assert sent["recipients"]["to"] == [{"address": "ops@contoso.example"}]
    assert sent["content"]["subject"].startswith("[AKS Backup Guard] FAIL: aks-7")
    assert A in sent["content"]["plainText"] and "<html>" in sent["content"]["html"]
    assert acs.auth_failures == 0
    methods = [(m, p.split("/")[1], scheme) for m, p, scheme in acs.requests]
    assert methods[0] == ("POST", "emails:send", "HMAC-SHA256")
    assert methods.count(("GET", "emails", "HMAC-SHA256")) >= 2  # Running, then Succeeded


def test_acs_failed_operation_is_retried(ledger: Ledger, ca: Any) -> None:
    with AcsEmailReceiver(ca=ca, fail_operations=True) as acs:
        settings = AlertSettings(
            email_to=("ops@contoso.example",),
            email_from="guard@contoso.example",
            acs_connection_string=Secret(acs.connection_string),
            acs_ca_bundle=acs.ca_path,
        )
        record_failure(ledger, 8)
        result = Outbox(ledger, [AcsEmailChannel(settings, poll_interval=0.05)]).drain(now=T0 + hours(1))
        assert result.retried == 2
        row = next(iter(ledger.outbox.list_entities()))
        assert row["LastError"].startswith("ACS email")


def test_partial_channel_failure_does_not_repeat_the_successful_channel(
    ledger: Ledger, smtp: SmtpReceiver
) -> None:
    with TeamsReceiver() as teams:
        bad_email = SmtpChannel(smtp_settings(smtp, smtp_password=Secret("wrong-password")))
        outbox = Outbox(ledger, [TeamsChannel(Secret(teams.url)), bad_email], backoff_seconds=1)
        record_failure(ledger, 9)
        assert outbox.drain(now=T0 + hours(1)).retried == 2
        before = len(smtp.messages)
        good = Outbox(ledger, [TeamsChannel(Secret(teams.url)), SmtpChannel(smtp_settings(smtp))])
        assert good.drain(now=T0 + hours(2)).delivered == 2
        assert len(teams.received) == 1 and len(smtp.messages) == before + 1


def test_min_severity_and_renotify(azurite: Any, teams: TeamsReceiver) -> None:
    from tests.ledger.support import make_ledger

    strict = make_ledger(azurite, min_severity="fail", renotify_hours=24)
    t = target(10)
    strict.record(t, [finding(B, Status.WARN)], trigger=EVENT, now=T0)  # warn: below "fail"
    strict.record(t, [finding(B, Status.WARN), finding(A, Status.FAIL)], trigger=EVENT, now=T0 + hours(1))
    outbox = teams_outbox(strict, teams)
    assert outbox.drain(now=T0 + hours(1)).delivered == 1
    strict.record(t, [finding(B, Status.WARN), finding(A, Status.FAIL)], trigger=EVENT, now=T0 + hours(12))
    assert outbox.drain(now=T0 + hours(12)).messages == 0  # persisting: no repeat inside 24 h
    r = strict.record(
        t, [finding(B, Status.WARN), finding(A, Status.FAIL)], trigger=EVENT, now=T0 + hours(26)
    )
    assert [x.kind for x in r.transitions] == [TransitionKind.STILL_FAILING] * 2
    assert r.alerts == 1  # the warn reminder is recorded but below GUARD_MIN_SEVERITY=fail
    assert outbox.drain(now=T0 + hours(26)).delivered == 1
    text = json.dumps(teams.received[-1])
    assert "Still failing (reminder)" in text and A in text


def test_digest_once_per_scan_and_only_when_something_changed(ledger: Ledger, teams: TeamsReceiver) -> None:
    targets = [target(n) for n in range(20, 25)]
    with ledger.scan("scan-1", now=T0) as scan:
        for n, t in enumerate(targets):
            scan.record(t, [finding(A, Status.FAIL if n < 2 else Status.PASS)])
    with ledger.scan("scan-2", now=T0 + hours(1)) as scan:
        for n, t in enumerate(targets):
            scan.record(t, [finding(A, Status.FAIL if n < 2 else Status.PASS)])
    assert enqueue_digest(ledger, "scan-2", now=T0 + hours(1)) is False  # nothing changed
    assert enqueue_digest(ledger, "scan-1", now=T0 + hours(1)) is True
    assert enqueue_digest(ledger, "scan-1", now=T0 + hours(1)) is True  # idempotent
    outbox = teams_outbox(ledger, teams)
    result = outbox.drain(now=T0 + hours(1))
    assert result.messages == 1  # the digest only: a scan's transitions reach people through it
    digests = [p for p in teams.received if "scan digest" in json.dumps(p)]
    assert len(digests) == 1 == len(teams.received)
    card = assert_valid_card(digests[0])
    facts = {f["title"]: f["value"] for e in card["body"] if e["type"] == "FactSet" for f in e["facts"]}
    assert facts["Scan"] == "scan-1" and facts["Targets changed"] == "2" and facts["New failure"] == "2"
    assert outbox.drain(now=T0 + hours(2)).messages == 0


class _BrokenLibraryChannel:
    """A channel whose client library fails in a way no channel anticipated (e.g. IncompleteRead)."""

    name = "broken"

    def __init__(self) -> None:
        self.calls = 0

    def send(self, message: Any) -> None:
        import http.client

        self.calls += 1
        if self.calls == 1:
            raise http.client.IncompleteRead(b"partial", 10)


def test_an_unexpected_channel_error_is_retried_not_fatal_to_the_drain(ledger: Ledger) -> None:
    channel = _BrokenLibraryChannel()
    outbox = Outbox(ledger, [channel], backoff_seconds=1)
    record_failure(ledger, 1)
    now = T0 + hours(1)
    first = outbox.drain(now=now)  # must not raise
    assert first.messages == 1 and first.retried >= 1 and first.delivered == 0
    row = next(iter(ledger.outbox.list_entities()))
    assert "unexpected IncompleteRead" in json.dumps(dict(row), default=str)
    assert outbox.drain(now=now + timedelta(minutes=5)).delivered == first.retried
    assert channel.calls == 2


def test_digest_card_carries_the_backup_health_line(ledger: Ledger, teams: TeamsReceiver) -> None:
    """The Teams digest card shows the same backup health line as the text/HTML heading, as a fact."""
    jobs = "backup.recent-jobs"
    healthy, failing = target(30), target(31)
    with ledger.scan("scan-b", now=T0) as scan:
        scan.record(healthy, [finding(A, Status.PASS), finding(jobs, Status.PASS)])
        scan.record(failing, [finding(A, Status.FAIL), finding(jobs, Status.FAIL)])
    assert enqueue_digest(ledger, "scan-b", now=T0) is True
    assert teams_outbox(ledger, teams).drain(now=T0).delivered == 1
    card = assert_valid_card(teams.received[-1])
    facts = {f["title"]: f["value"] for e in card["body"] if e["type"] == "FactSet" for f in e["facts"]}
    assert facts["Backups"].startswith("2 backup instances: 1 backing up, 1 failing"), facts
