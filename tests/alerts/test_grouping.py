"""Grouping, routing, inhibition, silences and card checks, against Azurite and real receivers."""

from __future__ import annotations

import json
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from bench.alerts import SUB, T0, burst, findings, first_scan, fresh_ledger, target
from localdev.azurite import Azurite
from localdev.cards import check_cards
from localdev.receivers.smtp import SmtpReceiver
from localdev.receivers.teams import TeamsReceiver
from shared.alerts.digest import enqueue_digest
from shared.alerts.email import SmtpChannel
from shared.alerts.outbox import Outbox
from shared.alerts.render import MAX_TEAMS_BYTES, payload_size
from shared.alerts.teams import TeamsChannel
from shared.errors import ConfigError
from shared.ledger.ledger import Ledger
from shared.model import Finding, Fix, Status, Trigger
from shared.settings import Secret, Settings
from tests.alerts.test_delivery import smtp_settings

PORTAL = "https://portal.azure.com/#@/resource/subscriptions/"
DOCS = "https://learn.microsoft.com/"
HOSTILE = "[click](https://evil.example) <https://evil2.example> ![x](https://evil3.example/p.png)"


def event(n: int) -> Trigger:
    return Trigger("event", f"evt-{n}", "Microsoft.Authorization/roleAssignments/delete")


def assert_cards_clean(bodies: list[dict[str, Any]]) -> None:
    """Every card parses with zero events under the adaptivecards library, fits Teams, and links
    only to the portal or the documentation."""
    assert bodies
    for body, checked in zip(bodies, check_cards(bodies), strict=True):
        assert checked.version == "1.4" and checked.events == [], checked.events
        assert payload_size(body) <= MAX_TEAMS_BYTES
        assert all(link.startswith((PORTAL, DOCS)) for link in checked.links), checked.links


# ---------------------------------------------------------------------------- must show


def test_first_scan_of_1000_targets_half_drifting_sends_one_digest_and_no_per_target_alert(
    azurite: Azurite,
) -> None:
    outcome = first_scan(azurite, 1000, report_url="https://guard.contoso.example/report")
    assert outcome.alert_rows == 500  # every drift was recorded and queued (for per-transition channels)
    assert outcome.messages == 1 and outcome.per_target_messages == 0
    (digest,) = outcome.bodies
    text = json.dumps(digest)
    assert "scan digest" in text and "more target(s) not shown" in text
    facts = {
        f["title"]: f["value"]
        for e in digest["attachments"][0]["content"]["body"]
        if e["type"] == "FactSet"
        for f in e["facts"]
    }
    assert facts["Targets changed"] == "500"
    actions = digest["attachments"][0]["content"]["actions"]
    assert {
        "type": "Action.OpenUrl",
        "title": "Open the full report",
        "url": "https://guard.contoso.example/report",
    } in actions
    assert_cards_clean(outcome.bodies)


def test_a_burst_of_50_events_for_one_vault_within_the_wait_is_one_message(azurite: Azurite) -> None:
    outcome = burst(azurite, 50, spacing_seconds=0.5, group_wait_seconds=30)
    assert outcome.alert_rows == 50
    assert outcome.messages == 1
    text = json.dumps(outcome.bodies[0])
    assert "50 clusters" in text
    assert_cards_clean(outcome.bodies)


