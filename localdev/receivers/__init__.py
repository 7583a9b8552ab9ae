"""Real local peers for alert delivery: a Teams Workflows webhook receiver, an SMTP server with
STARTTLS (aiosmtpd) and an Azure Communication Services Email REST endpoint. Used by the tests
and the demo; each runs on 127.0.0.1 on a free port and is stopped by ``stop()`` / ``with``."""
