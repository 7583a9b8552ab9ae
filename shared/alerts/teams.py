"""Teams channel: POST Adaptive Card messages to a Workflows "When a Teams webhook request is
received" URL (``GUARD_TEAMS_WEBHOOK_URL``).

- 200 and 202 count as delivered (Workflows answers 202);
- 429 and 5xx raise a transient :class:`DeliveryError` carrying ``Retry-After``: the outbox
  reschedules the alert no earlier than that (one retry loop, the outbox's; see STYLE 8);
- other 4xx are permanent (the payload or the URL is wrong): dead-lettered at once;
- timeouts and connection errors are transient.

The URL is a secret (its query carries the signature): it is only revealed to ``urllib`` and
never logged or put into an error; logs name the host only. The standard library's ``urllib``
is used because it logs nothing by itself.
"""

from __future__ import annotations

import json
import logging
import ssl
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from shared.alerts.channels import DeliveryError, Message
from shared.settings import Secret

logger = logging.getLogger(__name__)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class TeamsChannel:
    name = "teams"

    def __init__(self, webhook_url: Secret, *, timeout: float = 15.0, ca_bundle: str | None = None) -> None:
        self._url = webhook_url
        self.host = urlsplit(webhook_url.reveal()).hostname or "?"
        self.timeout = timeout
        self._ssl = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else None

    def send(self, message: Message) -> None:
        for i, payload in enumerate(message.teams, 1):
            self._post(payload, part=i, parts=len(message.teams))

    def _post(self, payload: dict[str, object], *, part: int, parts: int) -> None:
        # compact, as render.payload_size measures it against the Teams message limit
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(
            self._url.reveal(), data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._ssl) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            exc.close()
            if status == 429 or status >= 500 or status == 408:
                raise DeliveryError(
                    f"Teams webhook on {self.host} answered HTTP {status}", retry_after=retry_after
                ) from None
            raise DeliveryError(
                f"Teams webhook on {self.host} answered HTTP {status}", permanent=True
            ) from None
        except TimeoutError:
            raise DeliveryError(f"Teams webhook on {self.host} timed out after {self.timeout:g}s") from None
        except (urllib.error.URLError, OSError) as exc:
            cause = getattr(exc, "reason", exc)
            if isinstance(cause, TimeoutError):
                raise DeliveryError(
                    f"Teams webhook on {self.host} timed out after {self.timeout:g}s"
                ) from None
            reason = type(cause).__name__
            raise DeliveryError(f"Teams webhook on {self.host}: connection failed ({reason})") from None
        if status not in (200, 202):
            raise DeliveryError(
                f"Teams webhook on {self.host} answered HTTP {status}", permanent=status < 500
            )
        logger.info("teams: delivered part %s/%s to %s (HTTP %s)", part, parts, self.host, status)
