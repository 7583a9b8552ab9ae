"""A real SMTP server (aiosmtpd) that requires STARTTLS and authentication, for tests and the demo.

TLS uses a certificate for 127.0.0.1 issued by a local CA (``trustme``); clients trust it through
``ca_path`` (``GUARD_SMTP_CA_BUNDLE``). Received messages are parsed into
:class:`email.message.EmailMessage` objects in :attr:`SmtpReceiver.messages`.
"""

from __future__ import annotations

import email
import email.policy
import logging
import secrets
import ssl
import tempfile
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from localdev.azurite import free_port

# aiosmtpd logs every protocol line at DEBUG (AUTH lines included): this is a peer, keep it quiet.
logging.getLogger("mail.log").setLevel(logging.ERROR)  # it also warns about its own deprecations


class _Handler:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        message = email.message_from_bytes(data, policy=email.policy.default)
        with self.receiver._lock:
            self.receiver.messages.append(message)
            self.receiver.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpReceiver:
    def __init__(
        self, *, user: str = "guard", password: str | None = None, ca: trustme.CA | None = None
    ) -> None:
        self.user = user
        self.password = password or secrets.token_urlsafe(18)
        self.ca = ca or trustme.CA()
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self._dir = tempfile.TemporaryDirectory(prefix="guard-smtp-")
        self.ca_path = str(Path(self._dir.name) / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str | None, list[str]]] = []
        self.logins: list[str] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self._controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=self._authenticate,
        )
        self._controller.start()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = data.login.decode() == self.user and data.password.decode() == self.password
        if ok:
            with self._lock:
                self.logins.append(self.user)
        return AuthResult(success=ok)

    def stop(self) -> None:
        self._controller.stop()
        self._dir.cleanup()

    def __enter__(self) -> SmtpReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