def test_later_changes_to_an_open_group_wait_the_group_interval(
    azurite: Azurite, teams: TeamsReceiver
) -> None:
    ledger = fresh_ledger(azurite)
    outbox = Outbox(
        ledger, [TeamsChannel(Secret(teams.url))], group_wait_seconds=30, group_interval_seconds=300
    )
    for n in range(3):
        ledger.record(target(n), findings(False), trigger=Trigger("scan", "base"), now=T0)
    ledger.record(target(0), findings(True), trigger=event(0), now=T0 + timedelta(minutes=1))
    assert outbox.drain(now=T0 + timedelta(minutes=1, seconds=29)).messages == 0  # still waiting
    assert outbox.drain(now=T0 + timedelta(minutes=1, seconds=30)).messages == 1
    ledger.record(target(1), findings(True), trigger=event(1), now=T0 + timedelta(minutes=2))
    ledger.record(target(2), findings(True), trigger=event(2), now=T0 + timedelta(minutes=3))
    assert outbox.drain(now=T0 + timedelta(minutes=4)).messages == 0  # the interval (300 s) holds them
    assert outbox.drain(now=T0 + timedelta(minutes=6, seconds=30)).messages == 1  # both, together
    assert len(teams.received) == 2 and "2 clusters" in json.dumps(teams.received[1])


def test_a_crash_between_grouping_and_sending_sends_each_group_exactly_once(
    azurite: Azurite, teams: TeamsReceiver
) -> None:
    ledger = fresh_ledger(azurite)
    for n in range(4):
        ledger.record(target(n), findings(False), trigger=Trigger("scan", "base"), now=T0)
    for n in range(4):
        ledger.record(target(n), findings(True), trigger=event(n), now=T0 + timedelta(minutes=1))
    now = T0 + timedelta(minutes=2)
    # a worker groups, then dies before it sends
    assert Outbox(ledger, [TeamsChannel(Secret(teams.url))]).form_groups(now=now) == 4
    assert teams.received == []
    # a worker that died half-way through grouping: one row marked for a group never created
    ledger.record(target(9), findings(False), trigger=Trigger("scan", "base"), now=T0)
    ledger.record(target(9), findings(True), trigger=event(9), now=T0 + timedelta(minutes=1))
    (orphan,) = [r for r in ledger.outbox.query_entities("PartitionKey eq 'alert' and State eq 'pending'")]
    ledger.outbox.update_entity(
        {
            "PartitionKey": "alert",
            "RowKey": orphan["RowKey"],
            "State": "grouped",
            "GroupId": "g-crashed-while-grouping",
            "Receiver": "default",
            "GroupKey": orphan["VaultId"],
        }
    )
    # new processes (new clients, same tables), racing
    fresh = [
        Outbox(
            Ledger(ledger.service, prefix=ledger.names.current.removesuffix("Current")),
            [TeamsChannel(Secret(teams.url))],
        )
        for _ in range(2)
    ]
    results = [o.drain(now=now) for o in fresh]
    assert sum(r.delivered for r in results) == 5
    assert fresh[0].drain(now=now + timedelta(hours=1)).messages == 0
    assert len(teams.received) == 2  # the interrupted group, and the one the repair created
    texts = [json.dumps(b) for b in teams.received]
    for n in (0, 1, 2, 3, 9):
        assert sum(f"aks-{n:04d}" in t for t in texts) == 1  # every transition, exactly once
    delivered = [h for h in ledger.history(target(9).key) if h.type == "alert-delivered"]
    assert len(delivered) == 1


# ---------------------------------------------------------------------------- routing


def routed_settings(
    azurite: Azurite, a: TeamsReceiver, b: TeamsReceiver, platform: TeamsReceiver
) -> Settings:
    table = {
        "receivers": [
            {"name": "platform", "teams_webhook_setting": "GUARD_TEAMS_WEBHOOK_URL"},
            {"name": "team-a", "teams_webhook_setting": "TEAMS_URL_TEAM_A"},
            {"name": "team-b", "teams_webhook_setting": "TEAMS_URL_TEAM_B"},
        ],
        "routes": [
            {"match": {"owner": "Team-A"}, "receiver": "team-a"},
            {"match": {"owner": ["team-b", "team-b-oncall"]}, "receiver": "team-b"},
        ],
        "default_receiver": "platform",
    }
    return Settings.from_env(
        {
            "GUARD_SUBSCRIPTIONS": SUB,
            "AzureWebJobsStorage": azurite.connection_string,
            "GUARD_TEAMS_WEBHOOK_URL": platform.url,
            "TEAMS_URL_TEAM_A": a.url,
            "TEAMS_URL_TEAM_B": b.url,
            "GUARD_ALERT_ROUTES": json.dumps(table),
            "GUARD_ALERT_GROUP_WAIT_SECONDS": "0",
        }
    )


