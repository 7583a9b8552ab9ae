"""The durable alert outbox: grouping, routing, silences and exactly-once delivery per group.

Rows (table ``<prefix>Outbox``; see docs/alerts.md for the whole model):

- ``alert`` / transition id: one per alerting transition, written by the ledger in the same
  record() that commits it (insert-only, so a transition is never queued twice). ``Via='digest'``
  marks a scheduled scan's transition: people get it in the scan's digest, so only
  per-transition channels (Event Grid) take it from here. States: ``pending`` -> ``grouped``
  (with ``GroupId``) -> ``delivered`` / ``dead`` / ``silenced``.
- ``group`` / group id: one message to one receiver, carrying its members (the alert rows
  whose ``GroupId`` is its id). States: ``pending`` -> ``sending`` (leased) -> ``delivered`` /
  ``dead``; ``Done`` lists the channels that took it.
- ``grouplast`` / enc(receiver|group key): when that group last sent (the group interval).
- ``digest`` / enc(scan id)~receiver: a scan's digest for one receiver
  (:mod:`shared.alerts.digest`).

:meth:`Outbox.drain` (after each reconcile and on a timer):

1. rolls forward ledger journals left by dead writers, and queues the one re-alert of each
   silence that ended (:mod:`shared.alerts.silences`);
2. **repairs** grouping a crash interrupted: a ``grouped`` row whose group row is missing gets it
   created (deterministic id, insert-only); a ``grouped`` row whose group was already sent goes
   back to ``pending`` (it joins the next group);
3. **groups**: due ``pending`` rows are routed (:mod:`shared.alerts.routes`: receiver by
   subscription, resource group or owner tag) and keyed (``GUARD_ALERT_GROUP_BY``); a group is
   formed once its oldest row has waited ``group_wait`` and the receiver's last message for that
   key is ``group_interval`` old. Forming marks each member ``grouped`` with a conditional update
   (a row taken by another drainer is left to it), then inserts the group row;
4. **sends** due group and digest rows: claims the row with If-Match and a lease, renders one
   message (silenced members left out), sends it to each of the receiver's channels not yet in
   ``Done``, then marks the row and its members ``delivered`` (an ``n~`` history row per
   member), ``silenced`` (an ``s~`` row) or reschedules with exponential backoff
   (``GUARD_ALERT_BACKOFF_SECONDS`` * 2^(attempts-1), at least the server's Retry-After, at most
   6 h); after ``GUARD_ALERT_MAX_ATTEMPTS`` or a permanent error: ``dead`` (``d~`` rows).

Delivery is exactly once per group for every crash before the send starts, grouping included
(a group's membership is the rows marked with its id, and the group row is created from them),
and at least once if a drainer dies after sending but before marking the group delivered (the
lease expires and the group is sent again). With no channel configured, rows stay queued.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableEntity, UpdateMode

from shared.alerts import render
from shared.alerts.channels import AlertRecord, Channel, DeliveryError, Message
from shared.alerts.digest import digest_message
from shared.alerts.routes import DEFAULT_RECEIVER, GroupBy, Labels, RoutingTable, group_key
from shared.alerts.silences import Silence, Silences, correlation, matching
from shared.errors import ConfigError
from shared.ledger import keys
from shared.ledger.ledger import OUTBOX_ALERT_PARTITION, OUTBOX_DIGEST_PARTITION, Ledger, read_json
from shared.ledger.transitions import Transition
from shared.settings import AlertSettings, Secret, Settings

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
    silenced: int = 0  # rows not sent because of an active silence
    grouped: int = 0  # alert rows put into groups by this drain


GROUP_PARTITION = "group"
GROUP_LAST_PARTITION = "grouplast"


def receivers_from_settings(
    alerts: AlertSettings, *, token_credential: TokenCredential | None = None
) -> dict[str, list[Channel]]:
    """Each receiver's channels: the routing table's receivers (each with its own Teams webhook
    setting and email list, sharing the SMTP/ACS and Event Grid settings), or without a table one
    receiver, ``default``, from the classic settings."""
    if alerts.routes is None:
        return {DEFAULT_RECEIVER: channels_from_settings(alerts, token_credential=token_credential)}
    out: dict[str, list[Channel]] = {}
    for spec in alerts.routes.receivers:
        webhook = alerts.receiver_webhooks.get(spec.name)
        own = replace(
            alerts,
            teams_webhook_url=webhook if isinstance(webhook, Secret) else None,
            email_to=spec.email_to,
            eventgrid_topic_endpoint=alerts.eventgrid_topic_endpoint if spec.eventgrid else None,
            eventgrid_topic_key=alerts.eventgrid_topic_key if spec.eventgrid else None,
        )
        out[spec.name] = channels_from_settings(own, token_credential=token_credential)
    return out


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
    """Groups, routes and delivers outbox rows (see the module doc). Build once per process;
    ``drain`` is safe to run concurrently on several workers.

    ``receivers`` maps receiver names to channels (a plain list is the one receiver
    ``default``); ``routes`` picks the receiver of each alert (None: the first receiver).
    ``group_wait_seconds``/``group_interval_seconds`` default to 0 here (send at the next drain);
    :meth:`from_settings` uses the settings (30 s / 300 s by default).
    """

    def __init__(
        self,
        ledger: Ledger,
        receivers: Sequence[Channel] | Mapping[str, Sequence[Channel]],
        *,
        routes: RoutingTable | None = None,
        group_by: GroupBy = "vault",
        group_wait_seconds: float = 0.0,
        group_interval_seconds: float = 0.0,
        report_url: str | None = None,
        max_attempts: int = 8,
        backoff_seconds: float = 60.0,
        lease_seconds: float = 300.0,
        portal_url: str = "https://portal.azure.com",
    ) -> None:
        self.ledger = ledger
        self.table = ledger.outbox
        if isinstance(receivers, Mapping):
            self.receivers = {k: list(v) for k, v in receivers.items()}
        else:
            self.receivers = {DEFAULT_RECEIVER: list(receivers)}
        self.routes = routes
        self.group_by = group_by
        self.group_wait = timedelta(seconds=group_wait_seconds)
        self.group_interval = timedelta(seconds=group_interval_seconds)
        self.report_url = report_url
        self.max_attempts = max_attempts
        self.backoff = timedelta(seconds=backoff_seconds)
        self.lease = timedelta(seconds=lease_seconds)
        self.portal_url = portal_url
        self.silences = Silences(ledger)

    @property
    def channels(self) -> list[Channel]:
        """Every channel of every receiver."""
        return [c for chans in self.receivers.values() for c in chans]

    @classmethod
    def from_settings(cls, settings: Settings, ledger: Ledger) -> Outbox:
        a = settings.alerts
        token_credential = None
        if a.eventgrid_topic_endpoint and not a.eventgrid_topic_key:
            from shared.arm import build_credential

            token_credential = build_credential(settings.arm)  # the Guard's identity (or the simulator's)
        return cls(
            ledger,
            receivers_from_settings(a, token_credential=token_credential),
            routes=a.routes,
            group_by=a.group_by,
            group_wait_seconds=a.group_wait_seconds,
            group_interval_seconds=a.group_interval_seconds,
            report_url=a.report_url,
            max_attempts=a.max_attempts,
            backoff_seconds=a.backoff_seconds,
            portal_url=a.portal_url,
        )

    def receiver_for(self, cluster_id: str, vault_id: str, owner: str) -> str:
        """The receiver an alert about this target goes to."""
        if self.routes is None:
            return next(iter(self.receivers), DEFAULT_RECEIVER)
        return self.routes.receiver_for(Labels.of(cluster_id, vault_id, owner))

    # ------------------------------------------------------------------ drain

    def drain(self, *, now: datetime | None = None, recover: bool = True, limit: int = 500) -> DrainResult:
        """Group and deliver every due row (see the module doc). Returns counts; raises only storage
        errors."""
        now = now or datetime.now(UTC)
        if recover:
            self.ledger.recover_pending()
        if not self.channels:
            logger.debug("outbox: no alert channel configured; alerts stay queued")
            return DrainResult()
        self.silences.sweep(now=now)
        self.repair_groups()
        grouped = self.form_groups(now=now)
        result = replace(self.send_groups(now=now, limit=limit), grouped=grouped)
        if result.messages:
            logger.info(
                "outbox: %s message(s): %s row(s) delivered, %s silenced, %s retried, %s dead-lettered",
                result.messages,
                result.delivered,
                result.silenced,
                result.retried,
                result.dead,
            )
        return result

    def form_groups(self, *, now: datetime | None = None) -> int:
        """Put due pending alert rows into groups (step 3 of the module doc). Returns rows grouped."""
        now = now or datetime.now(UTC)
        rows = self.table.query_entities(
            "PartitionKey eq @pk and State eq 'pending' and NextAttempt le @now",
            parameters={"pk": OUTBOX_ALERT_PARTITION, "now": now},
        )
        # (receiver, group key, via): a scan's rows only feed per-transition channels, so they
        # form their own groups, which neither wait for nor hold back what people are sent
        buckets: dict[tuple[str, str, str], list[TableEntity]] = {}
        for row in rows:
            cluster, vault, owner = (str(row.get(k) or "") for k in ("ClusterId", "VaultId", "Owner"))
            receiver = self.receiver_for(cluster, vault, owner)
            via = str(row.get("Via") or "alert")
            if via == "digest" and not any(
                getattr(c, "per_transition", False) for c in self._channels(receiver)
            ):
                self._skip_to_digest(row)  # people get it in the scan's digest; nobody else wants it
                continue
            key = group_key(Labels.of(cluster, vault, owner), self.group_by)
            buckets.setdefault((receiver, key, via), []).append(row)
        grouped = 0
        for (receiver, key, via), members in sorted(buckets.items()):
            oldest = min((r.get("At") or now) for r in members)
            if via == "alert" and oldest + self.group_wait > now:
                continue  # the group is still collecting
            last = self._last_sent(receiver, key) if via == "alert" else None
            if last is not None and last + self.group_interval > now:
                continue  # the receiver heard about this key recently: wait for the interval
            members.sort(key=lambda r: str(r["RowKey"]))
            gid = _group_id(receiver, f"{via}:{key}", str(members[0]["RowKey"]))
            taken = 0
            for row in members:
                # a row another drainer grouped first is left to it
                if self._merge_if_unchanged(
                    row, {"State": "grouped", "GroupId": gid, "Receiver": receiver, "GroupKey": key}
                ):
                    taken += 1
            if taken:
                self._create_group(gid, receiver, key, now)
                grouped += taken
        return grouped

    def _skip_to_digest(self, row: TableEntity) -> None:
        self._merge_if_unchanged(row, {"State": "in-digest"})

    def _merge_if_unchanged(self, row: TableEntity, changes: Mapping[str, Any]) -> bool:
        """Merge ``changes`` into ``row`` unless it changed since it was read (If-Match)."""
        try:
            self.table.update_entity(
                {"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"], **changes},
                mode=UpdateMode.MERGE,
                etag=row.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    def repair_groups(self) -> int:
        """Finish what a crash interrupted (step 2 of the module doc). Returns rows repaired."""
        rows = self.table.query_entities(
            "PartitionKey eq @pk and State eq 'grouped'", parameters={"pk": OUTBOX_ALERT_PARTITION}
        )
        groups: dict[str, TableEntity | None] = {}
        repaired = 0
        for row in rows:
            gid = str(row.get("GroupId") or "")
            if gid not in groups:
                try:
                    groups[gid] = self.table.get_entity(GROUP_PARTITION, gid) if gid else None
                except ResourceNotFoundError:
                    groups[gid] = None
            group = groups[gid]
            if group is None and gid:
                stamp = row.get("At")
                at = stamp if isinstance(stamp, datetime) else datetime.now(UTC)
                self._create_group(gid, str(row.get("Receiver") or ""), str(row.get("GroupKey") or ""), at)
                groups[gid] = self.table.get_entity(GROUP_PARTITION, gid)
                repaired += 1
            elif (group is None or group.get("State") in ("delivered", "dead")) and self._merge_if_unchanged(
                row, {"State": "pending", "GroupId": ""}
            ):
                repaired += 1  # grouped after its group was sent (a racing repair): joins the next group
        return repaired

    def send_groups(self, *, now: datetime | None = None, limit: int = 500) -> DrainResult:
        """Send due group and digest rows (step 4 of the module doc)."""
        now = now or datetime.now(UTC)
        active = self.silences.active(now)
        totals = {"messages": 0, "delivered": 0, "retried": 0, "dead": 0, "skipped": 0, "silenced": 0}
        for row in self._due(now, limit):
            etag = self._claim(row, now)
            if etag is None:
                totals["skipped"] += 1
                continue
            if row["PartitionKey"] == OUTBOX_DIGEST_PARTITION:
                channels = self._channels(str(row.get("Receiver") or ""))
                message = self._digest(row)
                totals["messages"] += 1
                outcome, _ = self._deliver(row, etag, channels, message, human=True, now=now)
                totals[outcome] += 1
                continue
            members = list(
                self.table.query_entities(
                    "PartitionKey eq @pk and GroupId eq @g and State eq 'grouped'",
                    parameters={"pk": OUTBOX_ALERT_PARTITION, "g": row["RowKey"]},
                )
            )
            silenced: list[tuple[TableEntity, Silence, Transition]] = []
            sending: list[TableEntity] = []
            for m in sorted(members, key=lambda r: str(r["RowKey"])):
                t = Transition.from_dict(read_json(m, "Data"))
                hit = matching(active, m, t.check)
                if hit is not None:
                    silenced.append((m, hit, t))
                else:
                    sending.append(m)
            human = [m for m in sending if str(m.get("Via") or "alert") == "alert"]
            channels = self._channels(str(row.get("Receiver") or ""))
            if sending:
                totals["messages"] += 1
                message = self._alert(human, sending)
                member_done = {
                    str(m["RowKey"]): set(filter(None, str(m.get("Done") or "").split(","))) for m in sending
                }
                outcome, error = self._deliver(
                    row, etag, channels, message, human=bool(human), now=now, member_done=member_done
                )
            else:
                outcome, error = "delivered", None
                self._finish(
                    row, etag, "delivered", int(row.get("Attempts") or 0), None, now, row.get("Done")
                )
            totals[outcome] += len(sending)
            if outcome == "retried":  # the members show the group's retry state (drift --history, ops)
                group = self.table.get_entity(row["PartitionKey"], row["RowKey"])
                for m in sending:
                    self._set_state(
                        m,
                        "grouped",
                        {k: group.get(k) for k in ("Attempts", "LastError", "NextAttempt", "Done")},
                    )
            if outcome in ("delivered", "dead"):
                done = str(self.table.get_entity(row["PartitionKey"], row["RowKey"]).get("Done") or "")
                attempts = int(row.get("Attempts") or 0) + (1 if error else 0)
                for m in sending:
                    self._finish_member(m, outcome, attempts, error, row, now, done)
            if outcome == "delivered":
                for m, hit, t in silenced:
                    self.silences.record_suppressed(hit, m, t, now)
                    self._set_state(m, "silenced", {"SilenceId": hit.id})
                totals["silenced"] += len(silenced)
                if human:  # the group interval is about what people were told
                    self._mark_sent(str(row.get("Receiver") or ""), str(row.get("GroupKey") or ""), now)
        return DrainResult(**totals)

    def purge(self, *, now: datetime | None = None, keep: timedelta = timedelta(days=7)) -> int:
        """Delete delivered and silenced rows older than ``keep`` (their history rows stay). Dead
        rows are kept: they are the dead-letter queue. Returns the number of rows deleted."""
        cutoff = (now or datetime.now(UTC)) - keep
        deleted = 0
        for pk in (OUTBOX_ALERT_PARTITION, OUTBOX_DIGEST_PARTITION, GROUP_PARTITION):
            rows = self.table.query_entities(
                "PartitionKey eq @pk and (State eq 'delivered' or State eq 'silenced' "
                "or State eq 'in-digest') "
                "and At lt @cutoff",
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

    # ------------------------------------------------------------------ internals

    def _channels(self, receiver: str) -> list[Channel]:
        if receiver in self.receivers:
            return self.receivers[receiver]
        # the routing table changed since the row was grouped: its default receiver takes it
        default = self.routes.default_receiver if self.routes else next(iter(self.receivers), "")
        return self.receivers.get(default, [])

    def _create_group(self, gid: str, receiver: str, key: str, now: datetime) -> None:
        try:
            self.table.create_entity(
                {
                    "PartitionKey": GROUP_PARTITION,
                    "RowKey": gid,
                    "State": "pending",
                    "Attempts": 0,
                    "NextAttempt": now,
                    "At": now,
                    "Receiver": receiver,
                    "GroupKey": key,
                }
            )
        except ResourceExistsError:
            pass  # a racing drainer (or a repair) created it: same id, same members

    def _last_sent(self, receiver: str, key: str) -> datetime | None:
        try:
            row = self.table.get_entity(GROUP_LAST_PARTITION, _last_key(receiver, key))
        except ResourceNotFoundError:
            return None
        value = row.get("LastSent")
        return value if isinstance(value, datetime) else None

    def _mark_sent(self, receiver: str, key: str, now: datetime) -> None:
        self.table.upsert_entity(
            {"PartitionKey": GROUP_LAST_PARTITION, "RowKey": _last_key(receiver, key), "LastSent": now},
            mode=UpdateMode.REPLACE,
        )

    def _due(self, now: datetime, limit: int) -> list[TableEntity]:
        rows: list[TableEntity] = []
        for pk in (GROUP_PARTITION, OUTBOX_DIGEST_PARTITION):
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

    def _alert(self, human: Sequence[TableEntity], machine: Sequence[TableEntity]) -> Message:
        """One message: people's text from ``human`` rows, per-transition records from ``machine``."""
        alerts = tuple(_record_of(r) for r in machine)
        by_target: dict[str, list[TableEntity]] = {}
        for r in human:
            by_target.setdefault(str(r["TargetKey"]), []).append(r)
        groups = []
        for key, rows in by_target.items():
            first = rows[0]
            at = first.get("At")
            trigger = f"{first.get('TriggerKind')} {first.get('TriggerId')}".strip()
            groups.append(
                render.AlertGroup(
                    target_key=key,
                    cluster_id=str(first.get("ClusterId") or ""),
                    vault_id=str(first.get("VaultId") or ""),
                    transitions=tuple(
                        sorted(
                            (Transition.from_dict(read_json(r, "Data")) for r in rows), key=lambda t: t.check
                        )
                    ),
                    trigger=trigger,
                    at=at.strftime("%Y-%m-%d %H:%M UTC") if isinstance(at, datetime) else "",
                )
            )
        groups = render.worst_first(groups)
        if not groups:
            return Message(subject="", text="", html="", teams=[], alerts=alerts)
        subject = render.subject(groups[0]) if len(groups) == 1 else render.group_subject(groups)
        return Message(
            subject=subject,
            text=render.text_body(groups, portal_url=self.portal_url),
            html=render.html_body(groups, portal_url=self.portal_url),
            teams=render.teams_payloads(groups, portal_url=self.portal_url, report_url=self.report_url),
            alerts=alerts,
        )

    def _digest(self, row: TableEntity) -> Message:
        return digest_message(
            str(row.get("ScanId") or ""),
            read_json(row, "Data") or [],
            portal_url=self.portal_url,
            report_url=self.report_url,
        )

    def _deliver(
        self,
        row: TableEntity,
        etag: str,
        channels: Sequence[Channel],
        message: Message,
        *,
        human: bool,
        now: datetime,
        member_done: Mapping[str, set[str]] | None = None,
    ) -> tuple[str, DeliveryError | None]:
        done = set(filter(None, str(row.get("Done") or "").split(",")))
        member_done = member_done or {}
        error: DeliveryError | None = None
        for channel in channels:
            per_transition = bool(getattr(channel, "per_transition", False))
            if channel.name in done or (not per_transition and not human):
                continue
            to_send = message
            if per_transition and message.alerts:
                # a per-transition channel gets only the transitions it has not yet taken
                pending = tuple(
                    a for a in message.alerts if channel.name not in member_done.get(a.transition.id, ())
                )
                if not pending:
                    done.add(channel.name)
                    continue
                to_send = replace(message, alerts=pending)
            try:
                try:
                    channel.send(to_send)
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
                    extra={"outbox_row": row["RowKey"]},
                )
                error = error or exc
                continue
            done.add(channel.name)
        attempts = int(row.get("Attempts") or 0) + (1 if error else 0)
        if error is None:
            state, outcome = "delivered", "delivered"
        elif error.permanent or attempts >= self.max_attempts:
            state, outcome = "dead", "dead"
        else:
            state, outcome = "pending", "retried"
        self._finish(row, etag, state, attempts, error, now, ",".join(sorted(done)))
        if state == "dead":
            logger.error(
                "outbox: dead-lettered %s after %s attempt(s): %s",
                row["RowKey"],
                attempts,
                error.reason if error else "",
                extra={"outbox_row": row["RowKey"]},
            )
        return outcome, error

    def _finish(
        self,
        row: TableEntity,
        etag: str,
        state: str,
        attempts: int,
        error: DeliveryError | None,
        now: datetime,
        done: object,
    ) -> None:
        patch: dict[str, Any] = {
            "PartitionKey": row["PartitionKey"],
            "RowKey": row["RowKey"],
            "State": state,
            "Attempts": attempts,
            "Done": str(done or ""),
            "LastError": error.reason if error else "",
        }
        if state == "delivered":
            patch["DeliveredAt"] = now
        elif state == "dead":
            patch["DeadAt"] = now
        else:
            delay = self.backoff * (2 ** (attempts - 1))
            if error is not None and error.retry_after is not None:
                delay = max(delay, timedelta(seconds=error.retry_after))
            patch["NextAttempt"] = now + min(delay, _MAX_DELAY)
        try:
            self.table.update_entity(
                patch, mode=UpdateMode.MERGE, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        except ResourceModifiedError:
            logger.warning("outbox: lost the lease on %s before marking it %s", row["RowKey"], state)

    def _set_state(self, row: TableEntity, state: str, extra: Mapping[str, Any]) -> None:
        self.table.update_entity(
            {"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"], "State": state, **extra},
            mode=UpdateMode.MERGE,
        )

    def _finish_member(
        self,
        member: TableEntity,
        state: str,
        attempts: int,
        error: DeliveryError | None,
        group: TableEntity,
        now: datetime,
        done: str,
    ) -> None:
        extra: dict[str, Any] = {
            "Attempts": attempts,
            "LastError": error.reason if error else "",
            "Done": done,
        }
        extra["DeliveredAt" if state == "delivered" else "DeadAt"] = now
        self._set_state(member, state, extra)
        self._record(member, state, attempts, error, now, receiver=str(group.get("Receiver") or ""))

    def _record(
        self,
        row: TableEntity,
        state: str,
        attempts: int,
        error: DeliveryError | None,
        now: datetime,
        *,
        receiver: str,
    ) -> None:
        prefix = "n" if state == "delivered" else "d"
        data = read_json(row, "Data") or {}
        names = ", ".join(c.name for c in self._channels(receiver))
        self.ledger.add_history(
            str(row["TargetKey"]),
            f"{prefix}~{row['RowKey']}",
            {
                "Type": "alert-delivered" if state == "delivered" else "alert-dead",
                "At": now,
                "Check": str(data.get("check") or ""),
                "Summary": (
                    f"alert delivered to {receiver or DEFAULT_RECEIVER} ({names})"
                    if state == "delivered"
                    else f"alert dead-lettered after {attempts} attempt(s): {error.reason if error else ''}"
                ),
                **correlation(row),
                "Attempts": attempts,
                "DataParts": 1,
                "Data0": '{"transition_id": "' + str(row["RowKey"]) + '"}',
            },
        )


def _record_of(r: TableEntity) -> AlertRecord:
    return AlertRecord(
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


def _group_id(receiver: str, key: str, first_row: str) -> str:
    """Deterministic: racing drainers that see the same rows form the same group."""
    return "g-" + hashlib.sha256(f"{receiver}\n{key}\n{first_row}".encode()).hexdigest()[:32]


def _last_key(receiver: str, key: str) -> str:
    return keys.encode(f"{receiver}|{key}", max_length=500)
