"""Email channels: SMTP with STARTTLS (``GUARD_SMTP_*``) or Azure Communication Services Email
(``GUARD_ACS_ENDPOINT`` with a managed identity, or ``GUARD_ACS_CONNECTION_STRING``).

Both send one message with a plain-text and an HTML part to ``GUARD_EMAIL_TO`` from
``GUARD_EMAIL_FROM``. Failures raise :class:`DeliveryError` with a reason that never contains
the password, access key or connection string; the outbox does the retrying.

ACS: ``EmailClient.begin_send(...).result()`` (202 + ``Operation-Location``, then polling the
operation until ``Succeeded``/``Failed``). The SDK's own retry policy is limited to two retries so
that a throttled send returns to the outbox instead of blocking the drain. ``GUARD_ACS_CA_BUNDLE``
exists for the local ACS endpoint used in tests and the demo.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError

from shared.alerts.channels import DeliveryError, Message
from shared.errors import ConfigError
from shared.settings import AlertSettings

logger = logging.getLogger(__name__)
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)


def build_mime(message: Message, *, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    mime = EmailMessage()
    mime["Subject"] = message.subject
    mime["From"] = sender
    mime["To"] = ", ".join(recipients)
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    return mime


class SmtpChannel:
    name = "email"

    def __init__(self, settings: AlertSettings) -> None:
        if not (settings.smtp_host and settings.email_from and settings.email_to):
            raise ConfigError("SMTP email needs GUARD_SMTP_HOST, GUARD_EMAIL_FROM and GUARD_EMAIL_TO")
        self.settings = settings
        self.host: str = settings.smtp_host

    def send(self, message: Message) -> None:
        s = self.settings
        assert s.email_from is not None
        mime = build_mime(message, sender=s.email_from, recipients=s.email_to)
        try:
            with smtplib.SMTP(self.host, s.smtp_port, timeout=s.timeout_seconds) as smtp:
                smtp.ehlo()
                if s.smtp_starttls:
                    context = ssl.create_default_context(cafile=s.smtp_ca_bundle)
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if s.smtp_user and s.smtp_password:
                    smtp.login(s.smtp_user, s.smtp_password.reveal())
                refused = smtp.send_message(mime)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP {self.host}: authentication failed (code {exc.smtp_code})") from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"SMTP {self.host}: server answered {exc.smtp_code}", permanent=500 <= exc.smtp_code < 600
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.host}: {type(exc).__name__}") from None
        if refused:
            logger.warning("email: %s recipient(s) refused by %s", len(refused), self.host)
        logger.info(
            "email: sent %r via SMTP %s to %s recipient(s)", message.subject, self.host, len(s.email_to)
        )


class AcsEmailChannel:
    name = "email"

    def __init__(self, settings: AlertSettings, *, poll_interval: float = 2.0, **client_kwargs: Any) -> None:
        from azure.communication.email import EmailClient

        if not (settings.email_from and settings.email_to):
            raise ConfigError("ACS email needs GUARD_EMAIL_FROM and GUARD_EMAIL_TO")
        kwargs: dict[str, Any] = {"retry_total": 2, "connection_timeout": settings.timeout_seconds}
        if settings.acs_ca_bundle:
            kwargs["connection_verify"] = settings.acs_ca_bundle
        kwargs.update(client_kwargs)
        self.settings = settings
        self.poll_interval = poll_interval
        if settings.acs_connection_string:
            try:
                self.client = EmailClient.from_connection_string(
                    settings.acs_connection_string.reveal(), **kwargs
                )
            except (ValueError, KeyError, IndexError):
                raise ConfigError(
                    "GUARD_ACS_CONNECTION_STRING is not a valid ACS connection string"
                ) from None
        elif settings.acs_endpoint:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential(managed_identity_client_id=settings.acs_client_id)
            self.client = EmailClient(settings.acs_endpoint, credential, **kwargs)
        else:
            raise ConfigError("ACS email needs GUARD_ACS_ENDPOINT or GUARD_ACS_CONNECTION_STRING")

    def send(self, message: Message) -> None:
        s = self.settings
        body = {
            "senderAddress": s.email_from,
            "recipients": {"to": [{"address": a} for a in s.email_to]},
            "content": {"subject": message.subject, "plainText": message.text, "html": message.html},
        }
        try:
            poller = self.client.begin_send(body, polling_interval=self.poll_interval)
            result = poller.result(timeout=max(60.0, s.timeout_seconds * 4))
        except HttpResponseError as exc:
            status = exc.status_code or 0
            retry_after: float | None = None
            headers = getattr(exc.response, "headers", None) or {}
            if headers.get("Retry-After"):
                try:
                    retry_after = float(headers["Retry-After"])
                except ValueError:
                    retry_after = None
            if 200 <= status < 300:  # the send operation itself ended Failed/Canceled
                raise DeliveryError("ACS email operation failed") from None
            transient = status == 429 or status >= 500 or status == 0
            raise DeliveryError(
                f"ACS email answered HTTP {status}", retry_after=retry_after, permanent=not transient
            ) from None
        except AzureError as exc:
            raise DeliveryError(f"ACS email: {type(exc).__name__}") from None
        outcome = str((result or {}).get("status", "")).lower()
        if outcome != "succeeded":
            raise DeliveryError(f"ACS email operation ended {outcome or 'without a status'}")
        logger.info("email: sent %r via ACS (operation %s)", message.subject, (result or {}).get("id"))