def test_owner_tag_routing_sends_each_teams_clusters_to_its_own_receiver_only(azurite: Azurite) -> None:
    owners = {0: "team-a", 1: "TEAM-A", 2: "team-b", 3: "team-b-oncall", 4: "", 5: "team-z"}
    with TeamsReceiver() as a, TeamsReceiver() as b, TeamsReceiver() as platform:
        settings = routed_settings(azurite, a, b, platform)
        ledger = fresh_ledger(azurite)
        outbox = Outbox.from_settings(settings, ledger)
        for n, owner in owners.items():
            ledger.record(target(n), findings(False), trigger=Trigger("scan", "b"), now=T0, owner=owner)
            ledger.record(
                target(n), findings(True), trigger=event(n), now=T0 + timedelta(minutes=1), owner=owner
            )
        # and a scheduled scan: each receiver gets its own digest
        with ledger.scan("scan-1", now=T0 + timedelta(hours=1)) as session:
            for n, owner in owners.items():
                session.record(target(n), findings(False), owner=owner)
        enqueue_digest(ledger, "scan-1", receiver_for=outbox.receiver_for, now=T0 + timedelta(hours=1))
        outbox.drain(now=T0 + timedelta(hours=1))
        got = {
            name: " ".join(json.dumps(x) for x in r.received)
            for name, r in (("a", a), ("b", b), ("p", platform))
        }
        mine = {"a": (0, 1), "b": (2, 3), "p": (4, 5)}
        for name, ns in mine.items():
            for n in range(6):
                assert (f"aks-{n:04d}" in got[name]) == (n in ns), (name, n)
        for r in (a, b, platform):
            assert len(r.received) == 2  # its event group and its digest
            assert_cards_clean(r.received)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("{", "not valid JSON"),
        ('{"receivers": [], "default_receiver": "x"}', "non-empty list"),
        (
            '{"receivers": [{"name": "a", "teams_webhook_url": "https://x.example/hook?sig=s"}], '
            '"default_receiver": "a"}',
            "name the app setting",
        ),
        (
            '{"receivers": [{"name": "a", "teams_webhook_setting": "NOPE"}], "default_receiver": "a"}',
            "NOPE, which is not set",
        ),
        (
            '{"receivers": [{"name": "a", "email_to": ["x@y.example"]}], "default_receiver": "b"}',
            "default_receiver",
        ),
        (
            '{"receivers": [{"name": "a", "email_to": ["x@y.example"]}], "default_receiver": "a", '
            '"routes": [{"match": {"team": "x"}, "receiver": "a"}]}',
            "unknown key(s) team",
        ),
        (
            '{"receivers": [{"name": "a", "email_to": ["x@y.example"]}], "default_receiver": "a", '
            '"routes": [{"match": {"owner": "x"}, "receiver": "b"}]}',
            "must name one of the receivers",
        ),
    ],
)
def test_the_routing_table_is_validated_at_start_with_a_clear_error(table: str, message: str) -> None:
    env = {
        "GUARD_SUBSCRIPTIONS": SUB,
        "GUARD_ALERT_ROUTES": table,
        "GUARD_SMTP_HOST": "h",
        "GUARD_EMAIL_FROM": "g@x.example",
    }
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert "GUARD_ALERT_ROUTES" in str(info.value) and message in str(info.value)
    assert "sig=s" not in str(info.value)


# ---------------------------------------------------------------------------- inhibition


