"""Alerts: rendering (card, text, HTML), channels (Teams Workflows webhook, SMTP, ACS Email),
the durable outbox drain and the per-scan digest. See each module's docstring."""
