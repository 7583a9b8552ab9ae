"""The durable alert outbox and its drain.

Alert rows are written by the ledger in the same record() that commits the transitions (see
:mod:`shared.ledger.ledger`): one row per alerting transition, ``PartitionKey='alert'``,
``RowKey`` = the transition id, so a transition can never be queued twice. Digest rows
(``PartitionKey='digest'``) are written by :func:`shared.alerts.digest.enqueue_digest`.

:meth:`Outbox.drain` (run after each reconcile and on a timer):

1. rolls forward ledger journals left by dead writers (so their alerts exist);
2. reads rows that are ``pending`` and due (``NextAttempt <= now``), and ``sending`` rows whose
   lease expired (a drainer died mid-send);
3. groups alert rows by (target, ledger batch): one message per transition batch;
4. **claims** each row with a conditional update (If-Match) to ``sending`` with a lease, so two
   drainers never both send the same alert; rows are claimed in key order and a drainer that loses
   the first row of a group leaves the whole group to the winner (one card, not two halves);
5. sends to every channel the row has not yet been delivered to (``Done`` lists the channels that
   succeeded, so a Teams success is not repeated when only email failed). The message carries its
   rows as :class:`AlertRecord` s; a per-transition channel (Event Grid: one CloudEvent per
   transition, id = transition id) is handed only the rows whose ``Done`` lacks it;
6. then marks rows ``delivered`` (and writes an ``n~`` history row on the target), or reschedules
   them with exponential backoff (``GUARD_ALERT_BACKOFF_SECONDS`` * 2^(attempts-1), at least the
   server's Retry-After, at most 6 h), or after ``GUARD_ALERT_MAX_ATTEMPTS`` failures / a permanent
   error marks them ``dead`` and writes a ``d~`` history row (the dead-letter record).

With no channel configured, drain leaves rows queued. :meth:`Outbox.purge` deletes delivered rows
after a retention period (a journal is rolled forward within seconds, so a purged alert can no
longer be re-created); dead rows stay as the dead-letter queue.

Delivery is exactly once for every crash before the send starts (the common case: the process
died between recording and sending) and at least once if a drainer dies after sending but before
marking the row delivered (the lease expires and the alert is sent again).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableEntity, UpdateMode

from shared.alerts import render
from shared.alerts.channels import AlertRecord, Channel, DeliveryError, Message
from shared.alerts.digest import digest_message
from shared.errors import ConfigError
from shared.ledger.ledger import OUTBOX_ALERT_PARTITION, OUTBOX_DIGEST_PARTITION, Ledger, read_json
from shared.ledger.transitions import Transition
from shared.settings import AlertSettings, Settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

logger = logging.getLogger(__name__)

_MAX_DELAY = timedelta(hours=6)


@dataclass(frozen=True)
class DrainResult:
    messages: int = 0  # messages (groups) attempted
    delivered: int = 0  # rows delivered
    retried: int = 0  # rows rescheduled
    dead: int = 0  # rows dead-lettered
    skipped: int = 0  # rows claimed by another drainer


def channels_from_settings(
    alerts: AlertSettings, *, token_credential: TokenCredential | None = None
) -> list[Channel]:
    """Teams if ``GUARD_TEAMS_WEBHOOK_URL``; email over SMTP if ``GUARD_SMTP_HOST``, else over ACS if
    ``GUARD_ACS_ENDPOINT``/``GUARD_ACS_CONNECTION_STRING``; both need ``GUARD_EMAIL_TO``; Event Grid
    if ``GUARD_EVENTGRID_TOPIC_ENDPOINT``, with ``GUARD_EVENTGRID_TOPIC_KEY`` or else an Entra token
    (``token_credential``, or the managed identity ``AZURE_CLIENT_ID`` / ``DefaultAzureCredential``)."""
    from shared.alerts.email import AcsEmailChannel, SmtpChannel
    from shared.alerts.eventgrid import EventGridChannel
    from shared.alerts.teams import TeamsChannel

    channels: list[Channel] = []
    if alerts.teams_webhook_url:
        if not alerts.teams_webhook_url.reveal().lower().startswith(("https://", "http://")):
            raise ConfigError("GUARD_TEAMS_WEBHOOK_URL must be an http(s) URL")
        channels.append(TeamsChannel(alerts.teams_webhook_url, timeout=alerts.timeout_seconds))
    if alerts.email_to:
        if alerts.smtp_host:
            channels.append(SmtpChannel(alerts))
        elif alerts.acs_endpoint or alerts.acs_connection_string:
            channels.append(AcsEmailChannel(alerts))
        else:
            raise ConfigError("GUARD_EMAIL_TO is set but neither GUARD_SMTP_HOST nor GUARD_ACS_ENDPOINT is")
    if alerts.eventgrid_topic_endpoint:
        credential: Any
        if alerts.eventgrid_topic_key:
            from azure.core.credentials import AzureKeyCredential

            credential = AzureKeyCredential(alerts.eventgrid_topic_key.reveal())
        elif token_credential is not None:
            credential = token_credential
        else:
            from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

            if alerts.eventgrid_client_id:
                credential = ManagedIdentityCredential(client_id=alerts.eventgrid_client_id)
            else:
                credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
        channels.append(
            EventGridChannel(
                alerts.eventgrid_topic_endpoint,
                credential,
                source=alerts.eventgrid_source,
                timeout=alerts.timeout_seconds,
                ca_bundle=alerts.eventgrid_ca_bundle,
                portal_url=alerts.portal_url,
            )
        )
    return channels


class Outbox:
    """Delivers outbox rows through ``channels``. Build once per process; ``drain`` is safe to run
    concurrently on several workers."""

    def __init__(
        self,
        ledger: Ledger,
        channels: Sequence[Channel],
        *,
        max_attempts: int = 8,
        backoff_seconds: float = 60.0,
        lease_seconds: float = 300.0,
        portal_url: str = "https://portal.azure.com",
    ) -> None:
        self.ledger = ledger
        self.table = ledger.outbox
        self.channels = list(channels)
        self.max_attempts = max_attempts
        self.backoff = timedelta(seconds=backoff_seconds)
        self.lease = timedelta(seconds=lease_seconds)
        self.portal_url = portal_url

    @classmethod
    def from_settings(cls, settings: Settings, ledger: Ledger) -> Outbox:
        a = settings.alerts
        token_credential = None
        if a.eventgrid_topic_endpoint and not a.eventgrid_topic_key:
            from shared.arm import build_credential

            token_credential = build_credential(settings.arm)  # the Guard's identity (or the simulator's)
        return cls(
            ledger,
            channels_from_settings(a, token_credential=token_credential),
            max_attempts=a.max_attempts,
            backoff_seconds=a.backoff_seconds,
            portal_url=a.portal_url,
        )

    # ------------------------------------------------------------------ drain

    def drain(self, *, now: datetime | None = None, recover: bool = True, limit: int = 500) -> DrainResult:
        """Deliver every due row (see the module doc). Returns counts; raises only storage errors."""
        now = now or datetime.now(UTC)
        if recover:
            self.ledger.recover_pending()
        if not self.channels:
            logger.debug("outbox: no alert channel configured; alerts stay queued")
            return DrainResult()
        rows = self._due(now, limit)
        groups: dict[tuple[str, str, str], list[TableEntity]] = {}
        for row in rows:
            if row["PartitionKey"] == OUTBOX_DIGEST_PARTITION:
                key = ("digest", row["RowKey"], "")
            else:
                key = ("alert", str(row.get("TargetKey")), str(row.get("Batch")))
            groups.setdefault(key, []).append(row)
        totals = {"messages": 0, "delivered": 0, "retried": 0, "dead": 0, "skipped": 0}
        for (kind, _, _), members in sorted(groups.items()):
            # claim in RowKey order and give the group up when its first row is taken: two
            # drainers racing for one group end with one of them owning all of it
            claimed: list[tuple[TableEntity, str]] = []
            for row in sorted(members, key=lambda r: str(r["RowKey"])):
                etag = self._claim(row, now)
                if etag is None:
                    totals["skipped"] += 1
                    if not claimed:
                        totals["skipped"] += len(members) - 1
                        break
                else:
                    claimed.append((row, etag))
            if not claimed:
                continue
            totals["messages"] += 1
            message = (
                self._digest(claimed[0][0]) if kind == "digest" else self._alert([r for r, _ in claimed])
            )
            outcome = self._deliver(claimed, message, now)
            totals[outcome] += len(claimed)
        result = DrainResult(**totals)
        if result.messages:
            logger.info(
                "outbox: %s message(s): %s row(s) delivered, %s retried, %s dead-lettered",
                result.messages,
                result.delivered,
                result.retried,
                result.dead,
            )
        return result

    def purge(self, *, now: datetime | None = None, keep: timedelta = timedelta(days=7)) -> int:
        """Delete delivered rows older than ``keep`` (their ``n~`` history rows stay). Dead rows are
        kept: they are the dead-letter queue. Returns the number of rows deleted."""
        cutoff = (now or datetime.now(UTC)) - keep
        deleted = 0
        for pk in (OUTBOX_ALERT_PARTITION, OUTBOX_DIGEST_PARTITION):
            rows = self.table.query_entities(
                "PartitionKey eq @pk and State eq 'delivered' and DeliveredAt lt @cutoff",
                parameters={"pk": pk, "cutoff": cutoff},
            )
            for row in rows:
                try:
                    self.table.delete_entity(
                        row["PartitionKey"],
                        row["RowKey"],
                        etag=row.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
                    deleted += 1
                except (ResourceModifiedError, ResourceNotFoundError):
                    pass
        return deleted

    def _due(self, now: datetime, limit: int) -> list[TableEntity]:
        rows: list[TableEntity] = []
        for pk in (OUTBOX_ALERT_PARTITION, OUTBOX_DIGEST_PARTITION):
            rows += self.table.query_entities(
                "PartitionKey eq @pk and State eq 'pending' and NextAttempt le @now",
                parameters={"pk": pk, "now": now},
            )
            rows += self.table.query_entities(
                "PartitionKey eq @pk and State eq 'sending' and LeaseUntil le @now",
                parameters={"pk": pk, "now": now},
            )
        rows.sort(key=lambda r: (r.get("At") or now, r["RowKey"]))
        return rows[:limit]

    def _claim(self, row: TableEntity, now: datetime) -> str | None:
        patch = {
            "PartitionKey": row["PartitionKey"],
            "RowKey": row["RowKey"],
            "State": "sending",
            "LeaseUntil": now + self.lease,
            "Claim": uuid.uuid4().hex,
        }
        try:
            meta = self.table.update_entity(
                patch,
                mode=UpdateMode.MERGE,
                etag=row.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return str(meta["etag"])

    def _alert(self, rows: Sequence[TableEntity]) -> Message:
        transitions = sorted(
            (Transition.from_dict(read_json(r, "Data")) for r in rows), key=lambda t: t.check
        )
        first = rows[0]
        at = first.get("At")
        alerts = tuple(
            AlertRecord(
                transition=Transition.from_dict(read_json(r, "Data")),
                target_key=str(r["TargetKey"]),
                cluster_id=str(r.get("ClusterId") or ""),
                vault_id=str(r.get("VaultId") or ""),
                batch=str(r.get("Batch") or ""),
                trigger_kind=str(r.get("TriggerKind") or ""),
                trigger_id=str(r.get("TriggerId") or ""),
                trigger_detail=str(r.get("TriggerDetail") or ""),
                scan_id=str(r.get("ScanId") or ""),
                at=r.get("At") if isinstance(r.get("At"), datetime) else None,
            )
            for r in sorted(rows, key=lambda r: str(r["RowKey"]))
        )
        group = render.AlertGroup(
            target_key=str(first["TargetKey"]),
            cluster_id=str(first["ClusterId"]),
            vault_id=str(first["VaultId"]),
            transitions=tuple(transitions),
            trigger=f"{first.get('TriggerKind')} {first.get('TriggerId')}".strip(),
            at=at.strftime("%Y-%m-%d %H:%M UTC") if isinstance(at, datetime) else "",
        )
        return Message(
            subject=render.subject(group),
            text=render.text_body([group], portal_url=self.portal_url),
            html=render.html_body([group], portal_url=self.portal_url),
            teams=render.teams_payloads(group, portal_url=self.portal_url),
            alerts=alerts,
        )

    def _digest(self, row: TableEntity) -> Message:
        return digest_message(
            str(row.get("ScanId") or ""), read_json(row, "Data") or [], portal_url=self.portal_url
        )

    def _deliver(self, claimed: list[tuple[TableEntity, str]], message: Message, now: datetime) -> str:
        done = {r.get("RowKey"): set(filter(None, str(r.get("Done") or "").split(","))) for r, _ in claimed}
        error: DeliveryError | None = None
        for channel in self.channels:
            if all(channel.name in d for d in done.values()):
                continue
            # per-transition channels (Event Grid) get only the transitions they have not yet taken
            pending = tuple(a for a in message.alerts if channel.name not in done.get(a.transition.id, set()))
            try:
                try:
                    channel.send(replace(message, alerts=pending) if message.alerts else message)
                except DeliveryError:
                    raise
                except Exception as unexpected:  # never abort the drain: retry this message later
                    # Only the type is kept: a library's message may quote a URL that holds a secret.
                    raise DeliveryError(f"{channel.name}: unexpected {type(unexpected).__name__}") from None
            except DeliveryError as exc:
                logger.warning(
                    "outbox: %s delivery failed: %s",
                    channel.name,
                    exc.reason,
                    extra={"alert_ids": [r["RowKey"] for r, _ in claimed]},
                )
                error = error or exc
                continue
            for d in done.values():
                d.add(channel.name)
        attempts = int(claimed[0][0].get("Attempts") or 0) + (1 if error else 0)
        if error is None:
            state, outcome, props = "delivered", "delivered", {"DeliveredAt": now}
        elif error.permanent or attempts >= self.max_attempts:
            state, outcome, props = "dead", "dead", {"DeadAt": now}
        else:
            delay = self.backoff * (2 ** (attempts - 1))
            if error.retry_after is not None:
                delay = max(delay, timedelta(seconds=error.retry_after))
            state, outcome, props = "pending", "retried", {"NextAttempt": now + min(delay, _MAX_DELAY)}
        for row, etag in claimed:
            patch: dict[str, Any] = {
                "PartitionKey": row["PartitionKey"],
                "RowKey": row["RowKey"],
                "State": state,
                "Attempts": attempts,
                "Done": ",".join(sorted(done[row["RowKey"]])),
                "LastError": error.reason if error else "",
                **props,
            }
            try:
                self.table.update_entity(
                    patch, mode=UpdateMode.MERGE, etag=etag, match_condition=MatchConditions.IfNotModified
                )
            except ResourceModifiedError:
                logger.warning("outbox: lost the lease on %s before marking it %s", row["RowKey"], state)
                continue
            if state in ("delivered", "dead") and row["PartitionKey"] == OUTBOX_ALERT_PARTITION:
                self._record(row, state, attempts, error, now)
        if state == "dead":
            logger.error(
                "outbox: dead-lettered %s alert row(s) after %s attempt(s): %s",
                len(claimed),
                attempts,
                error.reason if error else "",
                extra={"alert_ids": [r["RowKey"] for r, _ in claimed]},
            )
        return outcome

    def _record(
        self, row: TableEntity, state: str, attempts: int, error: DeliveryError | None, now: datetime
    ) -> None:
        prefix = "n" if state == "delivered" else "d"
        data = read_json(row, "Data") or {}
        self.ledger.add_history(
            str(row["TargetKey"]),
            f"{prefix}~{row['RowKey']}",
            {
                "Type": "alert-delivered" if state == "delivered" else "alert-dead",
                "At": now,
                "Check": str(data.get("check") or ""),
                "Summary": (
                    f"alert delivered ({', '.join(c.name for c in self.channels)})"
                    if state == "delivered"
                    else f"alert dead-lettered after {attempts} attempt(s): {error.reason if error else ''}"
                ),
                "TargetKey": str(row["TargetKey"]),
                "ClusterId": str(row.get("ClusterId") or ""),
                "VaultId": str(row.get("VaultId") or ""),
                "Batch": str(row.get("Batch") or ""),
                "TriggerKind": str(row.get("TriggerKind") or ""),
                "TriggerId": str(row.get("TriggerId") or ""),
                "ScanId": str(row.get("ScanId") or ""),
                "Attempts": attempts,
                "DataParts": 1,
                "Data0": '{"transition_id": "' + str(row["RowKey"]) + '"}',
            },
        )
