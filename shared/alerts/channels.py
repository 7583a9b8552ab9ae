"""What every alert channel is: a name, and ``send(message)`` that raises :class:`DeliveryError`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from shared.ledger.transitions import Transition


@dataclass(frozen=True)
class AlertRecord:
    """One outbox row as machine-readable facts: the transition and its correlation ids. Channels
    that publish one event per transition (Event Grid) use these instead of the rendered text."""

    transition: Transition
    target_key: str
    cluster_id: str
    vault_id: str
    batch: str = ""
    trigger_kind: str = ""
    trigger_id: str = ""
    trigger_detail: str = ""
    scan_id: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class Message:
    """One alert, rendered for every channel: Teams payloads, and an email subject/text/HTML.
    ``alerts`` holds the transitions behind it, one per outbox row (empty for a digest)."""

    subject: str
    text: str
    html: str
    teams: list[dict[str, object]] = field(default_factory=list)
    alerts: tuple[AlertRecord, ...] = ()


class DeliveryError(Exception):
    """A channel could not deliver. ``reason`` is safe to log and record (never a URL or secret);
    ``retry_after`` is the server's Retry-After in seconds; ``permanent`` means retrying cannot help."""

    def __init__(self, reason: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> None: ...
