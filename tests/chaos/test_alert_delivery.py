"""A Teams receiver failing half the time, and sometimes hanging past the client timeout, while
email works: through the alert functions, every alert is delivered eventually, email exactly once,
and Teams exactly once per message apart from requests the client had abandoned (a hung request
the receiver still accepted after the client timed out and retried: at-least-once is all HTTP
can give there, so those copies are counted and bounded by the number of hangs)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator

import pytest
import trustme

from localdev.azurite import Azurite
from localdev.host import LocalHost
from localdev.receivers.smtp import SmtpReceiver
from localdev.receivers.teams import TeamsReceiver
from shared import orchestration
from shared.model import Finding, Status, Target, Trigger
from shared.settings import Settings
from shared.workqueue import QUEUES
from tests.chaos.conftest import remember_secret

pytestmark = pytest.mark.chaos

SUB = "0b1f6471-1bf0-4dda-aec3-111111111111"
VAULT = f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-1"
CHECKS = ("role.vault-reader-on-cluster", "trusted-access.binding")


def target(n: int) -> Target:
    cluster = (
        f"/subscriptions/{SUB}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/"
    )
    cluster += f"aks-{n:03d}"
    vault = (
        f"{VAULT}-{n:03d}"  # one vault each: twelve alert groups, twelve messages through the flaky receiver
    )
    return Target(cluster, vault, "backup", f"{vault}/backupInstances/bi-{n:03d}")


@pytest.fixture
def receivers() -> Iterator[tuple[TeamsReceiver, SmtpReceiver]]:
    rng = random.Random(42)
    answers: list[int | str] = [500, 503, 429, "ok", "ok", "ok"]
    script = [rng.choice(answers) for _ in range(40)]
    for i in (3, 11, 19):
        script[i] = "hang"
    with (
        TeamsReceiver(script=script, retry_after=0, hang_seconds=1.5) as teams,
        SmtpReceiver(ca=trustme.CA()) as smtp,
    ):
        yield teams, smtp


def test_every_alert_is_delivered_once_despite_a_flaky_teams(
    azurite: Azurite, receivers: tuple[TeamsReceiver, SmtpReceiver]
) -> None:
    import function_app

    teams, smtp = receivers
    remember_secret("Teams webhook signature", teams.signature)
    remember_secret("SMTP password", smtp.password)
    env = {
        "GUARD_SUBSCRIPTIONS": SUB,
        "GUARD_ARM_ENDPOINT": "https://127.0.0.1:9",
        "GUARD_ARM_TOKEN": "unused-in-this-scenario",
        "GUARD_TABLE_PREFIX": "a" + str(int(time.time() * 1000))[-9:],
        "AzureWebJobsStorage": azurite.connection_string,
        "GUARD_TEAMS_WEBHOOK_URL": teams.url,
        "GUARD_EMAIL_TO": "ops@contoso.example",
        "GUARD_EMAIL_FROM": "guard@contoso.example",
        "GUARD_SMTP_HOST": "127.0.0.1",
        "GUARD_SMTP_PORT": str(smtp.port),
        "GUARD_SMTP_USER": smtp.user,
        "GUARD_SMTP_PASSWORD": smtp.password,
        "GUARD_SMTP_CA_BUNDLE": smtp.ca_path,
        "GUARD_ALERT_TIMEOUT_SECONDS": "1",
        "GUARD_ALERT_BACKOFF_SECONDS": "0",
        "GUARD_ALERT_MAX_ATTEMPTS": "60",
        "GUARD_ALERT_GROUP_WAIT_SECONDS": "0",
        "GUARD_ALERT_GROUP_INTERVAL_SECONDS": "0",
    }
    svc = orchestration.Services.build(Settings.from_env(env))
    assert svc.queue is not None
    for name in QUEUES:
        svc.queue.client(name).clear_messages()
    orchestration.use_services(svc)
    try:
        host = LocalHost(function_app.app, azurite.connection_string)
        trigger = Trigger("scan", "chaos-scan")
        for n in range(12):
            svc.ledger.record(target(n), [Finding(c, Status.PASS, "ok") for c in CHECKS], trigger=trigger)
        svc.outbox.drain()  # nothing to send yet (passing checks raise no alert)
        for n in range(12):
            findings = [Finding(CHECKS[0], Status.FAIL, "the vault has no Reader on the cluster")]
            findings.append(Finding(CHECKS[1], Status.PASS, "ok"))
            svc.ledger.record(target(n), findings, trigger=Trigger("event", f"evt-{n}"))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            host.run_timer("guard_alerts_timer")
            rows = [r for r in svc.ledger.outbox.list_entities() if r["PartitionKey"] in ("alert", "group")]
            if rows and all(r["State"] in ("delivered", "dead") for r in rows):
                break
            time.sleep(0.2)
        rows = [r for r in svc.ledger.outbox.list_entities() if r["PartitionKey"] in ("alert", "group")]
    finally:
        orchestration.use_services(None)
    time.sleep(2)  # let hung requests finish on the receiver's side
    assert rows and {r["State"] for r in rows} == {"delivered"}, [r["State"] for r in rows]
    alerting = {r["TargetKey"] for r in rows if r.get("TargetKey")}
    assert alerting == {target(n).key for n in range(12)}
    bodies = [json.dumps(b, sort_keys=True) for b in teams.received]
    distinct = set(bodies)
    hangs = 3
    assert teams.attempts > len(distinct)  # failures happened and were retried
    assert len(bodies) - len(distinct) <= hangs
    assert len(smtp.messages) == len(distinct), (len(smtp.messages), len(distinct))
    text = " ".join(bodies)
    assert all(f"aks-{n:03d}" in text for n in range(12))
