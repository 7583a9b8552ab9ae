"""Work items on Azure Storage queues: one message per target to verify, and alert-drain nudges.

Queue names are fixed (the Bicep creates them): ``guard-targets`` (the queue worker's trigger),
``guard-targets-poison`` (where the Functions host moves a message after 5 failed dequeues) and
``guard-alerts`` (a nudge to drain the alert outbox now rather than at the next timer tick).
Messages are JSON, base64-encoded as the Functions host expects by default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.model import Target, Trigger

TARGETS_QUEUE = "guard-targets"
POISON_QUEUE = TARGETS_QUEUE + "-poison"
ALERTS_QUEUE = "guard-alerts"
QUEUES = (TARGETS_QUEUE, POISON_QUEUE, ALERTS_QUEUE)
MAX_DELAY_SECONDS = 6 * 24 * 3600  # Azure's visibility timeout limit is 7 days


class MalformedMessage(ValueError):
    """A queue message that is not a work item (logged and recorded, never retried)."""


@dataclass(frozen=True)
class WorkItem:
    """Verify ``target`` because of ``trigger``; ``scan_id`` when part of a scheduled scan;
    ``pending`` when this is the re-verification of writes still propagating."""

    target: Target
    trigger: Trigger
    scan_id: str | None = None
    enqueued_at: str = ""
    pending: Mapping[str, str] = field(default_factory=dict)
    """Check id -> since when it has been pending propagation (a re-verification, shared.propagation)."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": 1,
                "target": self.target.to_dict(),
                "trigger": {"kind": self.trigger.kind, "id": self.trigger.id, "detail": self.trigger.detail},
                "scan_id": self.scan_id,
                "enqueued_at": self.enqueued_at or datetime.now(UTC).isoformat(),
                **({"pending": dict(self.pending)} if self.pending else {}),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> WorkItem:
        try:
            raw: Any = json.loads(text)
            t = raw["target"]
            trig = raw["trigger"]
            kind = t.get("kind", "backup")
            if kind not in ("backup", "prepare", "restore"):
                raise ValueError(f"unknown target kind {kind!r}")
            if trig["kind"] not in ("event", "scan", "cli", "http", "poison"):
                raise ValueError(f"unknown trigger kind {trig['kind']!r}")
            target = Target(str(t["cluster_id"]), str(t["vault_id"]), kind, t.get("backup_instance_id"))
            target.subscription_id  # noqa: B018 - validates the cluster id
            return cls(
                target=target,
                trigger=Trigger(trig["kind"], str(trig["id"]), str(trig.get("detail", ""))),
                scan_id=str(raw["scan_id"]) if raw.get("scan_id") else None,
                enqueued_at=str(raw.get("enqueued_at", "")),
                pending={str(k): str(v) for k, v in dict(raw.get("pending") or {}).items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MalformedMessage(f"not a work item: {type(exc).__name__}: {exc}") from None


class WorkQueue:
    """Sends work items and nudges. Build once per process (wraps a QueueServiceClient)."""

    def __init__(self, service: Any) -> None:
        from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy

        self._clients = {
            name: service.get_queue_client(
                name,
                message_encode_policy=TextBase64EncodePolicy(),
                message_decode_policy=TextBase64DecodePolicy(),
            )
            for name in QUEUES
        }

    def client(self, name: str) -> Any:
        return self._clients[name]

    def create(self) -> None:
        """Create the queues if missing (idempotent)."""
        from azure.core.exceptions import ResourceExistsError

        for client in self._clients.values():
            try:
                client.create_queue()
            except ResourceExistsError:
                pass

    def send(self, item: WorkItem, *, delay_seconds: float = 0) -> None:
        delay = int(min(max(delay_seconds, 0), MAX_DELAY_SECONDS))
        self._clients[TARGETS_QUEUE].send_message(item.to_json(), visibility_timeout=delay or None)

    def nudge_alerts(self) -> None:
        self._clients[ALERTS_QUEUE].send_message(json.dumps({"drain": True}))

    def pending(self) -> int:
        """Approximate number of target messages queued (visible, delayed or being processed)."""
        props = self._clients[TARGETS_QUEUE].get_queue_properties()
        return int(props.approximate_message_count or 0)
