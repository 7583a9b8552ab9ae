"""What every alert channel is: a name, and ``send(message)`` that raises :class:`DeliveryError`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Message:
    """One alert, rendered for every channel: Teams payloads, and an email subject/text/HTML."""

    subject: str
    text: str
    html: str
    teams: list[dict[str, object]] = field(default_factory=list)


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
