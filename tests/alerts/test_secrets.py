"""Secrets never reach logs, the ledger, or errors shown to users, across a whole alerting run."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from localdev.azurite import ACCOUNT_KEY, Azurite
from localdev.receivers.acs import AcsEmailReceiver
from localdev.receivers.smtp import SmtpReceiver
from localdev.receivers.teams import TeamsReceiver
from shared.alerts.digest import enqueue_digest
from shared.alerts.email import AcsEmailChannel
from shared.alerts.outbox import Outbox, channels_from_settings
from shared.errors import ConfigError
from shared.ledger.ledger import Ledger
from shared.model import Outcome, Status
from shared.settings import AlertSettings, Secret, Settings, StorageSettings
from shared.storage_clients import table_service_client
from tests.alerts.test_delivery import A, B
from tests.ledger.helpers import T0, finding, hours, target
from tests.ledger.support import unique_prefix


def test_no_secret_in_logs_ledger_or_errors(
    azurite: Azurite, smtp: SmtpReceiver, acs: AcsEmailReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("azure", "urllib3", "shared", "smtplib"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    with TeamsReceiver(script=[500]) as teams:
        env = {
            "GUARD_SUBSCRIPTIONS": "00000000-0000-0000-0000-0000000000a1",
            "AzureWebJobsStorage": azurite.connection_string,
            "GUARD_TABLE_PREFIX": unique_prefix(),
            "GUARD_TEAMS_WEBHOOK_URL": teams.url,
            "GUARD_EMAIL_TO": "ops@contoso.example",
            "GUARD_EMAIL_FROM": "guard@contoso.example",
            "GUARD_SMTP_HOST": "127.0.0.1",
            "GUARD_SMTP_PORT": str(smtp.port),
            "GUARD_SMTP_USER": smtp.user,
            "GUARD_SMTP_PASSWORD": smtp.password,
            "GUARD_SMTP_CA_BUNDLE": smtp.ca_path,
            "GUARD_ALERT_BACKOFF_SECONDS": "1",
        }
        settings = Settings.from_env(env)
        secrets = [teams.signature, teams.url.split("?", 1)[1], smtp.password, ACCOUNT_KEY, acs.access_key]
        assert all(s not in repr(settings) for s in secrets)

        ledger = Ledger.from_settings(settings)
        ledger.create_tables()
        outbox = Outbox.from_settings(settings, ledger)
        acs_settings = AlertSettings(
            email_to=("ops@contoso.example",),
            email_from="guard@contoso.example",
            acs_connection_string=Secret(acs.connection_string),
            acs_ca_bundle=acs.ca_path,
        )
        acs_outbox = Outbox(ledger, [AcsEmailChannel(acs_settings, poll_interval=0.05)])

        t = target(1)
        with ledger.scan("scan-secret", now=T0) as scan:
            scan.record(t, [finding(A, Status.PASS), finding(B, Status.PASS)])
        with ledger.scan("scan-secret-2", now=T0 + hours(1)) as scan:
            scan.record(
                t,
                [finding(A, Status.FAIL), finding(B, Status.UNKNOWN)],
                outcomes=[Outcome("ra", A, "failed", "assign Reader", "HTTP 403")],
            )
        assert enqueue_digest(ledger, "scan-secret-2", now=T0 + hours(1))
        first = outbox.drain(now=T0 + hours(1))  # Teams answers 500 once: retried, email sent
        assert first.retried > 0
        second = outbox.drain(now=T0 + hours(2))
        assert second.delivered > 0
        assert len(teams.received) == 1  # the digest card: a scan sends no per-target card
        ledger.record(
            t, [finding(A, Status.PASS), finding(B, Status.PASS)], trigger=scan_trigger(), now=T0 + hours(3)
        )
        assert acs_outbox.drain(now=T0 + hours(3)).delivered > 0

        # malformed secrets: the errors users see name the setting, never the value
        bad_conn = (
            "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + ACCOUNT_KEY + ";EndpointSuffix"
        )
        errors: list[str] = []
        for attempt in (
            lambda: table_service_client(
                StorageSettings(connection_string=Secret("not a connection string"))
            ),
            lambda: channels_from_settings(
                AlertSettings(teams_webhook_url=Secret("ftp://x/?sig=" + teams.signature))
            ),
            lambda: AcsEmailChannel(
                AlertSettings(
                    email_to=("a@b.c",),
                    email_from="d@e.f",
                    acs_connection_string=Secret("accesskey=" + acs.access_key),
                )
            ),
        ):
            try:
                attempt()
            except ConfigError as exc:
                errors.append(str(exc))
        assert len(errors) == 3
        try:
            table_service_client(StorageSettings(connection_string=Secret(bad_conn))).get_table_client("x")
        except ConfigError as exc:
            errors.append(str(exc))

    logged = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    assert "shared.alerts.outbox" in logged and "127.0.0.1" in logged  # the capture did see the run
    stored = "\n".join(str(dict(e)) for table in _tables(ledger) for e in table.list_entities())
    for secret in secrets:
        assert secret not in logged, "a secret reached the logs"
        assert secret not in stored, "a secret reached the ledger"
        assert all(secret not in e for e in errors), "a secret reached an error message"


def scan_trigger() -> Any:
    from shared.model import Trigger

    return Trigger("cli", "operator")


def _tables(ledger: Ledger) -> list[Any]:
    return [ledger.current, ledger.history_table, ledger.index, ledger.outbox]