def test_a_root_cause_carries_the_checks_it_breaks_in_one_entry(
    azurite: Azurite, teams: TeamsReceiver
) -> None:
    ledger = fresh_ledger(azurite)
    vault_rows = (
        "role.vault-reader-on-cluster",
        "role.vault-reader-on-snapshot-rg",
        "role.vault-disk-operator-on-snapshot-rg",
    )
    missing = "cannot hold: backup vault bv has no managed identity (identity.type is None)"
    fix = Fix("Turn on the vault's identity", "az dataprotection backup-vault update ...", None)
    t = target(1)
    ledger.record(
        t,
        [Finding(c, Status.PASS, "holds") for c in (*vault_rows, "storage.network-access")],
        trigger=Trigger("scan", "b"),
        now=T0,
    )
    ledger.record(
        t,
        [Finding(c, Status.FAIL, missing, fix) for c in vault_rows]
        + [Finding("storage.network-access", Status.WARN, "firewall on, no resource-instance rule")],
        trigger=event(1),
        now=T0 + timedelta(minutes=1),
    )
    Outbox(ledger, [TeamsChannel(Secret(teams.url))]).drain(now=T0 + timedelta(minutes=2))
    (body,) = teams.received
    texts = [e["text"] for e in body["attachments"][0]["content"]["body"] if e["type"] == "TextBlock"]
    headings = [x for x in texts if x.startswith(("\u274c", "\u26a0"))]
    assert len(headings) == 2  # the cause and the unrelated warning: not four separate entries
    cause = next(x for x in texts if x.startswith("**Root cause: Backup vault has no managed identity"))
    assert "2 more check(s) cannot hold" in cause
    assert_cards_clean([body])


# ---------------------------------------------------------------------------- escaping


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v or "" for k, v in attrs if k in ("href", "src")]


def test_a_hostile_tag_value_never_becomes_a_link_in_a_card_or_an_email(
    azurite: Azurite, teams: TeamsReceiver, smtp: SmtpReceiver
) -> None:
    ledger = fresh_ledger(azurite)
    t = target(7)
    before = len(smtp.messages)
    detail = f"vault tag aks-backup-guard-staging-rg={HOSTILE!r} is not a resource group id"
    reason = f"ARM said: {HOSTILE} <b>bold</b>"
    fix = Fix(
        f"Fix the tag {HOSTILE}",
        f"az tag update --tags x='{HOSTILE}'",
        "https://learn.microsoft.com/azure/backup/",
    )
    from shared.model import Outcome as Out

    ledger.record(t, findings(False), trigger=Trigger("scan", "b"), now=T0)
    ledger.record(
        t,
        [Finding("role.vault-contributor-on-staging-rg", Status.FAIL, detail, fix)],
        outcomes=[Out("x", "role.vault-contributor-on-staging-rg", "failed", f"assign {HOSTILE}", reason)],
        trigger=Trigger("event", HOSTILE, HOSTILE),
        now=T0 + timedelta(minutes=1),
    )
    Outbox(ledger, [TeamsChannel(Secret(teams.url)), SmtpChannel(smtp_settings(smtp))]).drain(
        now=T0 + timedelta(minutes=2)
    )
    # a scan digest carrying the same detail
    with ledger.scan("scan-h", now=T0 + timedelta(hours=1)) as session:
        session.record(target(8), [Finding("storage.network-access", Status.FAIL, detail, fix)])
    enqueue_digest(ledger, "scan-h", now=T0 + timedelta(hours=1))
    Outbox(ledger, [TeamsChannel(Secret(teams.url)), SmtpChannel(smtp_settings(smtp))]).drain(
        now=T0 + timedelta(hours=1)
    )
    assert len(teams.received) == 2
    assert "evil.example" in json.dumps(teams.received)  # the text is shown, as text
    assert_cards_clean(teams.received)  # ... and no link to it exists
    htmls = [
        next(p.get_content() for p in m.walk() if p.get_content_type() == "text/html")
        for m in smtp.messages[before:]
    ]
    assert len(htmls) == 2  # the event alert and the digest
    for html in htmls:
        parser = _Links()
        parser.feed(html)
        assert parser.hrefs and all(h.startswith(("https://portal.azure.com/", DOCS)) for h in parser.hrefs)
        assert "<b>bold</b>" not in html and "evil.example" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in htmls[0]


# ---------------------------------------------------------------------------- silences


def test_a_silence_suppresses_sending_shows_in_history_and_re_alerts_once_when_it_ends(
    azurite: Azurite,
    teams: TeamsReceiver,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.cli import main

    ledger = fresh_ledger(azurite)
    prefix = ledger.names.current.removesuffix("Current")
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("GUARD_TABLE_PREFIX", prefix)
    monkeypatch.setenv("USER", "alice")
    t = target(3)
    ledger.record(t, findings(False), trigger=Trigger("scan", "b"), now=T0)
    assert (
        main(
            [
                "silence",
                "add",
                "--target",
                t.cluster_id.upper(),
                "--check",
                "role.vault-reader-on-cluster",
                "--for",
                "4h",
                "--reason",
                "vault migration, ticket 42",
            ]
        )
        == 0
    )
    silence_id = capsys.readouterr().out.split()[1]
    assert silence_id.startswith("sil-")
    # the silence starts now (wall clock): record the drift and drain now as well
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    outbox = Outbox(ledger, [TeamsChannel(Secret(teams.url))])
    ledger.record(t, findings(True), trigger=event(3), now=now)
    result = outbox.drain(now=now)
    assert result.silenced == 1 and teams.received == []
    assert main(["silence", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)["silences"]
    assert [s["id"] for s in listed] == [silence_id] and listed[0]["author"] == "alice"
    assert main(["drift", "--target", t.key, "--history", "--format", "json"]) == 0
    history = json.loads(capsys.readouterr().out)["history"][t.key]
    silenced = [e for e in history if e["type"] == "alert-silenced"]
    assert (
        len(silenced) == 1 and silence_id in silenced[0]["summary"] and "ticket 42" in silenced[0]["summary"]
    )
    assert any(e["type"] == "transition" and e["check"] == "role.vault-reader-on-cluster" for e in history)
    # ended by hand: the still-failing check is alerted once
    assert main(["silence", "expire", silence_id]) == 0
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert outbox.drain(now=later).delivered == 1
    assert outbox.drain(now=later + timedelta(hours=1)).messages == 0
    (card,) = teams.received
    assert "Still failing" in json.dumps(card) and "aks-0003" in json.dumps(card)
    assert_cards_clean(teams.received)


class _PerTransition:
    """A machine channel like Event Grid: takes every transition, one record each."""

    name = "machines"
    per_transition = True

    def __init__(self) -> None:
        self.records: list[str] = []

    def send(self, message: Any) -> None:
        self.records += [a.transition.id for a in message.alerts]


def test_a_scans_rows_for_machines_do_not_hold_back_what_people_are_told(
    azurite: Azurite, teams: TeamsReceiver
) -> None:
    ledger = fresh_ledger(azurite)
    machines = _PerTransition()
    outbox = Outbox(
        ledger, [TeamsChannel(Secret(teams.url)), machines], group_wait_seconds=30, group_interval_seconds=300
    )
    with ledger.scan("scan-m", now=T0) as session:
        session.record(target(0), findings(True))
        session.record(target(1), findings(False))
    assert outbox.drain(now=T0).delivered == 1  # the scan's transition, to the machine channel at once
    assert teams.received == [] and len(machines.records) == 1
    ledger.record(target(1), findings(True), trigger=event(1), now=T0 + timedelta(seconds=10))
    assert outbox.drain(now=T0 + timedelta(seconds=40)).delivered == 1  # same vault, not held back
    assert len(teams.received) == 1 and "aks-0001" in json.dumps(teams.received[0])
    assert len(machines.records) == 2
